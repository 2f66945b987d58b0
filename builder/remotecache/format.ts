// The exported build cache, format v1 (docs/cache-format.md): one OCI image manifest whose layers
// are the cached layer blobs and whose config lists the records, each a cache key and the chain
// of layers (indexes into the manifest's layers) the step produced. Keys are the solver's sha256
// cache keys, so any tsbuild that computes the same key reuses the record.
import { TsbuildError } from '../../common/errors.js';
import { isDigest, MediaType, type Descriptor, type Digest, type Manifest } from '../../common/oci.js';
import { parseManifest } from '../../common/ociparse.js';

export const CACHE_CONFIG_TYPE = 'application/vnd.tsbuild.cache.config.v1+json';
export const CACHE_VERSION = 1;

/** One cached step: its key and the whole chain (bottom first) of its result. */
export interface CacheEntry {
  key: Digest;
  /** Indexes into the manifest's layers. */
  layers: number[];
  addedLayer: boolean;
  created: string;
}

/** What a RUN --mount=type=cache directory is known by across builds (docs/cache-format.md). */
export interface CacheMountKey {
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  uid: number;
  gid: number;
  mode: number;
}

/** An exported cache mount (cache-mounts=true): its key and the one layer holding its contents. */
export interface CacheMountEntry extends CacheMountKey {
  /** Index into the manifest's layers. */
  layer: number;
}

export interface CacheConfig {
  /** Format version; readers refuse others. */
  tsbuildCache: number;
  /** diff IDs of the manifest's layers, in the same order. */
  diffIDs: Digest[];
  records: CacheEntry[];
  /** Cache mount contents, sorted by key; absent unless exported with cache-mounts=true. Older readers ignore it. */
  cacheMounts?: CacheMountEntry[];
}

/** A cache mount's contents as one layer, as exported and as read. */
export interface CacheMountLayer extends CacheMountKey {
  layer: { blob: Descriptor; diffID: Digest };
}

/** The canonical form of a key, for maps and sorting. */
export function cacheMountKey(k: CacheMountKey): string {
  return JSON.stringify([k.id, k.sharing, k.uid, k.gid, k.mode]);
}

/** A parsed cache: its step records and the cache mounts it carries. */
export interface ParsedCache {
  records: ImportedRecord[];
  mounts: CacheMountLayer[];
}

/** A cache as read: its records resolved to layer descriptors. */
export interface ImportedRecord {
  key: Digest;
  layers: Array<{ blob: Descriptor; diffID: Digest }>;
  addedLayer: boolean;
  created: string;
}

/** A cache that cannot be used: a warning and a cold build, unless the user asked for strictness. */
export class CacheFormatError extends TsbuildError {
  constructor(where: string, what: string) {
    super('TSB_CACHE_INVALID', `${where}: ${what}`, { hint: 'the cache ref holds something other than a tsbuild cache of this format; the next --cache-to rewrites it' });
  }
}

export function isCacheManifest(m: Manifest): boolean {
  return m.config.mediaType === CACHE_CONFIG_TYPE;
}

export function parseCacheManifest(bytes: Buffer, where: string): Manifest {
  const m = parseManifest(bytes, where);
  if (!isCacheManifest(m)) throw new CacheFormatError(where, `not a tsbuild cache (config type ${m.config.mediaType})`);
  return m;
}

export function parseCacheConfig(bytes: Buffer, manifest: Manifest, where: string): ParsedCache {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new CacheFormatError(where, 'the cache config is not JSON');
  }
  const c = doc as Partial<CacheConfig>;
  const records = cacheRecords(c, manifest, where);
  return { records, mounts: cacheMounts(c, manifest, where) };
}

const SHARING = ['shared', 'private', 'locked'];

function cacheMounts(c: Partial<CacheConfig>, manifest: Manifest, where: string): CacheMountLayer[] {
  if (c.cacheMounts === undefined) return [];
  if (!Array.isArray(c.cacheMounts)) throw new CacheFormatError(where, 'cacheMounts must be a list');
  const diffIDs = c.diffIDs!;
  return c.cacheMounts.map((m, i) => {
    const ok = typeof m === 'object' && m !== null && typeof m.id === 'string' && m.id !== '' && SHARING.includes(m.sharing) && [m.uid, m.gid, m.mode].every((n) => Number.isInteger(n) && n >= 0) && Number.isInteger(m.layer) && m.layer >= 0 && m.layer < diffIDs.length;
    if (!ok) throw new CacheFormatError(where, `cacheMounts[${i}] is malformed`);
    return { id: m.id, sharing: m.sharing, uid: m.uid, gid: m.gid, mode: m.mode, layer: { blob: manifest.layers[m.layer]!, diffID: diffIDs[m.layer]! } };
  });
}

