// --cache-to: the build's cache records as a cache manifest (format.ts), in a registry or a local
// OCI layout directory. Blobs the destination has are not sent again; blobs another repository of
// the same registry has are mounted; a lazily imported layer is downloaded only when neither works.
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { TsbuildError } from '../../common/errors.js';
import { MediaType, sha256, type Descriptor, type Digest } from '../../common/oci.js';
import { parseIndex } from '../../common/ociparse.js';
import { RefNameAnnotation } from '../../snapshotter/images.js';
import { formatReference, parseReference } from '../../snapshotter/reference.js';
import type { Exporter, ExportContext } from '../exporter.js';
import { step } from '../progress.js';
import { checkCacheSpec, type CacheSpec } from './import.js';
import { cacheManifest, CACHE_CONFIG_TYPE, encodeCache, type CacheMountLayer, type ExportRecord } from './format.js';
import { distributableLayers, distributionAttrs, type Distribution } from '../distribution.js';

export type CacheMode = 'min' | 'max';

/** The records to export: min, the final image's steps; max, every step of every stage. */
export type RecordSource = (mode: CacheMode) => Promise<ExportRecord[]>;

/** The cache mounts to export (cache-mounts=true): those the build's RUNs use, as layers. */
export type MountSource = () => Promise<CacheMountLayer[]>;

/** What one cache export holds: step records and cache mounts, their layers as they leave. */
interface CacheContents {
  records: readonly ExportRecord[];
  mounts: readonly CacheMountLayer[];
}

function encoded({ records, mounts }: CacheContents): { configBytes: Buffer; config: Descriptor; layers: Descriptor[]; manifestBytes: Buffer } {
  const { config, layers } = encodeCache(records, mounts);
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc: Descriptor = { mediaType: CACHE_CONFIG_TYPE, digest: sha256(configBytes), size: configBytes.length };
  return { configBytes, config: configDesc, layers, manifestBytes: Buffer.from(JSON.stringify(cacheManifest(configDesc, layers))) };
}

async function toRegistry(ctx: ExportContext, ref: string, contents: CacheContents): Promise<Record<string, string>> {
  const r = parseReference(ref);
  const { parts, progress } = ctx;
  const repo = parts.registries().repository(r);
  const { configBytes, config, layers, manifestBytes } = encoded(contents);
  const id = `cache-to:${ref}`;
  const sent = { uploaded: 0, mounted: 0, exists: 0 };
  const mountBlobs = new Set(contents.mounts.map((m) => m.layer.blob.digest));
  let mountsUploaded = 0;
  await step(progress, id, `exporting cache to ${formatReference(r)}`, async () => {
    for (const d of layers) {
      const how = await repo.pushBlob(d, (start, end) => parts.content.read(d.digest, start === undefined ? {} : { start, ...(end !== undefined ? { end } : {}) }), {
        mountFrom: parts.sources.reposOn(r.domain, d.digest),
        beforeUpload: () => parts.content.ensure(d.digest),
      });
      sent[how]++;
      if (how === 'uploaded' && mountBlobs.has(d.digest)) mountsUploaded++;
      progress({ type: 'transfer', id, digest: d.digest, current: d.size, total: d.size, state: how === 'uploaded' ? 'done' : how });
      parts.sources.add(r.domain, r.path, d.digest);
    }
    // A large cache config goes up in chunks: each read is its byte range.
    await repo.pushBlob(config, (start, end) => Readable.from([start === undefined ? configBytes : configBytes.subarray(start, (end ?? configBytes.length - 1) + 1)]));
    await repo.putManifest(r.tag ?? 'latest', manifestBytes, MediaType.ociManifest);
    await parts.sources.save();
  });
  return {
    'cache.ref': ref,
    'cache.manifest': sha256(manifestBytes),
    'cache.records': String(contents.records.length),
    'cache.blobs.uploaded': String(sent.uploaded),
    'cache.blobs.mounted': String(sent.mounted),
    'cache.blobs.existing': String(sent.exists),
    ...mountsReport(contents, { 'cache.mounts.uploaded': String(mountsUploaded) }),
  };
}

/** Cache mount figures, only in a response of an export that carries mounts. */
function mountsReport(contents: CacheContents, extra: Record<string, string> = {}): Record<string, string> {
  return contents.mounts.length ? { 'cache.mounts': String(contents.mounts.length), ...extra } : {};
}

