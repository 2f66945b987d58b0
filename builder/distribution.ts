// What leaves the machine: an image's or a cache's layers in the compression an output asks for
// (buildx's compression=, compression-level=, force-compression=, oci-mediatypes=). Local layers are
// plain tars; each is compressed on its first way out and the compressed form kept (compressed.ts),
// so a second push or cache export compresses nothing. The config (image id) is never touched.
import { UsageError } from '../common/errors.js';
import { MediaType, type Descriptor, type Manifest } from '../common/oci.js';
import { checkAvailable, COMPRESSIONS, LEVELS, type Compression } from '../snapshotter/compression.js';
import type { LayerCompression, LayerRef } from '../snapshotter/compressed.js';
import { convertManifest, type ManifestFormat } from '../snapshotter/registry/format.js';
import type { StoreParts } from './engine.js';
import { step, type ProgressSink } from './progress.js';

export type { LayerCompression };

/** The attributes an output or cache export takes for its layers. */
export const COMPRESSION_ATTRS = ['compression', 'compression-level', 'force-compression', 'oci-mediatypes'];

export const DEFAULT_COMPRESSION: LayerCompression = { compression: 'gzip', force: false };

export interface Distribution {
  layers: LayerCompression;
  /** From oci-mediatypes=; undefined leaves it to the output's default. */
  format?: ManifestFormat;
}

function bool(what: string, name: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new UsageError(`${what}: ${name}=${v} is not valid`, `${name} takes true or false`);
}

/** Checks and reads the compression attributes; `what` names the flag in errors (e.g. "--output type=registry"). */
export function distributionAttrs(attrs: Readonly<Record<string, string>>, what: string): Distribution {
  const name = attrs.compression ?? 'gzip';
  if (name === 'estargz') throw new UsageError(`${what}: compression=estargz is not supported by tsbuild`, `use compression=${COMPRESSIONS.join('|')}`);
  if (!(COMPRESSIONS as readonly string[]).includes(name)) throw new UsageError(`${what}: compression=${name} is not valid`, `compression takes ${COMPRESSIONS.join(', ')}`);
  const compression = name as Compression;
  const out: LayerCompression = { compression, force: bool(what, 'force-compression', attrs['force-compression']) ?? false };
  const levelText = attrs['compression-level'];
  if (levelText !== undefined) {
    const range = LEVELS[compression];
    const level = /^\d+$/.test(levelText) ? Number(levelText) : NaN;
    if (!range) throw new UsageError(`${what}: compression-level=${levelText} needs a compression`, 'compression=uncompressed takes no level; use compression=gzip or zstd');
    if (!(level >= range.min && level <= range.max)) throw new UsageError(`${what}: compression-level=${levelText} is not valid for ${compression}`, `${compression} takes a level from ${range.min} to ${range.max} (default ${range.default})`);
    out.level = level;
  }
  const oci = bool(what, 'oci-mediatypes', attrs['oci-mediatypes']);
  if (oci === false && compression === 'zstd') throw new UsageError(`${what}: compression=zstd needs oci-mediatypes=true`, 'Docker media types have no zstd layer type');
  checkAvailable(compression);
  return { layers: out, ...(oci !== undefined ? { format: oci ? 'oci' : 'docker' } : {}) };
}

/** The layers' blobs as they should leave, compressing (one progress step) those that have no kept form yet. */
export async function distributableLayers(parts: StoreParts, layers: readonly LayerRef[], want: LayerCompression, progress?: ProgressSink): Promise<Descriptor[]> {
  const { compressed } = parts;
  const missing: LayerRef[] = [];
  for (const l of layers) if (!compressed.keepsAsIs(l, want) && !(await compressed.lookup(l.diffID, want.compression)) && !missing.some((m) => m.diffID === l.diffID)) missing.push(l);
  const convert = async (): Promise<Descriptor[]> => {
    const out: Descriptor[] = [];
    for (const l of layers) out.push(await compressed.distributable(l, want));
    return out;
  };
  if (missing.length === 0 || !progress) return convert();
  const what = want.compression === 'uncompressed' ? 'decompressing' : `compressing (${want.compression})`;
  return step(progress, `compress:${missing.map((m) => m.diffID.slice(7, 19)).join(',')}`, `${what} ${missing.length} layer${missing.length === 1 ? '' : 's'}`, convert);
}

/**
 * A stored manifest (or index: each platform's manifest) whose layers are as `want` says: the same
 * descriptor when every layer leaves as it is (its bytes kept, so its digest too), else a new OCI
 * manifest (or index over the new manifests) written to the content store.
 */
export async function distributableManifest(parts: StoreParts, manifest: Descriptor, want: LayerCompression, progress?: ProgressSink): Promise<Descriptor> {
  const document = await parts.content.readImageDocument(manifest.digest);
  if (document.kind === 'index') {
    const { index } = document;
    const entries: Descriptor[] = [];
    for (const m of index.manifests) {
      const out = await parts.content.has(m.digest) ? await distributableManifest(parts, m, want, progress) : m;
      entries.push(out === m ? m : { ...m, mediaType: out.mediaType, digest: out.digest, size: out.size });
    }
    if (entries.every((e, i) => e === index.manifests[i])) return manifest;
    const written = await parts.content.putBytes(JSON.stringify({ ...index, mediaType: MediaType.ociIndex, manifests: entries }));
    return { ...manifest, mediaType: MediaType.ociIndex, digest: written.digest, size: written.size };
  }
  const doc = document.manifest;
  const config = await parts.content.readImageConfig(doc.config.digest);
  const diffIDs = config.rootfs.diff_ids;
  if (diffIDs.length !== doc.layers.length) return manifest; // not ours to rewrite; pushed as it is
  const layers = await distributableLayers(parts, doc.layers.map((blob, i) => ({ blob, diffID: diffIDs[i]! })), want, progress);
  if (layers.every((l, i) => l.digest === doc.layers[i]!.digest)) return manifest;
  const out: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { ...doc.config, mediaType: MediaType.ociConfig },
    layers: layers.map((l, i) => ({ ...l, ...(doc.layers[i]!.annotations ? { annotations: doc.layers[i]!.annotations } : {}) })),
    ...(doc.annotations ? { annotations: doc.annotations } : {}),
  };
  const written = await parts.content.putBytes(JSON.stringify(out));
  return { mediaType: MediaType.ociManifest, digest: written.digest, size: written.size };
}

/** For archives: the manifest with its layers as `dist` says, in `dist.format` (default OCI), stored. */
export async function archivedManifest(parts: StoreParts, manifest: Descriptor, dist: Distribution, progress?: ProgressSink): Promise<Descriptor> {
  const out = await distributableManifest(parts, manifest, dist.layers, progress);
  const doc = await parts.content.readImageDocument(out.digest);
  if (doc.kind === 'index') {
    if (dist.format === 'docker') throw new UsageError('oci-mediatypes=false: a multi-platform archive is an OCI image index', 'leave oci-mediatypes out, or push with --format docker (a Docker manifest list)');
    return out;
  }
  const converted = convertManifest(doc.manifest, dist.format ?? 'oci');
  if (!converted) return out;
  const written = await parts.content.putBytes(JSON.stringify(converted));
  return { mediaType: converted.mediaType, digest: written.digest, size: written.size };
}
