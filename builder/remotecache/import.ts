// --cache-from: reads each source's cache manifest and config (small), never its layers: those are
// registered as lazy blobs and fetched only if a step that is not cached needs them. A missing or
// foreign source is a warning and a cold build, unless strict=true.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, UsageError } from '../../common/errors.js';
import type { Digest } from '../../common/oci.js';
import { parseImageConfig, parseImageDocument, parseIndex } from '../../common/ociparse.js';
import { formatReference, parseReference } from '../../snapshotter/reference.js';
import { RefNameAnnotation } from '../../snapshotter/images.js';
import { checkAttrs, type OutputSpec } from '../exporter.js';
import { COMPRESSION_ATTRS, distributionAttrs } from '../distribution.js';
import type { StoreParts } from '../engine.js';
import type { LazyBlobs } from '../lazyblobs.js';
import { step, type ProgressSink } from '../progress.js';
import { cacheMountKey, CacheFormatError, isCacheManifest, parseCacheConfig, parseCacheManifest, parseInlineCache, type CacheMountKey, type CacheMountLayer, type ImportedRecord, type ParsedCache } from './format.js';

export type CacheSpec = OutputSpec;

export class ImportedCache {
  private readonly records = new Map<Digest, ImportedRecord>();
  private readonly mounts = new Map<string, CacheMountLayer>();

  get(key: Digest): ImportedRecord | undefined {
    return this.records.get(key);
  }

  /** The contents of a cache mount a source carries (exported with cache-mounts=true). */
  mount(key: CacheMountKey): CacheMountLayer | undefined {
    return this.mounts.get(cacheMountKey(key));
  }

  /** Earlier sources win for a key, as buildx consults them in order. */
  add(cache: ParsedCache): void {
    for (const r of cache.records) if (!this.records.has(r.key)) this.records.set(r.key, r);
    for (const m of cache.mounts) if (!this.mounts.has(cacheMountKey(m))) this.mounts.set(cacheMountKey(m), m);
  }
}

/** What an export or import spec names, checked before the build starts. */
export function checkCacheSpec(spec: CacheSpec, direction: 'from' | 'to'): void {
  if (direction === 'to') refuseAnnotations(spec);
  const common = direction === 'from' ? ['strict'] : ['mode', 'ignore-error', 'image-manifest', 'cache-mounts', ...COMPRESSION_ATTRS];
  if (spec.type === 'registry') {
    checkAttrs('registry', spec.attrs, ['ref', ...common], `--cache-${direction}`);
    if (!spec.attrs.ref) throw new UsageError(`--cache-${direction} type=registry needs ref=REFERENCE`, `e.g. --cache-${direction} type=registry,ref=registry.example/app:buildcache`);
    parseReference(spec.attrs.ref);
  } else if (spec.type === 'local') {
    const dirAttr = direction === 'from' ? 'src' : 'dest';
    checkAttrs('local', spec.attrs, [dirAttr, 'tag', ...common], `--cache-${direction}`);
    if (!spec.attrs[dirAttr]) throw new UsageError(`--cache-${direction} type=local needs ${dirAttr}=DIR`, `e.g. --cache-${direction} type=local,${dirAttr}=/tmp/buildcache`);
  } else if (spec.type === 'inline' && direction === 'to') {
    if (spec.attrs['cache-mounts'] !== undefined) throw new UsageError('--cache-to type=inline cannot carry cache mounts', 'the image holds its own layers only; export them with --cache-to type=registry,ref=…,cache-mounts=true (or type=local)');
    checkAttrs('inline', spec.attrs, ['mode'], '--cache-to');
    if (spec.attrs.mode === 'max') throw new UsageError('--cache-to type=inline takes mode=min only', 'the image holds its own layers only; use type=registry for mode=max');
  } else {
    const supported = direction === 'from' ? 'type=registry,ref=R (a cache or an image with inline cache) and type=local,src=DIR' : 'type=registry,ref=R, type=local,dest=DIR and type=inline';
    throw new UsageError(`unsupported --cache-${direction} type "${spec.type}"`, `supported: ${supported}`);
  }
  const mode = spec.attrs.mode;
  if (mode !== undefined && mode !== 'min' && mode !== 'max') throw new UsageError(`--cache-to mode=${mode} is not min or max`);
  if (direction === 'to' && spec.type !== 'inline') {
    const what = `--cache-to type=${spec.type}`;
    distributionAttrs(spec.attrs, what);
    const im = spec.attrs['image-manifest'];
    if (im === 'false') throw new UsageError(`${what}: image-manifest=false is not supported`, "tsbuild's cache is always one OCI image manifest (docs/cache-format.md), as BuildKit's image-manifest=true; leave the attribute out or set it to true");
    if (im !== undefined && im !== 'true') throw new UsageError(`${what}: image-manifest=${im} is not valid`, 'image-manifest takes true or false');
    const cm = spec.attrs['cache-mounts'];
    if (cm !== undefined && cm !== 'true' && cm !== 'false') throw new UsageError(`${what}: cache-mounts=${cm} is not valid`, 'cache-mounts takes true or false');
  }
}

