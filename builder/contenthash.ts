// Content checksums of build-context selections, for COPY cache keys. Only the selected paths are
// hashed; each file's content hash (xxhash64) comes from the context's stat cache (statcache.ts), so
// an unchanged file is read once ever. Metadata that lands in the layer
// (path, type, mode, size, link target) is part of the checksum; mtime is not (as BuildKit).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { glob, hasGlob } from '../snapshotter/glob.js';
import type { SourceTree } from '../snapshotter/tree.js';
import type { StatCache } from './statcache.js';

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