/**
 * The inline form (--cache-to type=inline): the same records under INLINE_FIELD of a pushed image's
 * config, their layers indexing the image's own layers (diff IDs from its rootfs).
 */
export const INLINE_FIELD = 'tsbuild.cache.v1';

export function inlineCache(records: readonly ExportRecord[], image: readonly { blob: Descriptor }[]): Omit<CacheConfig, 'diffIDs'> {
  const index = new Map(image.map((l, i) => [l.blob.digest, i]));
  const entries: CacheEntry[] = [];
  for (const r of records) {
    const layers = r.chain.map((l) => index.get(l.blob.digest));
    // Only steps whose whole result is a prefix of the image can point into its layers.
    if (layers.some((n, i) => n !== i)) continue;
    entries.push({ key: r.key, layers: layers as number[], addedLayer: r.addedLayer, created: r.created });
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { tsbuildCache: CACHE_VERSION, records: entries };
}

export function parseInlineCache(config: Record<string, unknown>, manifest: Manifest, where: string): ImportedRecord[] {
  const inline = config[INLINE_FIELD] as Partial<CacheConfig> | undefined;
  if (inline === undefined || typeof inline !== 'object' || inline === null) throw new CacheFormatError(where, 'an image without inline cache (build it with --cache-to type=inline), not a tsbuild cache');
  const rootfs = config.rootfs as { diff_ids?: Digest[] } | undefined;
  return cacheRecords({ ...inline, diffIDs: rootfs?.diff_ids ?? [] }, manifest, where);
}

function cacheRecords(c: Partial<CacheConfig>, manifest: Manifest, where: string): ImportedRecord[] {
  if (c.tsbuildCache !== CACHE_VERSION) throw new CacheFormatError(where, `cache format version ${JSON.stringify(c.tsbuildCache)} is not ${CACHE_VERSION}`);
  const diffIDs = c.diffIDs;
  if (!Array.isArray(diffIDs) || diffIDs.length !== manifest.layers.length || !diffIDs.every((d) => typeof d === 'string' && isDigest(d))) {
    throw new CacheFormatError(where, 'diffIDs must list one sha256 digest per layer');
  }
  if (!Array.isArray(c.records)) throw new CacheFormatError(where, 'records must be a list');
  return c.records.map((r, i) => {
    const ok = typeof r === 'object' && r !== null && isDigest(String(r.key)) && Array.isArray(r.layers) && r.layers.every((n) => Number.isInteger(n) && n >= 0 && n < diffIDs.length) && typeof r.addedLayer === 'boolean' && typeof r.created === 'string';
    if (!ok) throw new CacheFormatError(where, `records[${i}] is malformed`);
    return { key: r.key, layers: r.layers.map((n) => ({ blob: manifest.layers[n]!, diffID: diffIDs[n]! })), addedLayer: r.addedLayer, created: r.created };
  });
}

/** A step's result as the exporter gets it from the solver. */
export interface ExportRecord {
  key: Digest;
  chain: ReadonlyArray<{ blob: Descriptor; diffID: Digest }>;
  addedLayer: boolean;
  created: string;
}

/**
 * The config and the layer list of a cache holding `records` and `mounts` (each layer once: the
 * records' layers first, then the cache mounts'). Without mounts the config has no cacheMounts
 * field, so such a cache is byte for byte what it was before cache mounts could travel.
 */
export function encodeCache(records: readonly ExportRecord[], mounts: readonly CacheMountLayer[] = []): { config: CacheConfig; layers: Descriptor[] } {
  const layers: Descriptor[] = [];
  const diffIDs: Digest[] = [];
  const index = new Map<Digest, number>();
  const at = (l: { blob: Descriptor; diffID: Digest }): number => {
    let n = index.get(l.blob.digest);
    if (n === undefined) {
      n = layers.length;
      index.set(l.blob.digest, n);
      layers.push({ mediaType: l.blob.mediaType, digest: l.blob.digest, size: l.blob.size });
      diffIDs.push(l.diffID);
    }
    return n;
  };
  const entries: CacheEntry[] = records.map((r) => ({ key: r.key, layers: r.chain.map(at), addedLayer: r.addedLayer, created: r.created }));
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const config: CacheConfig = { tsbuildCache: CACHE_VERSION, diffIDs, records: entries };
  if (mounts.length) {
    const sorted = [...mounts].sort((a, b) => (cacheMountKey(a) < cacheMountKey(b) ? -1 : 1));
    config.cacheMounts = sorted.map((m) => ({ id: m.id, sharing: m.sharing, uid: m.uid, gid: m.gid, mode: m.mode, layer: at(m.layer) }));
  }
  return { config, layers };
}

export function cacheManifest(config: Descriptor, layers: readonly Descriptor[]): Manifest {
  return { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [...layers] };
}
