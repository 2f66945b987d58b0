// A regular file's body from a tar entry, into a new file: created with O_EXCL|O_NOFOLLOW, so it
// never writes through a symlink or into a file that was there (the caller removed it). A small body
// is written synchronously (a thread-pool round trip per chunk costs more than the write), a larger
// one streams, a GNU sparse one lands segment by segment at its offsets.
import { closeSync, constants, createWriteStream, ftruncateSync, openSync, write, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { SparseSegment } from './sparse.js';
import type { TarEntry } from './tar.js';

const SMALL_FILE = 64 * 1024;
const writeAt = promisify(write);
const O_CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Writes `body` (the entry's data) into `dest`, which must not exist; mode 0600 until the caller sets the entry's. */
export async function writeFileBody(dest: string, entry: TarEntry, body: Readable): Promise<void> {
  const fd = openSync(dest, O_CREATE_NEW, 0o600);
  if (entry.sparse) return writeSparse(fd, entry.sparse, entry.size, body);
  if (entry.size > SMALL_FILE) {
    await pipeline(body, createWriteStream('', { fd, autoClose: true }));
    return;
  }
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A GNU sparse file: each segment's bytes written at its offset, then the file cut to its real size,
 * so the gaps stay holes where the filesystem has them (and read as zeros where it does not).
 */
async function writeSparse(fd: number, segments: readonly SparseSegment[], size: number, body: Readable): Promise<void> {
  try {
    let i = 0;
    let done = 0; // bytes of segment i already written
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length;) {
        while (segments[i]!.length === done) {
          i++;
          done = 0;
        }
        const seg = segments[i]!;
        const n = Math.min(chunk.length - off, seg.length - done);
        const { bytesWritten } = await writeAt(fd, chunk, off, n, seg.offset + done);
        off += bytesWritten;
        done += bytesWritten;
      }
    }
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}
