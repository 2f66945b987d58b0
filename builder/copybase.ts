// Incremental COPY: the last snapshot a COPY of the build context made on a given parent, and the
// content hash of every file it wrote, so that the next run of the same COPY (same op, same parent;
// only the context's content differs) hard-links the files that did not change from that snapshot
// instead of copying them again. The new snapshot is still built by the walk a cold copy makes, so
// added, changed and removed paths come out as a cold copy's; only unchanged file bodies are shared.
// One small record per COPY and parent in the cache folder: a hint, as the stat cache (prune keeps
// it, prune --all removes it; a record whose snapshot is gone is ignored).
import type { Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../common/oci.js';
import { cacheKey } from './cachekey.js';
import type { FileOp } from './graph.js';
import { keepNewest } from './hintfiles.js';
import type { StatCache } from './statcache.js';
import type { CopyReuse } from '../snapshotter/fileop.js';
import type { Snapshots } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import type { SourceTree } from '../snapshotter/tree.js';

const RECORD_VERSION = 1;
const RECORD_PREFIX = 'copybase-';
/** Records kept (one per COPY and parent): the least recently written go first. */
const MAX_RECORDS = 64;

interface BaseRecord {
  version: number;
  /** The parent snapshot's chain ID ('' for scratch). */
  parent: string;
  /** The snapshot the COPY made. */
  layer: string;
  /** Image path → content hash (xxhash64, from the stat cache) of each file copied from the context. */
  files: Record<string, string>;
}

/** Whether every action of the op copies from the build context (or makes a directory): the files it writes are then all hashed. */
export function copiesContext(op: FileOp, isContext: (input: number) => boolean): boolean {
  return op.actions.some((a) => a.type === 'copy') && op.actions.every((a) => a.type === 'mkdir' || (a.type === 'copy' && !a.inline && !a.unpack && isContext(a.from)));
}

/** What identifies "the same COPY on the same parent": the op and its inputs' keys, not the content checksums. */
export function copyShape(op: FileOp, inputKeys: readonly Digest[]): string {
  return cacheKey({ copyBase: RECORD_VERSION, op }, inputKeys).slice(7, 39);
}

function recordFile(store: Store, shape: string): string {
  return path.join(store.cacheDir, `${RECORD_PREFIX}${shape}.json`);
}

/** One run of a COPY: what it may link from, and what it wrote (for the next run). */
export class CopyBase implements CopyReuse {
  private readonly now: Record<string, string> = Object.create(null) as Record<string, string>;

  private constructor(
    private readonly file: string,
    private readonly parent: string,
    private readonly stats: StatCache,
    /** The earlier snapshot's fs/ and its files' hashes, when there is one to start from. */
    private readonly from?: { layer: Digest; dir: string; files: Record<string, string> },
  ) {}

  /** The earlier snapshot (chain ID) this run starts from, if any: its layer tar is reused too. */
  get earlierLayer(): Digest | undefined {
    return this.from?.layer;
  }

  /** The record of this COPY on this parent; `reuse` false (--no-cache) records without linking. */
  static async open(o: { store: Store; snapshots: Snapshots; shape: string; parent: Digest | undefined; stats: StatCache; reuse: boolean }): Promise<CopyBase> {
    const file = recordFile(o.store, o.shape);
    const parent = o.parent ?? '';
    let from: { layer: Digest; dir: string; files: Record<string, string> } | undefined;
    if (o.reuse) {
      const rec = await readFile(file, 'utf8').then((t) => JSON.parse(t) as BaseRecord, () => undefined);
      if (rec?.version === RECORD_VERSION && rec.parent === parent && typeof rec.files === 'object' && (await o.snapshots.has(rec.layer as Digest))) {
        from = { layer: rec.layer as Digest, dir: o.snapshots.fsDir(rec.layer as Digest), files: rec.files };
      }
    }
    return new CopyBase(file, parent, o.stats, from);
  }

  hash(tree: SourceTree, rel: string, st: Stats): Promise<string> {
    // Computed for the cache key already: a lookup in the stat cache.
    return this.stats.contentHash(tree.hostPath(rel), st);
  }

  earlier(dest: string, hash: string): string | undefined {
    this.now[dest] = hash;
    return this.from && this.from.files[dest] === hash ? path.join(this.from.dir, dest) : undefined;
  }

  /** After the commit: the snapshot made is what the next run starts from. */
  async save(store: Store, layer: Digest): Promise<void> {
    const rec: BaseRecord = { version: RECORD_VERSION, parent: this.parent, layer, files: this.now };
    // A help, not the build: a store that cannot take the record fails nothing.
    await store.writeFileAtomic(this.file, JSON.stringify(rec)).then(() => keepNewest(store.cacheDir, RECORD_PREFIX, MAX_RECORDS), () => {});
  }
}
