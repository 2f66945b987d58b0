// The tar index of a snapshot made by a COPY: where each regular file's entry (headers, body,
// padding) lies in its layer's uncompressed tar, and which inode it was made from. The next
// incremental COPY hard-links unchanged files from that snapshot, and its layer copies those
// entries' bytes from the earlier tar instead of encoding headers and opening each file
// (diff.ts). Kept beside layer.json, so it goes when the snapshot goes.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../common/oci.js';
import type { ReusableEntry } from './diff.js';
import type { TarEntry } from './tar.js';

const INDEX_FILE = 'tarindex.json';
const INDEX_VERSION = 1;

interface IndexFile {
  version: number;
  /** The layer tar the offsets are in (its digest = its diffID: stored uncompressed). */
  blob: string;
  /** SOURCE_DATE_EPOCH the tar was made with: another clamps other mtimes. */
  epoch: number | null;
  /** path, dev, ino, offset, length */
  entries: Array<[string, number, number, number, number]>;
}

export interface TarIndex {
  blob: Digest;
  entries: Map<string, ReusableEntry>;
}

/** The index of the snapshot in `snapshotDir`, if it has one made with the same SOURCE_DATE_EPOCH. */
export async function loadTarIndex(snapshotDir: string, epoch: number | undefined): Promise<TarIndex | undefined> {
  const f = await readFile(path.join(snapshotDir, INDEX_FILE), 'utf8').then((t) => JSON.parse(t) as IndexFile, () => undefined);
  if (f?.version !== INDEX_VERSION || f.epoch !== (epoch ?? null) || !Array.isArray(f.entries)) return undefined;
  const entries = new Map<string, ReusableEntry>();
  for (const [p, dev, ino, offset, length] of f.entries) entries.set(p, { dev, ino, offset, length });
  return { blob: f.blob as Digest, entries };
}

/** Collects the placements of a tar being written (regular files only), then writes the index. */
export class TarIndexWriter {
  private readonly entries: IndexFile['entries'] = [];

  placed = (entry: TarEntry, offset: number, length: number, inode?: { dev: number; ino: number }): void => {
    if (entry.type === 'file' && inode) this.entries.push([entry.path, inode.dev, inode.ino, offset, length]);
  };

  async save(snapshotDir: string, blob: Digest, epoch: number | undefined): Promise<void> {
    const f: IndexFile = { version: INDEX_VERSION, blob, epoch: epoch ?? null, entries: this.entries };
    await writeFile(path.join(snapshotDir, INDEX_FILE), JSON.stringify(f));
  }
}
