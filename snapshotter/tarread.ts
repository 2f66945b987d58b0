// The tar reader: ustar, old v7, PAX 'x'/'g' records, GNU long names and sparse files, base-256
// numbers, from a stream, one entry at a time (see tar.ts for the format and the writer).
import { Readable } from 'node:stream';
import { checkSparse, parseSparseMap01, readOldGNUSparse, readSparseMap10, type SparseSegment } from './sparse.js';
import { BLOCK, padding, ZERO_BLOCK, XATTR_PREFIX, MAX_META_SIZE, F, LayerFormatError, type Field, type TarEntry, type TarEntryType } from './tar.js';

export interface TarReadEntry {
  entry: TarEntry;
  /** The entry's contents (empty for non-files). Unread data is discarded when the next entry is requested. */
  body: Readable;
}

/**
 * Parses an uncompressed tar stream: ustar, old v7, PAX 'x'/'g' records, GNU long names ('L'/'K') and
 * base-256 numbers. Entry paths are as stored, minus trailing '/': they may be absolute or contain '..'
 * in a hostile archive, so callers writing to disk must contain them (see apply.ts).
 */
export async function* readTar(input: Readable): AsyncGenerator<TarReadEntry> {
  const src = new ByteSource(input);
  let global = new Map<string, Buffer>();
  let local = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let previous: BodyStream | undefined;
  try {
    for (;;) {
      if (previous) {
        await previous.discard();
        previous = undefined;
      }
      const hdr = await src.read(BLOCK, true);
      if (hdr === null) return; // EOF at a header boundary without end blocks: accept, as Go does.
      if (hdr.equals(ZERO_BLOCK)) {
        const second = await src.read(BLOCK, true);
        if (second !== null && !second.equals(ZERO_BLOCK)) throw new LayerFormatError('tar: invalid header after an end-of-archive block');
        await src.drain(); // Let upstream hashers see every byte.
        return;
      }
      verifyChecksum(hdr);
      const flag = String.fromCharCode(hdr[F.typeflag[0]]!);
      const hdrSize = readNumeric(hdr, 'size');

      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (hdrSize > MAX_META_SIZE) throw new LayerFormatError(`tar: extended header of ${hdrSize} bytes is too large`);
        const data = await src.readExact(hdrSize);
        await src.readExact(padding(hdrSize));
        if (flag === 'x') local = new Map([...local, ...parsePAX(data)]);
        else if (flag === 'g') global = new Map([...global, ...parsePAX(data)]);
        else if (flag === 'L') longName = cString(data);
        else longLink = cString(data);
        continue;
      }

      const pax = new Map([...global, ...local]);
      local = new Map();
      // An empty value deletes a key (POSIX), except xattrs, whose empty value is a real value.
      for (const [k, v] of pax) if (v.length === 0 && !k.includes('xattr.')) pax.delete(k);
      const ustar = hdr.toString('latin1', F.magic[0], F.magic[0] + 6) === 'ustar\0';
      let name = fieldString(hdr, 'name');
      if (ustar) {
        const prefix = fieldString(hdr, 'prefix');
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== undefined) name = longName;
      let linkname = longLink ?? fieldString(hdr, 'linkname');
      longName = longLink = undefined;
      const paxPath = pax.get('path');
      if (paxPath) name = paxPath.toString('utf8');
      const paxLink = pax.get('linkpath');
      if (paxLink) linkname = paxLink.toString('utf8');

      const type = entryType(flag, name);
      const entry: TarEntry = {
        path: name.replace(/\/+$/, ''),
        type,
        mode: readNumeric(hdr, 'mode') & 0o7777,
        uid: paxNumber(pax, 'uid') ?? readNumeric(hdr, 'uid'),
        gid: paxNumber(pax, 'gid') ?? readNumeric(hdr, 'gid'),
        size: paxNumber(pax, 'size') ?? hdrSize,
        mtime: paxNumber(pax, 'mtime', true) ?? readNumeric(hdr, 'mtime'),
      };
      if (type === 'symlink' || type === 'hardlink') entry.linkname = linkname;
      if (type === 'char' || type === 'block') {
        entry.devmajor = readNumeric(hdr, 'devmajor');
        entry.devminor = readNumeric(hdr, 'devminor');
      }
      const uname = pax.get('uname')?.toString('utf8') ?? fieldString(hdr, 'uname');
      const gname = pax.get('gname')?.toString('utf8') ?? fieldString(hdr, 'gname');
      if (uname) entry.uname = uname;
      if (gname) entry.gname = gname;
      const xattrs = paxXattrs(pax);
      if (xattrs.size > 0) entry.xattrs = xattrs;
      // Header-only types carry no data whatever their size field says (as Go treats them).
      let dataSize = type === 'file' ? entry.size : 0;
      if (type !== 'file') entry.size = 0;
      const sparse = type === 'file' ? await sparseInfo(flag, hdr, pax, src, dataSize) : undefined;
      if (sparse) {
        if (sparse.name !== undefined) entry.path = sparse.name.replace(/\/+$/, '');
        dataSize -= sparse.used;
        checkSparse(entry.path, sparse.segments, sparse.realSize, dataSize);
        entry.size = sparse.realSize;
        entry.sparse = sparse.segments;
      }
      if (entry.path === '' && name === '') throw new LayerFormatError('tar: entry with an empty name');

      previous = new BodyStream(src, dataSize);
      yield { entry, body: previous };
    }
  } finally {
    previous?.destroy();
    if (!input.destroyed && !src.ended) input.destroy();
  }
}

