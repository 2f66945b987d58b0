// Our own tar codec: ustar headers plus PAX extended records when needed. tar-stream corrupts binary
// xattrs (PAX values as JS strings) and clamps uid/gid above 262143, both of which break layers that
// must round-trip exactly (security.capability, userns-shifted ids). Header layout follows Go's
// archive/tar so our layers look like the ones Docker and BuildKit write. Here: the entry type, the
// header layout and the writer; tarread.ts reads.
import { TsbuildError } from '../common/errors.js';
import type { SparseSegment } from './sparse.js';
import { readSync } from 'node:fs';
import { Readable } from 'node:stream';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** Relative path, no leading '/', directories without a trailing '/'. */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** File length (the logical length of a sparse file); 0 for everything but regular files. */
  size: number;
  /**
   * Reader only, for GNU sparse files: where the body's bytes go. The body then holds only these
   * segments' data, one after the other, and everything else up to `size` is a hole.
   */
  sparse?: SparseSegment[];
  /** Seconds since the epoch; the writer stores whole seconds (floor). */
  mtime: number;
  /** Symlink target, or the archive path a hardlink points at. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
  uname?: string;
  gname?: string;
}

/** A malformed or hostile archive. Whoever knows which archive and which step adds that to the message. */
export class LayerFormatError extends TsbuildError {
  constructor(message: string, opts: { cause?: unknown; hint?: string; code?: 'TSB_ARCHIVE_INVALID' | 'TSB_ARCHIVE_UNSAFE' } = {}) {
    const { code = 'TSB_ARCHIVE_INVALID', ...rest } = opts;
    super(code, message, { hint: 'the archive is corrupt or truncated; rebuild or re-download it', ...rest });
  }
}

export const BLOCK = 512;
export const ZERO_BLOCK = Buffer.alloc(BLOCK);
export const XATTR_PREFIX = 'SCHILY.xattr.';
// Extended headers are held in memory: bound them so a hostile archive cannot exhaust it.
export const MAX_META_SIZE = 16 << 20;

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

// ustar field offsets and widths.
export const F = {
  name: [0, 100], mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12],
  chksum: [148, 8], typeflag: [156, 1], linkname: [157, 100], magic: [257, 6], version: [263, 2],
  uname: [265, 32], gname: [297, 32], devmajor: [329, 8], devminor: [337, 8], prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;
export type Field = keyof typeof F;

// ---------------------------------------------------------------------------------------------
// Writer

export interface TarInput {
  entry: TarEntry;
  /**
   * File contents: a stream, a whole (small) buffer, chunks (a generator: left early, it is returned,
   * so it can close what it opened), or a function called only when the body is about to be written,
   * so files are opened one at a time.
   */
  body?: Readable | Buffer | Iterable<Buffer> | (() => Readable | Buffer | Iterable<Buffer>);
  /**
   * The entry's bytes (headers, body, padding) exactly as an earlier archive holds them, written
   * instead of encoding `entry` and reading its body: for a file that is, inode for inode, the one
   * that archive was made from (incremental COPY). Adjacent ranges are read as one.
   */
  raw?: RawRange;
  /** The inode a regular file's entry was made from, passed on to EntryPlacement. */
  inode?: { dev: number; ino: number };
}

export interface RawRange {
  fd: number;
  offset: number;
  length: number;
}

/** Where each entry landed in the archive (offset of its first header, length up to the next entry). */
export type EntryPlacement = (entry: TarEntry, offset: number, length: number, inode?: { dev: number; ino: number }) => void;

/** Serialises entries into an uncompressed POSIX (ustar + PAX) tar, streaming file bodies. */
export function writeTar(entries: AsyncIterable<TarInput> | Iterable<TarInput>, placed?: EntryPlacement): Readable {
  return Readable.from(generateTar(entries, placed), { objectMode: false, highWaterMark: 64 * 1024 });
}

/** Reads of an earlier archive's ranges, at most this much at a time. */
const RAW_CHUNK = 1 << 20;

