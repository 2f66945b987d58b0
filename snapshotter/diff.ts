// The layer a RUN step produced: walk its overlayfs upper dir and turn it into an OCI layer tar.
// Overlay's on-disk markers become OCI whiteouts: a 0/0 character device (deleted entry) becomes an
// empty `.wh.<name>` file, an opaque directory gets a `.wh..wh..opq` file before its contents.
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { getXattr, readXattrs } from '../native/fsops.js';
import { writeTar, type EntryPlacement, type TarEntry, type TarInput } from './tar.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
// trusted.* needs CAP_SYS_ADMIN; rootless overlay (userxattr) uses user.overlay.* instead.
const OVERLAY_XATTR_PREFIXES = ['trusted.overlay.', 'user.overlay.'];

export interface DiffOptions {
  /** SOURCE_DATE_EPOCH: mtimes later than this are clamped to it, for reproducible layers. */
  sourceDateEpoch?: number;
  /**
   * An earlier layer's archive whose entries of regular files may be copied as they are: for each
   * path, the inode it was made from and its byte range there. A file of the upper dir that is that
   * same inode (hard-linked from the earlier snapshot) has the same header and body.
   */
  reuse?: { fd: number; entries: ReusableEntries };
  /** Learns where each entry landed in the archive (to make the next build's `reuse`). */
  placed?: EntryPlacement;
}

export interface ReusableEntries {
  get(rel: string): ReusableEntry | undefined;
}

export interface ReusableEntry {
  dev: number;
  ino: number;
  offset: number;
  length: number;
}

/**
 * An uncompressed OCI layer tar of `upperDir`'s changes, streamed. Order is Go's filepath.Walk:
 * each directory's names sorted by bytes, a directory before its contents, depth first, so the same
 * tree gives the same bytes. Names that are not valid UTF-8 are not supported.
 */
// Metadata calls are synchronous on purpose: a layer walk is metadata-bound, and a thread-pool round
// trip per lstat measured ~25x the syscall itself (100k files: 5 s async vs 0.2 s sync); each call
// blocks the event loop only for microseconds. Bodies are read synchronously too: small ones whole,
// larger ones in 1 MiB chunks (a fraction of a millisecond each from the page cache, where a RUN's
// fresh files are). A ReadStream's 64 KiB thread-pool reads made the 345 MB gcc layer's tar ~3x slower.
const SMALL_FILE = 64 * 1024;
const CHUNK = 1 << 20;

export function diffUpperDir(upperDir: string, opts: DiffOptions = {}): Readable {
  return writeTar(walkUpper(upperDir, opts), opts.placed);
}

