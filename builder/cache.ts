// The build cache: cache key → the layer chain a vertex produced. The local cache's records are
// hits only while every snapshot and blob they name is still in the store; a build also consults
// the records imported with --cache-from (their layers may be fetched later), and remembers every
// record it used or made, which is what --cache-to exports.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from '../snapshotter/content.js';
import type { Digest } from '../common/oci.js';
import { layerChain, type LayerChain, type Snapshots } from '../snapshotter/snapshots.js';
import type { ExportRecord } from './remotecache/format.js';
import type { ImportedCache } from './remotecache/import.js';
import type { Store } from '../snapshotter/store.js';

export interface CacheRecord {
  chain: LayerChain;
  /** Whether the vertex added a layer on top of its rootfs input (false: history empty_layer). */
  addedLayer: boolean;
  /** When the result was first built: reused as history time so cached rebuilds are identical. */
  created: string;
}

export class BuildCache {
  constructor(private readonly store: Store, private readonly snapshots: Snapshots, private readonly content: ContentStore) {}

  private file(key: Digest): string {
    return path.join(this.store.cacheDir, `${key.slice(7)}.json`);
  }

  async get(key: Digest): Promise<CacheRecord | undefined> {
    let rec: CacheRecord;
    try {
      rec = JSON.parse(await readFile(this.file(key), 'utf8')) as CacheRecord;
    } catch {
      return undefined;
    }
    for (const l of rec.chain) {
      if (!(await this.snapshots.has(l.chainID)) || !(await this.content.has(l.blob.digest))) return undefined;
    }
    return rec;
  }

  async put(key: Digest, rec: CacheRecord): Promise<void> {
    await this.store.writeFileAtomic(this.file(key), JSON.stringify(rec));
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

  /** A record this build used without making it. */
  note(key: Digest, rec: CacheRecord): void {
    this.seen.set(key, rec);
  }

  /** The records for --cache-to: those of `keys` this build saw, or all it saw. */
  exported(keys?: readonly Digest[]): ExportRecord[] {
    return (keys ?? [...this.seen.keys()]).flatMap((key) => {
      const r = this.seen.get(key);
      return r ? [{ key, chain: r.chain, addedLayer: r.addedLayer, created: r.created }] : [];
    });
  }
}
