// The tar index of a snapshot made by a COPY: where each regular file's entry (headers, body,
// padding) lies in its layer's uncompressed tar, and which inode it was made from. The next
// incremental COPY hard-links unchanged files from that snapshot, and its layer copies those
// entries' bytes from the earlier tar instead of encoding headers and opening each file
// (diff.ts). Kept beside layer.json, so it goes when the snapshot goes.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../common/oci.js';
import type { ReusableEntries, ReusableEntry } from './diff.js';
import { PathRecordWriter, readPathRecords, type PathRecords } from './pathrecords.js';
import type { TarEntry } from './tar.js';

const INDEX_FILE = 'tarindex.bin';
const MAGIC = 'TSBTARIX1';
/** dev, ino, offset, length */
const WIDTH = 4;

interface Head {
  /** The layer tar the offsets are in (its digest = its diffID: stored uncompressed). */
  blob: string;
  /** SOURCE_DATE_EPOCH the tar was made with: another clamps other mtimes. */
  epoch: number | null;
}

class Entries implements ReusableEntries {
  constructor(private readonly r: PathRecords<Head>) {}

  get size(): number {
    return this.r.rows.size;
  }

  get(rel: string): ReusableEntry | undefined {
    const row = this.r.rows.get(rel);
    if (row === undefined) return undefined;
    const v = this.r.values;
    const i = row * WIDTH;
    return { dev: v[i]!, ino: v[i + 1]!, offset: v[i + 2]!, length: v[i + 3]! };
  }
}

export interface TarIndex {
  blob: Digest;
  entries: Entries;
}

/** The index of the snapshot in `snapshotDir`, if it has one made with the same SOURCE_DATE_EPOCH. */
export async function loadTarIndex(snapshotDir: string, epoch: number | undefined): Promise<TarIndex | undefined> {
  const r = await readPathRecords<Head>(path.join(snapshotDir, INDEX_FILE), MAGIC, WIDTH);
  if (!r || r.head.epoch !== (epoch ?? null) || typeof r.head.blob !== 'string') return undefined;
  return { blob: r.head.blob as Digest, entries: new Entries(r) };
}

/** Collects the placements of a tar being written (regular files only), then writes the index. */
export class TarIndexWriter {
  private readonly records = new PathRecordWriter(WIDTH);

  placed = (entry: TarEntry, offset: number, length: number, inode?: { dev: number; ino: number }): void => {
    if (entry.type === 'file' && inode) this.records.add(entry.path, [inode.dev, inode.ino, offset, length]);
  };

  async save(snapshotDir: string, blob: Digest, epoch: number | undefined): Promise<void> {
    await writeFile(path.join(snapshotDir, INDEX_FILE), this.records.encode(MAGIC, { blob, epoch: epoch ?? null } satisfies Head));
  }
}
