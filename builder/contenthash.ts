// Content checksums of build-context selections, for COPY cache keys. Only the selected paths are
// hashed; each file's content hash (xxhash64) is memoized in a stat cache keyed by device, inode,
// size, mtime and ctime, so an unchanged file is read once ever. Metadata that lands in the layer
// (path, type, mode, size, link target) is part of the checksum; mtime is not (as BuildKit).
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import xxhash from 'xxhash-wasm';
import { glob, hasGlob } from '../snapshotter/glob.js';
import type { SourceTree } from '../snapshotter/tree.js';
import type { Store } from '../snapshotter/store.js';

interface StatEntry {
  size: number;
  mtime: string;
  ctime: string;
  hash: string;
}

/** Files up to this size are read in one call. */
const SMALL_FILE = 1 << 20;

let hasher: Awaited<ReturnType<typeof xxhash>> | undefined;

export class StatCache {
  private entries = new Map<string, StatEntry>();
  private dirty = false;
  private reads = 0;

  private constructor(private readonly file: string) {}

  static async load(store: Store): Promise<StatCache> {
    const c = new StatCache(path.join(store.cacheDir, 'statcache.json'));
    try {
      c.entries = new Map(Object.entries(JSON.parse(await readFile(c.file, 'utf8')) as Record<string, StatEntry>));
    } catch {
      // first use, or a torn file from a crash: start empty
    }
    return c;
  }

  async save(store: Store): Promise<void> {
    if (!this.dirty) return;
    await store.writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.entries)));
    this.dirty = false;
  }

  /** Files this cache has read to hash them (the rest came from their stat): what shows it works. */
  get filesRead(): number {
    return this.reads;
  }

  /** xxhash64 of a file's content, from the cache when its stat is unchanged. */
  async contentHash(hostPath: string, st: Stats): Promise<string> {
    const id = `${st.dev}:${st.ino}`;
    const mtime = String(st.mtimeMs);
    const ctime = String(st.ctimeMs);
    const hit = this.entries.get(id);
    if (hit && hit.size === st.size && hit.mtime === mtime && hit.ctime === ctime) return hit.hash;
    hasher ??= await xxhash();
    this.reads++;
    let digest: bigint;
    if (st.size <= SMALL_FILE) {
      // One synchronous read beats a stream's threadpool round trips for the many small files of a context.
      digest = hasher.h64Raw(readFileSync(hostPath));
    } else {
      const h = hasher.create64();
      for await (const chunk of createReadStream(hostPath)) h.update(chunk as Uint8Array);
      digest = h.digest();
    }
    const hash = digest.toString(16).padStart(16, '0');
    this.entries.set(id, { size: st.size, mtime, ctime, hash });
    this.dirty = true;
    return hash;
  }
}

/** What a checksum is made of, entry by entry (for cache-miss explanations): the entry's path as COPY names it, and its line. */
export type EntrySink = (name: string, line: string) => void;

/** A sha256 over the selected sources' trees, in COPY's order. */
export async function checksumSources(tree: SourceTree, sources: readonly string[], stats: StatCache, entries?: EntrySink): Promise<string> {
  const hash = createHash('sha256');
  const h = { update: (line: string, name?: string) => (hash.update(line), name !== undefined && entries?.(name, line)) };
  const visit = async (rel: string, name: string): Promise<void> => {
    const st = tree.lstat(rel);
    if (!st) {
      h.update(`${name}\0missing\n`, name);
      return;
    }
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      h.update(`${name}\0dir\0${mode}\n`, name);
      for (const child of tree.readdir(rel)) await visit(rel ? `${rel}/${child}` : child, `${name}/${child}`);
    } else if (st.isSymbolicLink()) {
      h.update(`${name}\0symlink\0${mode}\0${tree.readlink(rel)}\n`, name);
    } else if (st.isFile()) {
      h.update(`${name}\0file\0${mode}\0${st.size}\0${await stats.contentHash(tree.hostPath(rel), st)}\n`, name);
    } else {
      h.update(`${name}\0other\0${mode}\n`, name);
    }
  };
  for (const s of sources) {
    const clean = path.posix.normalize(`/${s}`).slice(1);
    const matches = hasGlob(clean) ? glob(tree, clean) : [clean];
    h.update(`source\0${s}\0${matches.length}\n`);
    for (const m of matches) await visit(m === '' ? '' : tree.resolve(m), m);
  }
  return hash.digest('hex');
}