function* readRange(r: RawRange): Generator<Buffer> {
  for (let done = 0; done < r.length;) {
    const buf = Buffer.allocUnsafe(Math.min(RAW_CHUNK, r.length - done));
    const n = readSync(r.fd, buf, 0, buf.length, r.offset + done);
    if (n === 0) throw new LayerFormatError(`tar: the earlier archive ends ${r.length - done} bytes before the range it was to supply`);
    done += n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}

// Headers and small bodies are coalesced into chunks of about this size: per-chunk stream overhead
// dominates for trees of many small files.
const BATCH = 64 * 1024;

async function* generateTar(entries: AsyncIterable<TarInput> | Iterable<TarInput>, placed?: EntryPlacement): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  /** Bytes yielded so far plus pending: the offset of the next entry. */
  let pos = 0;
  let raw: RawRange | undefined;
  const flushRaw = function* (): Generator<Buffer> {
    if (!raw) return;
    if (pendingLen > 0) yield flush();
    yield* readRange(raw);
    raw = undefined;
  };
  const add = (b: Buffer): void => {
    pending.push(b);
    pendingLen += b.length;
  };
  const flush = (): Buffer => {
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    return out;
  };

  for await (const { entry, body, raw: range, inode } of entries) {
    const start = pos;
    if (range) {
      if (raw && raw.fd === range.fd && raw.offset + raw.length === range.offset) raw.length += range.length;
      else {
        yield* flushRaw();
        raw = { ...range };
      }
      pos += range.length;
      placed?.(entry, start, range.length, inode);
      continue;
    }
    yield* flushRaw();
    const headers = encodeHeaders(entry);
    add(headers);
    let entryBytes = headers.length;
    if (entry.type === 'file' && (entry.size > 0 || body !== undefined)) {
      if (body === undefined) throw new LayerFormatError(`tar: ${entry.path}: no body for a ${entry.size}-byte file`);
      const data = typeof body === 'function' ? body() : body;
      let written = 0;
      if (Buffer.isBuffer(data)) {
        written = data.length;
        checkSize(entry, written);
        add(data);
      } else {
        try {
          for await (const chunk of data as AsyncIterable<Buffer | string> | Iterable<Buffer>) {
            const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            written += buf.length;
            checkSize(entry, written);
            if (pendingLen + buf.length > BATCH) yield flush();
            if (buf.length >= BATCH) yield buf;
            else add(buf);
          }
        } finally {
          if (data instanceof Readable && !data.destroyed) data.destroy();
        }
      }
      if (written !== entry.size) {
        throw new LayerFormatError(`tar: ${entry.path}: body has ${written} bytes, declared size is ${entry.size} (file changed while archiving?)`);
      }
      const pad = padding(entry.size);
      if (pad > 0) add(ZERO_BLOCK.subarray(0, pad));
      entryBytes += entry.size + pad;
    }
    pos = start + entryBytes;
    placed?.(entry, start, pos - start, inode);
    if (pendingLen >= BATCH) yield flush();
  }
  yield* flushRaw();
  add(Buffer.alloc(2 * BLOCK));
  yield flush();
}

function checkSize(entry: TarEntry, written: number): void {
  if (written > entry.size) {
    throw new LayerFormatError(`tar: ${entry.path}: body is longer than its declared size ${entry.size} (file changed while archiving?)`);
  }
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

const isASCII = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);
const maxOctal = (width: number): number => 8 ** (width - 1) - 1;

/** The ustar header for `entry`, preceded by a PAX 'x' header when some value does not fit. */
export function encodeHeaders(entry: TarEntry): Buffer {
  validateEntry(entry);
  const pax = new Map<string, Buffer>();
  const isDir = entry.type === 'dir';
  const name = isDir ? `${entry.path}/` : entry.path;
  const hdr = Buffer.alloc(BLOCK);

  // Name: ustar name, else split into prefix/name (as Go does), else a PAX path record.
  if (isASCII(name) && Buffer.byteLength(name) <= F.name[1]) {
    putString(hdr, 'name', name);
  } else {
    const split = splitUSTARPath(name);
    if (split) {
      putString(hdr, 'prefix', split[0]);
      putString(hdr, 'name', split[1]);
    } else {
      pax.set('path', Buffer.from(name));
      putString(hdr, 'name', toASCII(name));
    }
  }
  const linkname = entry.type === 'symlink' || entry.type === 'hardlink' ? entry.linkname ?? '' : '';
  if (!isASCII(linkname) || Buffer.byteLength(linkname) > F.linkname[1]) {
    pax.set('linkpath', Buffer.from(linkname));
    putString(hdr, 'linkname', toASCII(linkname));
  } else {
    putString(hdr, 'linkname', linkname);
  }
  for (const [field, key] of [['uname', 'uname'], ['gname', 'gname']] as const) {
    const v = entry[field] ?? '';
    if (!isASCII(v) || v.length > F[field][1]) pax.set(key, Buffer.from(v));
    putString(hdr, field, toASCII(v));
  }

  putOctal(hdr, 'mode', entry.mode & 0o7777);
  for (const [field, value] of [['uid', entry.uid], ['gid', entry.gid], ['size', entry.type === 'file' ? entry.size : 0],
    ['mtime', Math.floor(entry.mtime)]] as const) {
    if (value < 0 || value > maxOctal(F[field][1])) {
      pax.set(field, Buffer.from(String(value)));
      putOctal(hdr, field, 0);
    } else {
      putOctal(hdr, field, value);
    }
  }
  // Device numbers have no PAX key: use the GNU base-256 form when octal is too small.
  putNumeric(hdr, 'devmajor', entry.type === 'char' || entry.type === 'block' ? entry.devmajor ?? 0 : 0);
  putNumeric(hdr, 'devminor', entry.type === 'char' || entry.type === 'block' ? entry.devminor ?? 0 : 0);
  hdr.write(TYPEFLAG[entry.type], F.typeflag[0], 'latin1');
  hdr.write('ustar\0', F.magic[0], 'latin1');
  hdr.write('00', F.version[0], 'latin1');

  if (entry.xattrs) {
    for (const [k, v] of entry.xattrs) {
      if (k === '' || k.includes('=') || k.includes('\0')) throw new LayerFormatError(`tar: ${entry.path}: invalid xattr name ${JSON.stringify(k)}`);
      pax.set(XATTR_PREFIX + k, v);
    }
  }
  setChecksum(hdr);
  if (pax.size === 0) return hdr;

  const records = encodePAX(pax);
  const xhdr = Buffer.alloc(BLOCK);
  // Go names the extended header <dir>/PaxHeaders.0/<base>; readers ignore it.
  const slash = entry.path.lastIndexOf('/');
  const xname = slash < 0 ? `PaxHeaders.0/${entry.path}` : `${entry.path.slice(0, slash)}/PaxHeaders.0/${entry.path.slice(slash + 1)}`;
  putString(xhdr, 'name', toASCII(xname));
  putOctal(xhdr, 'mode', 0);
  putOctal(xhdr, 'uid', 0);
  putOctal(xhdr, 'gid', 0);
  putOctal(xhdr, 'size', records.length);
  putOctal(xhdr, 'mtime', 0);
  xhdr.write('x', F.typeflag[0], 'latin1');
  xhdr.write('ustar\0', F.magic[0], 'latin1');
  xhdr.write('00', F.version[0], 'latin1');
  putOctal(xhdr, 'devmajor', 0);
  putOctal(xhdr, 'devminor', 0);
  setChecksum(xhdr);
  const pad = padding(records.length);
  return Buffer.concat([xhdr, records, ZERO_BLOCK.subarray(0, pad), hdr]);
}

