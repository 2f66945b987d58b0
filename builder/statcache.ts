// The stat cache: each context file's content hash (xxhash64), memoized by device, inode, size,
// mtime and ctime so that an unchanged file is read once ever. One file per build context (keyed by
// the context's real path) under cache/stat/, so a build reads only its own context's entries; a
// compact binary file (fixed-size records), as parsing JSON of every path cost more than the build's
// other work on a store that had seen large contexts. Entries no build has used for a few saves are
// dropped, and prune removes the files of contexts that no longer exist (staleStatCaches).
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, realpathSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import xxhash from 'xxhash-wasm';
import type { Store } from '../snapshotter/store.js';

/** Files up to this size are read in one call. */
const SMALL_FILE = 1 << 20;
const MAGIC = 'TSBSTAT1';
/** Per record: dev, ino, size, mtimeMs, ctimeMs, generation (float64 each), then the hash (8 bytes). */
const FIELDS = 6;
const RECORD = FIELDS * 8 + 8;
/** An entry unused for this many saves of its context's cache is dropped (re-read if it comes back). */
const KEEP_GENERATIONS = 4;

let hasher: Awaited<ReturnType<typeof xxhash>> | undefined;

/** cache/stat/: one file per context. */
function statDir(store: Store): string {
  return path.join(store.cacheDir, 'stat');
}

function realContext(contextDir: string): string {
  try {
    return realpathSync(contextDir);
  } catch {
    return path.resolve(contextDir);
  }
}

interface Entry {
  dev: number;
  ino: number;
  size: number;
  mtime: number;
  ctime: number;
  gen: number;
  hash: bigint;
}

export class StatCache {
  /** By inode (the device is checked on a hit): numbers, not strings, keep loading 20k entries cheap. */
  private entries = new Map<number, Entry>();
  private dirty = false;
  private reads = 0;
  private generation = 1;

  private constructor(private readonly file: string, private readonly context: string) {}

  /** The cache of one context (an empty one when the store has none, or a torn or foreign file). */
  static async load(store: Store, contextDir: string): Promise<StatCache> {
    const context = realContext(contextDir);
    const id = createHash('sha256').update(context).digest('hex').slice(0, 32);
    const c = new StatCache(path.join(statDir(store), `${id}.bin`), context);
    const buf = await readFile(c.file).catch(() => undefined);
    const parsed = buf ? parse(buf) : undefined;
    if (parsed && parsed.context === context) {
      for (const e of parsed.entries) {
        c.entries.set(e.ino, e);
        if (e.gen >= c.generation) c.generation = e.gen;
      }
      c.generation++;
    }
    return c;
  }

  /** Writes the cache when this build hashed a file it did not know (an unchanged context writes nothing). */
  async save(store: Store): Promise<void> {
    if (!this.dirty) return;
    const keep = [...this.entries.values()].filter((e) => e.gen > this.generation - KEEP_GENERATIONS);
    const head = Buffer.from(`${MAGIC}${this.context}\0`);
    const pad = (8 - (head.length % 8)) % 8;
    const out = Buffer.alloc(head.length + pad + keep.length * RECORD);
    head.copy(out);
    let off = head.length + pad;
    for (const e of keep) {
      for (const v of [e.dev, e.ino, e.size, e.mtime, e.ctime, e.gen]) off = out.writeDoubleLE(v, off);
      off = out.writeBigUInt64BE(e.hash, off);
    }
    await mkdir(statDir(store), { recursive: true, mode: 0o700 });
    await store.writeFileAtomic(this.file, out);
    this.dirty = false;
  }

  /** Files this cache has read to hash them (the rest came from their stat): what shows it works. */
  get filesRead(): number {
    return this.reads;
  }

  /** xxhash64 of a file's content, from the cache when its stat is unchanged. */
  async contentHash(hostPath: string, st: Stats): Promise<string> {
    const hit = this.entries.get(st.ino);
    if (hit && hit.dev === st.dev && hit.size === st.size && hit.mtime === st.mtimeMs && hit.ctime === st.ctimeMs) {
      // Used again: kept by the next save, but not worth a write of its own.
      hit.gen = this.generation;
      return hex(hit.hash);
    }
    hasher ??= await xxhash();
    this.reads++;
    let digest: bigint;
    if (st.size <= SMALL_FILE) {
      // One synchronous read beats a stream's threadpool round trips for the many small files of a
      // context; into one reused buffer, as a new one per file is garbage that grows the process by
      // tens of MB (freed only by a later GC) while a first build hashes a large context.
      digest = hasher.h64Raw(readInto(hostPath, st.size));
    } else {
      const h = hasher.create64();
      for await (const chunk of createReadStream(hostPath)) h.update(chunk as Uint8Array);
      digest = h.digest();
    }
    this.entries.set(st.ino, { dev: st.dev, ino: st.ino, size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, gen: this.generation, hash: digest });
    this.dirty = true;
    return hex(digest);
  }
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/** The file's bytes (up to one more than `size`, to see one that grew) in the shared scratch buffer: valid until the next call. */
function readInto(file: string, size: number): Uint8Array {
  if (scratch.length < size + 1) scratch = Buffer.allocUnsafe(Math.max(size + 1, scratch.length * 2));
  const fd = openSync(file, 'r');
  try {
    let got = 0;
    for (let n; got < size + 1 && (n = readSync(fd, scratch, got, scratch.length - got, null)) > 0;) got += n;
    return scratch.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function hex(h: bigint): string {
  return h.toString(16).padStart(16, '0');
}

function parse(buf: Buffer): { context: string; entries: Entry[] } | undefined {
  if (buf.length < MAGIC.length || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const end = buf.indexOf(0, MAGIC.length);
  if (end < 0) return undefined;
  const context = buf.toString('utf8', MAGIC.length, end);
  const start = end + 1 + ((8 - ((end + 1) % 8)) % 8);
  if ((buf.length - start) % RECORD !== 0) return undefined;
  const entries: Entry[] = [];
  for (let off = start; off < buf.length; off += RECORD) {
    const f = (i: number): number => buf.readDoubleLE(off + i * 8);
    entries.push({ dev: f(0), ino: f(1), size: f(2), mtime: f(3), ctime: f(4), gen: f(5), hash: buf.readBigUInt64BE(off + FIELDS * 8) });
  }
  return { context, entries };
}

/** The stat-cache files prune removes: those of contexts that no longer exist, and torn or foreign files. */
export async function staleStatCaches(store: Store): Promise<string[]> {
  const dir = statDir(store);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const head = await readHead(file);
    const alive = head !== undefined && (await lstat(head).then((s) => s.isDirectory(), () => false));
    if (!alive) out.push(file);
  }
  return out;
}

/** The context path a stat-cache file names, without reading its records. */
async function readHead(file: string): Promise<string | undefined> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const buf = Buffer.alloc(MAGIC.length + 4097);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const b = buf.subarray(0, bytesRead);
    const end = b.indexOf(0, MAGIC.length);
    return b.toString('latin1', 0, MAGIC.length) === MAGIC && end > 0 ? b.toString('utf8', MAGIC.length, end) : undefined;
  } finally {
    await fh.close();
  }
}
