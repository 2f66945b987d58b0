// Incremental COPY: the last snapshot a COPY of the build context made on a given parent, and (in
// that snapshot's directory) the content hash of every file it wrote, so that the next run of the
// same COPY (same op, same parent; only the context's content differs) hard-links the files that did not change from that snapshot
// instead of copying them again. The new snapshot is still built by the walk a cold copy makes, so
// added, changed and removed paths come out as a cold copy's; only unchanged file bodies are shared.
// One small record per COPY and parent in the cache folder: a hint, as the stat cache (prune keeps
// it, prune --all removes it; a record whose snapshot is gone is ignored).
import type { Stats } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../common/oci.js';
import { cacheKey } from './cachekey.js';
import type { FileOp } from './graph.js';
import { keepNewest } from './hintfiles.js';
import type { StatCache } from './statcache.js';
import type { CopyReuse } from '../snapshotter/fileop.js';
import { PathRecordWriter, readPathRecords, type PathRecords } from '../snapshotter/pathrecords.js';
import type { Snapshots } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import type { SourceTree } from '../snapshotter/tree.js';

const RECORD_VERSION = 2;
const RECORD_PREFIX = 'copybase-';
/** Records kept (one per COPY and parent): the least recently written go first. */
const MAX_RECORDS = 64;
/** In the snapshot a COPY made: each file's path and content hash, in two 32-bit halves. */
const HASHES_FILE = 'copyhashes.bin';
const HASHES_MAGIC = 'TSBCOPYH1';

interface BaseRecord {
  version: number;
  /** The parent snapshot's chain ID ('' for scratch). */
  parent: string;
  /** The snapshot the COPY made (its HASHES_FILE says what it holds). */
  layer: string;
}

const halves = (hex: string): [number, number] => [parseInt(hex.slice(0, 8), 16), parseInt(hex.slice(8), 16)];

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

interface Earlier {
  layer: Digest;
  dir: string;
  hashes: PathRecords<object>;
}

/** One run of a COPY: what it may link from, and what it wrote (for the next run). */
export class CopyBase implements CopyReuse {
  private readonly now = new PathRecordWriter(2);

  private constructor(
    private readonly file: string,
    private readonly parent: string,
    private readonly stats: StatCache,
    /** The earlier snapshot and its files' hashes, when there is one to start from (dropped once copied). */
    private from?: Earlier,
  ) {
    this.earlierLayer = from?.layer;
  }

  /** The earlier snapshot (chain ID) this run starts from, if any: its layer tar is reused too. */
  readonly earlierLayer: Digest | undefined;


  /** The record of this COPY on this parent; `reuse` false (--no-cache) records without linking. */
  static async open(o: { store: Store; snapshots: Snapshots; shape: string; parent: Digest | undefined; stats: StatCache; reuse: boolean }): Promise<CopyBase> {
    const file = recordFile(o.store, o.shape);
    const parent = o.parent ?? '';
    let from: Earlier | undefined;
    if (o.reuse) {
      const rec = await readFile(file, 'utf8').then((t) => JSON.parse(t) as BaseRecord, () => undefined);
      const layer = rec?.layer as Digest;
      if (rec?.version === RECORD_VERSION && rec.parent === parent && (await o.snapshots.has(layer))) {
        const hashes = await readPathRecords<object>(path.join(o.snapshots.dir(layer), HASHES_FILE), HASHES_MAGIC, 2);
        if (hashes) from = { layer, dir: o.snapshots.fsDir(layer), hashes };
      }
    }
    return new CopyBase(file, parent, o.stats, from);
  }

  hash(tree: SourceTree, rel: string, st: Stats): Promise<string> {
    // Computed for the cache key already: a lookup in the stat cache.
    return this.stats.contentHash(tree.hostPath(rel), st);
  }

  earlier(dest: string, hash: string): string | undefined {
    const [hi, lo] = halves(hash);
    this.now.add(dest, [hi, lo]);
    const row = this.from?.hashes.rows.get(dest);
    if (row === undefined) return undefined;
    const v = this.from!.hashes.values;
    return v[row * 2] === hi && v[row * 2 + 1] === lo ? path.join(this.from!.dir, dest) : undefined;
  }

  /** After the copy, before the commit: the hashes go into the new snapshot's directory (`snapshotDir`, still being made). */
  async copied(snapshotDir: string): Promise<void> {
    this.from = undefined;
    await writeFile(path.join(snapshotDir, HASHES_FILE), this.now.encode(HASHES_MAGIC, {}));
  }

  /** After the commit: the snapshot made is what the next run starts from. */
  async save(store: Store, layer: Digest): Promise<void> {
    const rec: BaseRecord = { version: RECORD_VERSION, parent: this.parent, layer };
    // A help, not the build: a store that cannot take the record fails nothing.
    await store.writeFileAtomic(this.file, JSON.stringify(rec)).then(() => keepNewest(store.cacheDir, RECORD_PREFIX, MAX_RECORDS), () => {});
  }
}
