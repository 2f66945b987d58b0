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
import { CacheFormatError, isCacheManifest, parseCacheConfig, parseCacheManifest, parseInlineCache, type ImportedRecord } from './format.js';

export type CacheSpec = OutputSpec;

export class ImportedCache {
  private readonly records = new Map<Digest, ImportedRecord>();

  get(key: Digest): ImportedRecord | undefined {
    return this.records.get(key);
  }

  /** Earlier sources win for a key, as buildx consults them in order. */
  add(records: readonly ImportedRecord[]): void {
    for (const r of records) if (!this.records.has(r.key)) this.records.set(r.key, r);
  }
}

/** What an export or import spec names, checked before the build starts. */
export function checkCacheSpec(spec: CacheSpec, direction: 'from' | 'to'): void {
  const common = direction === 'from' ? ['strict'] : ['mode', 'ignore-error', 'image-manifest', ...COMPRESSION_ATTRS];
  if (spec.type === 'registry') {
    checkAttrs(`registry (--cache-${direction})`, spec.attrs, ['ref', ...common]);
    if (!spec.attrs.ref) throw new UsageError(`--cache-${direction} type=registry needs ref=REFERENCE`, `e.g. --cache-${direction} type=registry,ref=registry.example/app:buildcache`);
    parseReference(spec.attrs.ref);
  } else if (spec.type === 'local') {
    const dirAttr = direction === 'from' ? 'src' : 'dest';
    checkAttrs(`local (--cache-${direction})`, spec.attrs, [dirAttr, 'tag', ...common]);
    if (!spec.attrs[dirAttr]) throw new UsageError(`--cache-${direction} type=local needs ${dirAttr}=DIR`, `e.g. --cache-${direction} type=local,${dirAttr}=/tmp/buildcache`);
  } else if (spec.type === 'inline' && direction === 'to') {
    checkAttrs('inline (--cache-to)', spec.attrs, ['mode']);
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
  }
}

async function fromRegistry(parts: StoreParts, ref: string): Promise<ImportedRecord[]> {
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
  const records = isCacheManifest(manifest) ? parseCacheConfig(config, manifest, where) : parseInlineCache(parseImageConfig(config, where) as unknown as Record<string, unknown>, manifest, where);
  for (const l of manifest.layers) parts.sources.add(r.domain, r.path, l.digest);
  await parts.sources.save();
  return records;
}

async function fromDirectory(lazy: LazyBlobs, dir: string, tag: string): Promise<ImportedRecord[]> {
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
  const records = parseCacheConfig(await read(blob(manifest.config.digest)), manifest, where);
  for (const l of manifest.layers) lazy.addFile(l.digest, blob(l.digest));
  return records;
}

/** Reads every --cache-from source into one record map, one progress step each. */
export async function importCaches(parts: StoreParts, lazy: LazyBlobs, specs: readonly CacheSpec[], sink: ProgressSink): Promise<ImportedCache> {
  const cache = new ImportedCache();
  for (const spec of specs) {
    const name = spec.type === 'registry' ? spec.attrs.ref! : spec.attrs.src!;
    try {
      const records = await step(sink, `cache-from:${name}`, `importing cache manifest from ${name}`, () =>
        spec.type === 'registry' ? fromRegistry(parts, name) : fromDirectory(lazy, path.resolve(name), spec.attrs.tag ?? 'latest'),
      );
      cache.add(records);
    } catch (e) {
      if (spec.attrs.strict === 'true' || !(e instanceof TsbuildError) || e.kind !== 'user') throw e;
      sink({ type: 'warning', warning: { rule: 'CacheImport', message: `cache from ${name} not used: ${e.message}` } });
    }
  }
  return cache;
}
