// A read-only merged view of a layer chain, computed in user space: what an overlay mount of the
// chain would show, without mounting anything on the host. File ops (COPY, WORKDIR) and user
// lookups (/etc/passwd) read through it.
import { TsbuildError } from '../common/errors.js';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { getXattr } from '../native/fsops.js';

export interface ViewEntry {
  /** Path on the host of the winning layer's copy. */
  hostPath: string;
  stat: Stats;
  /** Layers (indexes into the view's dirs) that contribute to this directory's listing. */
  layers: number[];
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(hostPath: string): boolean {
  const v = getXattr(hostPath, 'trusted.overlay.opaque') ?? getXattr(hostPath, 'user.overlay.opaque');
  return v !== null && v.toString() === 'y';
}

export function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

export class SymlinkLoopError extends TsbuildError {
  constructor(p: string) {
    super('TSB_FILE_OP', `too many levels of symbolic links resolving ${p}`, { hint: 'a symbolic link in the image or context points back at itself' });
  }
}

export class MergedView {
  /** @param dirs layer directories, top-most first (as overlay lowerdirs) */
  constructor(readonly dirs: readonly string[]) {}

  /** Looks up a path with no symlink resolution; components must be clean (from resolve()). */
  lookup(p: string): ViewEntry | null {
    const parts = p.split('/').filter((c) => c && c !== '.');
    let layers = this.dirs.map((_, i) => i);
    let rel = '';
    let found: ViewEntry | null = null;
    if (parts.length === 0) {
      // The root is a directory even for an empty chain (scratch).
      const top = this.dirs[0] ?? '/';
      return { hostPath: top, stat: lstatSync(top), layers };
    }
    for (const name of parts) {
      rel = rel ? `${rel}/${name}` : name;
      found = null;
      const below: number[] = [];
      for (const i of layers) {
        const hp = path.join(this.dirs[i]!, rel);
        const st = lstatOrNull(hp);
        if (!st) continue;
        if (!found) {
          if (isWhiteout(st)) return null;
          found = { hostPath: hp, stat: st, layers: [] };
          if (!st.isDirectory()) break;
          below.push(i);
          if (isOpaque(hp)) break;
          continue;
        }
        // A lower layer contributes to the directory only while it is a directory there too.
        if (isWhiteout(st) || !st.isDirectory()) break;
        below.push(i);
        if (isOpaque(hp)) break;
      }
      if (!found) return null;
      found.layers = below;
      layers = below;
    }
    return found;
  }

  /**
   * Resolves symlinks inside the view as if its root were `/` (chroot semantics): a link can never
   * lead outside. Returns the clean absolute path inside the view.
   */
  resolve(p: string, followLast = true, depth = 0): string {
    if (depth > 40) throw new SymlinkLoopError(p);
    const parts = path.posix.normalize(`/${p}`).split('/').filter(Boolean);
    let cur = '/';
    for (let k = 0; k < parts.length; k++) {
      const next = path.posix.join(cur, parts[k]!);
      const isLast = k === parts.length - 1;
      const e = this.lookup(next);
      if (e && e.stat.isSymbolicLink() && (!isLast || followLast)) {
        const target = readlinkSync(e.hostPath);
        const joined = target.startsWith('/') ? target : path.posix.join(cur, target);
        const rest = parts.slice(k + 1).join('/');
        return this.resolve(rest ? `${joined}/${rest}` : joined, followLast, depth + 1);
      }
      cur = next;
    }
    return cur;
  }

  stat(p: string): ViewEntry | null {
    return this.lookup(this.resolve(p));
  }

  /** Directory listing: names sorted, whiteouts and shadowed entries removed. */
  readdir(p: string): string[] {
    const e = this.lookup(p);
    if (!e || !e.stat.isDirectory()) return [];
    const rel = p.split('/').filter(Boolean).join('/');
    const seen = new Set<string>();
    const hidden = new Set<string>();
    for (const i of e.layers) {
      let names: string[];
      try {
        names = readdirSync(path.join(this.dirs[i]!, rel));
      } catch {
        continue;
      }
      for (const n of names) {
        if (seen.has(n) || hidden.has(n)) continue;
        const st = lstatOrNull(path.join(this.dirs[i]!, rel, n));
        if (st && isWhiteout(st)) hidden.add(n);
        else seen.add(n);
      }
    }
    return [...seen].sort();
  }

  readFile(p: string): Buffer | null {
    const e = this.stat(p);
    if (!e || !e.stat.isFile()) return null;
    return readFileSync(e.hostPath);
  }
}