/**
 * buildx takes annotation.KEY=VALUE on image outputs only; BuildKit's cache exporters have no such
 * attribute (moby/buildkit#5794 asks for it), and buildx refuses unknown cache attributes. So do we,
 * saying where annotations go instead.
 */
function refuseAnnotations(spec: CacheSpec): void {
  // annotation.K, annotation-manifest.K, annotation-index-descriptor.K, annotation[linux/amd64].K …
  const keys = Object.keys(spec.attrs).filter((k) => /^annotation($|[.[-])/.test(k));
  if (keys.length) {
    throw new UsageError(`--cache-to type=${spec.type} does not take ${keys.join(', ')}: a cache export carries no annotations (as in buildx and BuildKit)`, 'annotate the image instead: --annotation KEY=VALUE, or annotation.KEY=VALUE on an --output of type image, registry, oci or docker');
  }
}

async function fromRegistry(parts: StoreParts, ref: string): Promise<ParsedCache> {
  const r = parseReference(ref);
  const repo = parts.registries().repository(r);
  const fetched = await repo.getManifest(r.digest ?? r.tag ?? 'latest');
  const where = `cache ${formatReference(r)}`;
  const doc = parseImageDocument(fetched.bytes, where);
  if (doc.kind === 'index') throw new CacheFormatError(where, 'an image index, not a tsbuild cache');
  const manifest = doc.manifest;
  await repo.fetchBlob(manifest.config, parts.content);
  const config = await parts.content.readBytes(manifest.config.digest);
  // A cache manifest, or an image carrying its cache inline (--cache-to type=inline).
  const cache = isCacheManifest(manifest) ? parseCacheConfig(config, manifest, where) : { records: parseInlineCache(parseImageConfig(config, where) as unknown as Record<string, unknown>, manifest, where), mounts: [] };
  for (const l of manifest.layers) parts.sources.add(r.domain, r.path, l.digest);
  await parts.sources.save();
  return cache;
}

async function fromDirectory(lazy: LazyBlobs, dir: string, tag: string): Promise<ParsedCache> {
  const where = `cache ${dir}`;
  const blob = (digest: Digest): string => path.join(dir, 'blobs', 'sha256', digest.slice(7));
  const read = (file: string): Promise<Buffer> =>
    readFile(file).catch((e: NodeJS.ErrnoException) => {
      throw new TsbuildError('TSB_CACHE_INVALID', `${where}: cannot read ${path.relative(dir, file)} (${e.code ?? e.message})`, { hint: 'export a cache there first with --cache-to type=local,dest=DIR' });
    });
  const indexFile = path.join(dir, 'index.json');
  const index = parseIndex(await read(indexFile), indexFile);
  const entry = index.manifests.find((m) => m.annotations?.[RefNameAnnotation] === tag) ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
  if (!entry) throw new TsbuildError('TSB_CACHE_INVALID', `${where}: no cache tagged ${tag}`, { hint: 'export one there first with --cache-to type=local,dest=DIR' });
  const manifest = parseCacheManifest(await read(blob(entry.digest)), where);
  const cache = parseCacheConfig(await read(blob(manifest.config.digest)), manifest, where);
  for (const l of manifest.layers) lazy.addFile(l.digest, blob(l.digest));
  return cache;
}

/** Reads every --cache-from source into one record map, one progress step each. */
export async function importCaches(parts: StoreParts, lazy: LazyBlobs, specs: readonly CacheSpec[], sink: ProgressSink): Promise<ImportedCache> {
  const cache = new ImportedCache();
  for (const spec of specs) {
    const name = spec.type === 'registry' ? spec.attrs.ref! : spec.attrs.src!;
    try {
      const parsed = await step(sink, `cache-from:${name}`, `importing cache manifest from ${name}`, () =>
        spec.type === 'registry' ? fromRegistry(parts, name) : fromDirectory(lazy, path.resolve(name), spec.attrs.tag ?? 'latest'),
      );
      cache.add(parsed);
    } catch (e) {
      if (spec.attrs.strict === 'true' || !(e instanceof TsbuildError) || e.kind !== 'user') throw e;
      sink({ type: 'warning', warning: { rule: 'CacheImport', message: `cache from ${name} not used: ${e.message}` } });
    }
  }
  return cache;
}