function entryType(flag: string, name: string): TarEntryType {
  switch (flag) {
    case '\0': case '0': case '7': return name.endsWith('/') ? 'dir' : 'file';
    case 'S': return 'file'; // old GNU sparse
    case '1': return 'hardlink';
    case '2': return 'symlink';
    case '3': return 'char';
    case '4': return 'block';
    case '5': return 'dir';
    case '6': return 'fifo';
    default:
      throw new LayerFormatError(`tar: ${name}: unsupported entry type ${JSON.stringify(flag)}`);
  }
}

interface SparseInfo {
  segments: SparseSegment[];
  realSize: number;
  /** The real name (PAX forms store the file under a made-up one). */
  name?: string;
  /** Bytes of the entry's data taken by the map itself (PAX 1.0). */
  used: number;
}

/** The sparse map of a file entry, if it is a GNU sparse file in any of its forms. */
async function sparseInfo(flag: string, hdr: Buffer, pax: Map<string, Buffer>, src: ByteSource, dataSize: number): Promise<SparseInfo | undefined> {
  const readBlock = async (): Promise<Buffer> => (await src.read(BLOCK))!;
  if (flag === 'S') {
    const old = await readOldGNUSparse(hdr, readBlock, (b, what) => parseNumeric(b, what));
    return { ...old, used: 0 };
  }
  const major = pax.get('GNU.sparse.major')?.toString('latin1');
  const minor = pax.get('GNU.sparse.minor')?.toString('latin1');
  const map = pax.get('GNU.sparse.map');
  if (major === undefined && minor === undefined && map === undefined) return undefined;
  const sparseName = pax.get('GNU.sparse.name')?.toString('utf8');
  const name = sparseName ? { name: sparseName } : {};
  if (major === '1' && minor === '0') {
    const realSize = paxNumber(pax, 'GNU.sparse.realsize');
    if (realSize === undefined) throw new LayerFormatError('tar: PAX sparse 1.0 entry without GNU.sparse.realsize');
    const { segments, used } = await readSparseMap10(readBlock, dataSize);
    return { segments, realSize, used, ...name };
  }
  if ((major === undefined || major === '0') && map !== undefined) {
    const realSize = paxNumber(pax, 'GNU.sparse.size') ?? paxNumber(pax, 'GNU.sparse.realsize');
    if (realSize === undefined) throw new LayerFormatError('tar: PAX sparse entry without GNU.sparse.size');
    const segments = parseSparseMap01(map.toString('latin1'));
    const count = paxNumber(pax, 'GNU.sparse.numblocks');
    if (count !== undefined && count !== segments.length) throw new LayerFormatError(`tar: GNU.sparse.numblocks is ${count} but the map has ${segments.length} segments`);
    return { segments, realSize, used: 0, ...name };
  }
  throw new LayerFormatError(`tar: unsupported GNU sparse format ${major ?? '?'}.${minor ?? '?'}`);
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

function fieldString(hdr: Buffer, field: Field): string {
  const [off, width] = F[field];
  return cString(hdr.subarray(off, off + width));
}

/** Octal (NUL/space padded) or GNU base-256 (high bit set) numeric field. */
function readNumeric(hdr: Buffer, field: Field): number {
  const [off, width] = F[field];
  return parseNumeric(hdr.subarray(off, off + width), field);
}

function parseNumeric(b: Buffer, field: string): number {
  if (b[0]! & 0x80) {
    const negative = (b[0]! & 0x40) !== 0;
    let n = 0n;
    for (let i = 0; i < b.length; i++) {
      let byte = i === 0 ? b[i]! & 0x7f : b[i]!;
      if (negative) byte ^= i === 0 ? 0x7f : 0xff;
      n = (n << 8n) | BigInt(byte);
    }
    const v = negative ? -(n + 1n) : n;
    // Only a time may be before its epoch; a negative size, id or mode is a hostile header.
    if (negative && field !== 'mtime') throw new LayerFormatError(`tar: negative ${field} field`);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new LayerFormatError(`tar: ${field} field out of range`);
    }
    return Number(v);
  }
  const s = b.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ ]+/, '').replace(/\0.*$/s, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new LayerFormatError(`tar: invalid ${field} field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function verifyChecksum(hdr: Buffer): void {
  const stored = readNumeric(hdr, 'chksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : hdr[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // Some historic writers summed signed chars; accept both as Go does.
  if (stored !== unsigned && stored !== signed) throw new LayerFormatError('tar: header checksum mismatch (corrupt or not a tar archive)');
}

function parsePAX(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const sparse00: string[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // Some writers pad records with NULs.
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) throw new LayerFormatError('tar: malformed PAX record');
    const lenStr = data.toString('latin1', pos, sp);
    const len = Number(lenStr);
    if (!/^[0-9]+$/.test(lenStr) || len < 5 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new LayerFormatError('tar: malformed PAX record');
    }
    const rec = data.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new LayerFormatError('tar: malformed PAX record');
    const key = rec.toString('utf8', 0, eq);
    const value = Buffer.from(rec.subarray(eq + 1));
    pos += len;
    // GNU sparse 0.0 repeats these two keys once per segment: keep them all, in order, as a 0.1 map.
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      if ((key === 'GNU.sparse.offset') !== (sparse00.length % 2 === 0)) throw new LayerFormatError('tar: GNU.sparse.offset and GNU.sparse.numbytes records out of order');
      sparse00.push(value.toString('latin1'));
      continue;
    }
    out.set(key, value);
  }
  if (sparse00.length > 0) out.set('GNU.sparse.map', Buffer.from(sparse00.join(',')));
  return out;
}

function paxNumber(pax: Map<string, Buffer>, key: string, fractional = false): number | undefined {
  const v = pax.get(key);
  if (v === undefined || v.length === 0) return undefined;
  const s = v.toString('latin1');
  const ok = fractional ? /^-?[0-9]+(\.[0-9]*)?$/.test(s) : /^[0-9]+$/.test(s);
  const n = Number(s);
  if (!ok || !Number.isFinite(n) || (!fractional && !Number.isSafeInteger(n))) {
    throw new LayerFormatError(`tar: invalid PAX ${key} ${JSON.stringify(s)}`);
  }
  return n;
}

function paxXattrs(pax: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of pax) {
    if (k.startsWith(XATTR_PREFIX)) {
      out.set(k.slice(XATTR_PREFIX.length), v);
    } else if (k.startsWith('LIBARCHIVE.xattr.')) {
      // bsdtar: URL-encoded name, base64 value.
      out.set(decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(v.toString('latin1'), 'base64'));
    }
  }
  return out;
}

/** Pull-based reader over a byte stream, handing out exact byte counts. */
class ByteSource {
  private readonly it: AsyncIterator<Buffer>;
  private chunk: Buffer = Buffer.alloc(0);
  ended = false;

  constructor(input: Readable) {
    this.it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      this.chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
    return true;
  }

  /** Up to `max` bytes (at least 1), or null at EOF. */
  async readSome(max: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    const out = this.chunk.subarray(0, max);
    this.chunk = this.chunk.subarray(out.length);
    return out;
  }

  /** Exactly n bytes; null on EOF before the first byte when `eofOk`, otherwise a truncation error. */
  async read(n: number, eofOk = false): Promise<Buffer | null> {
    if (n === 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const b = await this.readSome(n - got);
      if (b === null) {
        if (got === 0 && eofOk) return null;
        throw new LayerFormatError('tar: unexpected end of archive (truncated)');
      }
      parts.push(b);
      got += b.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  async readExact(n: number): Promise<Buffer> {
    return (await this.read(n))!;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const b = await this.readSome(n);
      if (b === null) throw new LayerFormatError('tar: unexpected end of archive (truncated)');
      n -= b.length;
    }
  }

  async drain(): Promise<void> {
    while (await this.readSome(Infinity)) { /* discard */ }
  }
}

/** One entry's data as a stream; reads straight from the shared source, so only one is live at a time. */
class BodyStream extends Readable {
  private remaining: number;
  private pad: number;
  private pending: Promise<void> | undefined;

  constructor(private readonly src: ByteSource, size: number) {
    super({ highWaterMark: 64 * 1024 });
    this.remaining = size;
    this.pad = padding(size);
  }

  override _read(): void {
    if (this.pending) return;
    if (this.remaining === 0) {
      this.push(null);
      return;
    }
    this.pending = this.src.readSome(Math.min(this.remaining, 1 << 20)).then(
      (b) => {
        this.pending = undefined;
        if (b === null) {
          this.destroy(new LayerFormatError('tar: unexpected end of archive (truncated)'));
          return;
        }
        this.remaining -= b.length;
        this.push(b);
        if (this.remaining === 0) this.push(null);
      },
      (err: unknown) => {
        this.pending = undefined;
        this.destroy(err as Error);
      },
    );
  }

  /** Skips whatever the consumer did not read, plus the block padding. */
  async discard(): Promise<void> {
    while (this.pending) await this.pending;
    const unread = this.remaining;
    this.remaining = 0;
    await this.src.skip(unread + this.pad);
    this.pad = 0;
    if (unread > 0 && !this.destroyed) this.destroy();
    else if (!this.readableEnded && !this.destroyed) this.push(null);
  }
}