/** An OCI image layout directory holding the cache manifest under `tag`, as a CI cache action saves and restores it. */
async function toDirectory(ctx: ExportContext, dir: string, tag: string, contents: CacheContents): Promise<Record<string, string>> {
  const { configBytes, config, layers, manifestBytes } = encoded(contents);
  const blobs = path.join(dir, 'blobs', 'sha256');
  await step(ctx.progress, `cache-to:${dir}`, `exporting cache to ${dir}`, async () => {
    await mkdir(blobs, { recursive: true });
    const file = (d: Digest): string => path.join(blobs, d.slice(7));
    const exists = (d: Digest): Promise<boolean> => stat(file(d)).then(() => true, () => false);
    for (const d of layers) {
      if (await exists(d.digest)) continue;
      await ctx.parts.content.ensure(d.digest);
      await copyFile(ctx.parts.content.path(d.digest), `${file(d.digest)}.tmp`);
      await rename(`${file(d.digest)}.tmp`, file(d.digest));
    }
    const manifestDigest = sha256(manifestBytes);
    await writeFile(file(config.digest), configBytes);
    await writeFile(file(manifestDigest), manifestBytes);
    const indexFile = path.join(dir, 'index.json');
    // Other tags in the same directory stay.
    const old = await readFile(indexFile)
      .then((b) => parseIndex(b, indexFile).manifests)
      .catch(() => []);
    const manifests = [...old.filter((m) => m.annotations?.[RefNameAnnotation] !== tag), { mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifestBytes.length, annotations: { [RefNameAnnotation]: tag } }];
    await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(`${indexFile}.tmp`, JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
    await rename(`${indexFile}.tmp`, indexFile);
  });
  return { 'cache.dest': dir, 'cache.records': String(contents.records.length), ...mountsReport(contents) };
}

const DOCKER_LAYER_TYPES: Readonly<Record<string, string>> = { [MediaType.ociLayerGzip]: MediaType.dockerLayerGzip, [MediaType.ociLayer]: MediaType.dockerLayer };

/** The records' and mounts' layers as they leave: compressed (once; kept for the next export), typed as asked. */
async function distributable(ctx: ExportContext, { records, mounts }: CacheContents, dist: Distribution): Promise<CacheContents> {
  const unique = new Map<Digest, { blob: Descriptor; diffID: Digest }>();
  for (const r of records) for (const l of r.chain) unique.set(l.blob.digest, l);
  for (const m of mounts) unique.set(m.layer.blob.digest, m.layer);
  const layers = [...unique.values()];
  const out = await distributableLayers(ctx.parts, layers, dist.layers, ctx.progress);
  const docker = dist.format === 'docker';
  const mapped = new Map(layers.map((l, i) => [l.blob.digest, docker ? { ...out[i]!, mediaType: DOCKER_LAYER_TYPES[out[i]!.mediaType] ?? out[i]!.mediaType } : out[i]!]));
  const as = (l: { blob: Descriptor; diffID: Digest }): { blob: Descriptor; diffID: Digest } => ({ blob: mapped.get(l.blob.digest)!, diffID: l.diffID });
  return { records: records.map((r) => ({ ...r, chain: r.chain.map(as) })), mounts: mounts.map((m) => ({ ...m, layer: as(m.layer) })) };
}

/** One --cache-to as an exporter; with ignore-error=true a failed export is a warning. */
export function cacheExporter(spec: CacheSpec, records: RecordSource, mounts: MountSource): Exporter {
  checkCacheSpec(spec, 'to');
  const mode: CacheMode = spec.attrs.mode === 'max' ? 'max' : 'min';
  const withMounts = spec.attrs['cache-mounts'] === 'true';
  const dist = distributionAttrs(spec.attrs, `--cache-to type=${spec.type}`);
  return {
    type: `cache:${spec.type}`,
    remote: true,
    async export(_image, ctx) {
      try {
        const contents = await distributable(ctx, { records: await records(mode), mounts: withMounts ? await mounts() : [] }, dist);
        if (spec.type === 'registry') return await toRegistry(ctx, spec.attrs.ref!, contents);
        return await toDirectory(ctx, path.resolve(spec.attrs.dest!), spec.attrs.tag ?? 'latest', contents);
      } catch (e) {
        if (spec.attrs['ignore-error'] !== 'true' || !(e instanceof TsbuildError)) throw e;
        ctx.progress({ type: 'warning', warning: { rule: 'CacheExport', message: `cache not exported: ${e.message}` } });
        return {};
      }
    },
  };
}