function validateEntry(e: TarEntry): void {
  // A read sparse entry's body is only its data segments: writing it as is would misplace them.
  if (e.sparse) throw new LayerFormatError(`tar: ${e.path}: sparse entries are read-only here (write the file's full contents)`);
  if (!(e.type in TYPEFLAG)) throw new LayerFormatError(`tar: ${e.path}: unknown entry type ${String(e.type)}`);
  if (e.path === '' || e.path.includes('\0')) throw new LayerFormatError(`tar: invalid entry path ${JSON.stringify(e.path)}`);
  for (const [k, v] of [['uid', e.uid], ['gid', e.gid], ['size', e.size], ['mode', e.mode]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new LayerFormatError(`tar: ${e.path}: invalid ${k} ${v}`);
  }
  if (!Number.isFinite(e.mtime)) throw new LayerFormatError(`tar: ${e.path}: invalid mtime ${e.mtime}`);
  if ((e.type === 'symlink' || e.type === 'hardlink') && !e.linkname) throw new LayerFormatError(`tar: ${e.path}: ${e.type} without a target`);
  if (e.linkname?.includes('\0')) throw new LayerFormatError(`tar: ${e.path}: invalid link target`);
}

/** Go's splitUSTARPath: a long ASCII name split at a '/' into prefix (≤155) and name (≤100). */
function splitUSTARPath(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= F.name[1] || !isASCII(name)) return undefined;
  if (length > F.prefix[1] + 1) length = F.prefix[1] + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > F.name[1] || nlen === 0 || i > F.prefix[1]) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

// Non-ASCII characters dropped: the ustar field is only a fallback for readers that ignore PAX.
function toASCII(s: string): string {
  return isASCII(s) ? s : s.replace(/[^\x00-\x7f]/g, '');
}

function putString(hdr: Buffer, field: Field, s: string): void {
  const [off, width] = F[field];
  const b = Buffer.from(s, 'latin1');
  b.copy(hdr, off, 0, Math.min(b.length, width));
}

// Zero-padded octal with a NUL terminator, as Go and GNU tar write it.
function putOctal(hdr: Buffer, field: Field, v: number): void {
  const [off, width] = F[field];
  hdr.write(v.toString(8).padStart(width - 1, '0'), off, width - 1, 'latin1');
  hdr[off + width - 1] = 0;
}

function putNumeric(hdr: Buffer, field: Field, v: number): void {
  const [off, width] = F[field];
  if (v <= maxOctal(width)) return putOctal(hdr, field, v);
  let n = BigInt(v);
  for (let i = off + width - 1; i > off; i--) {
    hdr[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  hdr[off] = 0x80;
}

function setChecksum(hdr: Buffer): void {
  hdr.fill(0x20, F.chksum[0], F.chksum[0] + F.chksum[1]);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += hdr[i]!;
  hdr.write(sum.toString(8).padStart(6, '0'), F.chksum[0], 6, 'latin1');
  hdr[F.chksum[0] + 6] = 0;
  hdr[F.chksum[0] + 7] = 0x20;
}

/** PAX records "<len> <key>=<value>\n", sorted by key; <len> counts bytes, itself included. */
function encodePAX(records: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const key of [...records.keys()].sort()) {
    const value = records.get(key)!;
    const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    parts.push(Buffer.from(`${len} ${key}=`), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}