/** The tar entries (with lazily opened bodies) for an upper dir, in archive order. */
export async function* walkUpper(upperDir: string, opts: DiffOptions = {}): AsyncGenerator<TarInput> {
  const clamp = (st: BigIntStats): number => {
    const mtime = Number(st.mtimeMs / 1000n);
    return opts.sourceDateEpoch === undefined ? mtime : Math.min(mtime, Math.floor(opts.sourceDateEpoch));
  };
  // First archive path of each multiply-linked file, keyed by dev:ino, to emit later links as hardlinks.
  const links = new Map<string, string>();

  async function* walkDir(dirAbs: string, dirRel: string): AsyncGenerator<TarInput> {
    const names = sortByBytes(readdirSync(dirAbs));
    for (const name of names) {
      const abs = path.join(dirAbs, name);
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const st = lstatSync(abs, { bigint: true });
      const base = { uid: Number(st.uid), gid: Number(st.gid), mtime: clamp(st), size: 0 };

      if (st.isCharacterDevice() && st.rdev === 0n) {
        // Overlay whiteout: the lower entry of this name is deleted.
        yield { entry: { ...base, path: whiteoutPath(dirRel, name), type: 'file', mode: 0, uid: 0, gid: 0 } };
        continue;
      }
      const entry: TarEntry = { ...base, path: rel, type: 'file', mode: Number(st.mode) & 0o7777 };
      const earlier = st.isFile() && st.nlink > 1n ? opts.reuse?.entries.get(rel) : undefined;
      if (earlier && earlier.ino === Number(st.ino) && earlier.dev === Number(st.dev)) {
        // The earlier archive's bytes for this very inode: no header to encode, no file to open. Its
        // other link is in the earlier snapshot, not here (a COPY links each path from the same path),
        // so it is not a hardlink entry, and is not kept in `links` either.
        entry.size = Number(st.size);
        yield { entry, raw: { fd: opts.reuse!.fd, offset: earlier.offset, length: earlier.length }, inode: { dev: earlier.dev, ino: earlier.ino } };
        continue;
      }
      const xattrs = layerXattrs(abs);
      if (xattrs.size > 0) entry.xattrs = xattrs;

      if (st.isDirectory()) {
        entry.type = 'dir';
        yield { entry };
        if (isOpaque(abs)) {
          yield { entry: { ...base, path: `${rel}/${OPAQUE_WHITEOUT}`, type: 'file', mode: 0, uid: 0, gid: 0 } };
        }
        yield* walkDir(abs, rel);
      } else if (st.isFile()) {
        if (st.nlink > 1n) {
          const key = `${st.dev}:${st.ino}`;
          const first = links.get(key);
          if (first !== undefined) {
            yield { entry: { ...entry, type: 'hardlink', linkname: first } };
            continue;
          }
          links.set(key, rel);
        }
        entry.size = Number(st.size);
        yield { entry, inode: { dev: Number(st.dev), ino: Number(st.ino) }, body: () => (entry.size <= SMALL_FILE ? readSmall(abs, entry.size) : readChunks(abs, entry.size)) };
      } else if (st.isSymbolicLink()) {
        yield { entry: { ...entry, type: 'symlink', linkname: readlinkSync(abs) } };
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const [devmajor, devminor] = splitRdev(st.rdev);
        yield { entry: { ...entry, type: st.isCharacterDevice() ? 'char' : 'block', devmajor, devminor } };
      } else if (st.isFIFO()) {
        yield { entry: { ...entry, type: 'fifo' } };
      }
      // Sockets are not archived (as Docker and BuildKit do).
    }
  }

  yield* walkDir(upperDir, '');
}

// Reads up to one byte more than expected so the tar writer notices a file that grew since lstat.
function readSmall(file: string, size: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, null)) > 0;) got += n;
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

// Reads until end of file, not just `size` bytes, for the same reason; the tar writer stops reading
// (returning the generator, which closes the file) at the first byte past the size.
function* readChunks(file: string, size: number): Generator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    for (let got = 0; ;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size - got, 0) + 1));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return;
      got += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

function whiteoutPath(dirRel: string, name: string): string {
  return dirRel === '' ? `${WHITEOUT_PREFIX}${name}` : `${dirRel}/${WHITEOUT_PREFIX}${name}`;
}

function isOpaque(dir: string): boolean {
  for (const ns of ['trusted', 'user']) {
    const v = getXattr(dir, `${ns}.overlay.opaque`);
    if (v !== null && v.toString() === 'y') return true;
  }
  return false;
}

// Overlay's own bookkeeping (opaque, redirect, origin...) is not part of the image.
function layerXattrs(p: string): Map<string, Buffer> {
  const all = readXattrs(p);
  for (const k of all.keys()) if (OVERLAY_XATTR_PREFIXES.some((pre) => k.startsWith(pre))) all.delete(k);
  return all;
}

/** glibc's major()/minor() for a 64-bit dev_t. */
export function splitRdev(rdev: bigint): [number, number] {
  const major = ((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n);
  const minor = (rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n);
  return [Number(major), Number(minor)];
}

// Go sorts names as byte strings; JS string comparison is UTF-16 order, which differs above U+FFFF.
function sortByBytes(names: string[]): string[] {
  return names.map((n) => ({ n, b: Buffer.from(n) })).sort((x, y) => Buffer.compare(x.b, y.b)).map((x) => x.n);
}
