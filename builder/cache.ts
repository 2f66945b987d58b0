// The build cache: cache key → the layer chain a vertex produced. The local cache's records are
// hits only while every snapshot and blob they name is still in the store; a build also consults
// the records imported with --cache-from (their layers may be fetched later), and remembers every
// record it used or made, which is what --cache-to exports.
import { readFile, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from '../snapshotter/content.js';
import { isDigest, type Digest } from '../common/oci.js';
import { isSealed, layerChain, type ChainLayer, type LayerChain, type Snapshots } from '../snapshotter/snapshots.js';
import type { ImportedCache } from './remotecache/import.js';
import type { Store } from '../snapshotter/store.js';

export interface CacheRecord {
  chain: LayerChain;
  /** Whether the vertex added a layer on top of its rootfs input (false: history empty_layer). */
  addedLayer: boolean;
  /** When the result was first built: reused as history time so cached rebuilds are identical. */
  created: string;
}

/** A record file, checked: a damaged one fails here (a miss for the build, a problem for fsck). */
export function parseCacheRecord(text: string): CacheRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON');
  }
  const r = v as Partial<CacheRecord> | null;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.chain) || typeof r.addedLayer !== 'boolean' || typeof r.created !== 'string') {
    throw new Error('not a cache record (chain, addedLayer, created)');
  }
  r.chain.forEach((l: Partial<ChainLayer> | null, i) => {
    if (!layerShaped(l)) throw new Error(`layer ${i + 1} needs diffID, chainID and blob digests, or a chainID and pending`);
  });
  return r as CacheRecord;
}

/** A record's layer, or a snapshot's layer.json, checked. */
export function layerShaped(l: unknown): l is ChainLayer {
  if (typeof l !== 'object' || l === null) return false;
  const v = l as Partial<Record<'chainID' | 'diffID' | 'blob' | 'pending', unknown>>;
  if (!isDigest(String(v.chainID))) return false;
  if ('pending' in v) return typeof v.pending === 'object' && v.pending !== null;
  const blob = v.blob as { digest?: unknown } | null | undefined;
  return isDigest(String(v.diffID)) && typeof blob === 'object' && blob !== null && isDigest(String(blob.digest));
}

/** A record with its key: what this build saw, and what --cache-to exports (once sealed). */
export interface KeyedRecord extends CacheRecord {
  key: Digest;
}

/** How stale a record's last use (its mtime) may get before a build that hits it refreshes it. */
export const TOUCH_AFTER_MS = 3_600_000;

export class BuildCache {
  /** Keys of the records this process hit, and of those it made. */
  private readonly hits = new Set<Digest>();
  readonly made = new Set<Digest>();

  constructor(private readonly store: Store, private readonly snapshots: Snapshots, private readonly content: ContentStore) {}

  private file(key: Digest): string {
    return path.join(this.store.cacheDir, `${key.slice(7)}.json`);
  }

  async get(key: Digest): Promise<CacheRecord | undefined> {
    let rec: CacheRecord;
    try {
      rec = parseCacheRecord(await readFile(this.file(key), 'utf8'));
    } catch {
      return undefined;
    }
    const chain: ChainLayer[] = [];
    for (const l of rec.chain) {
      if (isSealed(l)) {
        if (!(await this.snapshots.has(l.chainID)) || !(await this.content.has(l.blob.digest))) return undefined;
        chain.push(l);
        continue;
      }
      // A pending layer is its snapshot alone (sealed since, perhaps, by a build that exported it;
      // if prune took that blob, it stays pending, and the next seal makes it again).
      const now = await this.snapshots.current(l);
      if (!now) return undefined;
      chain.push(isSealed(now) && !(await this.content.has(now.blob.digest)) ? l : now);
    }
    this.hits.add(key);
    return { ...rec, chain };
  }

  async put(key: Digest, rec: CacheRecord): Promise<void> {
    await this.store.writeFileAtomic(this.file(key), JSON.stringify(rec));
    this.made.add(key);
  }

  /**
   * Refreshes the last use (the mtime prune orders by) of the records this build hit, in one pass at
   * its end, and only of those last used more than TOUCH_AFTER_MS ago: a hit itself writes nothing, a
   * rebuild soon after a build writes nothing at all, and the LRU order is right to within that time.
   */
  async touchUsed(now = Date.now()): Promise<void> {
    for (const key of this.hits) {
      if (this.made.has(key)) continue;
      const file = this.file(key);
      const st = await stat(file).catch(() => null);
      if (st && now - st.mtimeMs > TOUCH_AFTER_MS) await utimes(file, new Date(now), new Date(now)).catch(() => {});
    }
  }
}

/** What one build sees of the cache: the local records, then the imported ones. */
export class StepCache {
  /** Every record this build built or found, by key. */
  private readonly seen = new Map<Digest, CacheRecord>();

  constructor(private readonly localCache: BuildCache, private readonly imported?: ImportedCache) {}

  /** The local record, else an imported one (whose layers may not be here yet). */
  async lookup(key: Digest): Promise<CacheRecord | undefined> {
    const local = await this.localCache.get(key);
    if (local) return local;
    const imported = this.imported?.get(key);
    return imported ? { chain: layerChain(imported.layers), addedLayer: imported.addedLayer, created: imported.created } : undefined;
  }

  /** The local record only: what another process may just have made. */
  local(key: Digest): Promise<CacheRecord | undefined> {
    return this.localCache.get(key);
  }

  async put(key: Digest, rec: CacheRecord): Promise<void> {
    await this.localCache.put(key, rec);
    this.seen.set(key, rec);
  }

  /** At the end of a build: refreshes the last use of the local records it hit; returns those it made. */
  async settle(): Promise<CacheRecord[]> {
    await this.localCache.touchUsed();
    return [...this.localCache.made].flatMap((k) => this.seen.get(k) ?? []);
  }

  /** A record this build used without making it. */
  note(key: Digest, rec: CacheRecord): void {
    this.seen.set(key, rec);
  }

  /** The records for --cache-to: those of `keys` this build saw, or all it saw. */
  exported(keys?: readonly Digest[]): KeyedRecord[] {
    return (keys ?? [...this.seen.keys()]).flatMap((key) => {
      const r = this.seen.get(key);
      return r ? [{ key, chain: r.chain, addedLayer: r.addedLayer, created: r.created }] : [];
    });
  }
}
