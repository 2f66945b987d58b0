// The local build cache: cache key → the layer chain a vertex produced. A record is only a hit
// while every snapshot and blob it names is still in the store.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from '../snapshotter/content.js';
import type { Digest } from '../common/oci.js';
import type { LayerChain, Snapshots } from '../snapshotter/snapshots.js';
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
