// The copying snapshotter, for hosts without overlayfs: a RUN gets a full copy of its rootfs as a
// plain directory, and afterwards its changes are turned back into an overlay-style upper dir by
// comparing the copy with the layers it came from. From there commit and diff are the same as with
// overlay. Metadata calls are synchronous on purpose: they cost ~2 µs against ~50 µs for the
// promise versions, and a rootfs has tens of thousands of entries.
import { copyFileSync, chmodSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, utimesSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { listXattrs, getXattr, mknod, setXattr } from '../native/fsops.js';
import { splitRdev } from './diff.js';
import type { MergedView } from './view.js';

const isOverlayXattr = (name: string): boolean => name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');

function copyXattrs(from: string, to: string): void {
  let names: string[];
  try {
    names = listXattrs(from);
  } catch {
    return;
  }
  for (const n of names) {
    if (isOverlayXattr(n)) continue;
    const v = getXattr(from, n);
    if (v) setXattr(to, n, v);
  }
}

/** Creates `dest` as an entry like the host file `src` (content, mode, owner, times, xattrs), not recursing. */
function cloneEntry(src: string, st: BigIntStats, dest: string, links: Map<string, string>): void {
  const mode = Number(st.mode & 0o7777n);
  if (st.isDirectory()) {
    mkdirSync(dest);
  } else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1n ? links.get(key) : undefined;
    if (first) {
      linkSync(first, dest);
      return;
    }
    if (st.nlink > 1n) links.set(key, dest);
    copyFileSync(src, dest);
  } else if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dest);
  } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const [major, minor] = splitRdev(st.rdev);
    mknod(dest, Number(st.mode), major, minor);
  } else {
    return; // sockets are not part of a filesystem image
  }
  lchownSync(dest, Number(st.uid), Number(st.gid));
  if (!st.isSymbolicLink()) chmodSync(dest, mode);
  copyXattrs(src, dest);
  if (!st.isDirectory()) lutimesSync(dest, st.atime, st.mtime);
}

/** Copies the merged view into an empty directory `dest` (the rootfs a RUN gets). */
export function materialize(view: MergedView, dest: string): void {
  const links = new Map<string, string>();
  const dirs: Array<[string, BigIntStats]> = [];
  const walk = (p: string): void => {
    for (const name of view.readdir(p)) {
      const child = p === '/' ? `/${name}` : `${p}/${name}`;
      const e = view.lookup(child);
      if (!e) continue;
      const st = lstatSync(e.hostPath, { bigint: true });
      cloneEntry(e.hostPath, st, path.join(dest, child), links);
      if (st.isDirectory()) {
        dirs.push([child, st]);
        walk(child);
      }
    }
  };
  walk('/');
  // Directory times last: writing into a directory changes its mtime.
  for (const [p, st] of dirs.reverse()) utimesSync(path.join(dest, p), st.atime, st.mtime);
}

function sameEntry(a: BigIntStats, b: BigIntStats, aPath: string, bPath: string): boolean {
  if ((a.mode & 0o170000n) !== (b.mode & 0o170000n)) return false;
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.isDirectory()) return true; // contents compared entry by entry; mtime changes with any write
  if (a.size !== b.size || a.mtimeNs !== b.mtimeNs) return false;
  if (a.isSymbolicLink()) return readlinkSync(aPath) === readlinkSync(bPath);
  if (a.isCharacterDevice() || a.isBlockDevice()) return a.rdev === b.rdev;
  return true;
}

/**
 * Writes into `upper` what changed between the merged view (before) and `rootDir` (after the RUN):
 * new and modified entries are copied, removed ones become overlay whiteouts. Parent directories of
 * changes are recreated with their new metadata, as an overlay mount would have copied them up.
 */
export function captureChanges(view: MergedView, rootDir: string, upper: string): void {
  const links = new Map<string, string>();
  const dirTimes: Array<[string, BigIntStats]> = [];
  const ensured = new Set<string>(['/']);
  const ensureParent = (p: string): void => {
    const parent = path.posix.dirname(p);
    if (ensured.has(parent)) return;
    ensureParent(parent);
    const st = lstatSync(path.join(rootDir, parent), { bigint: true });
    cloneEntry(path.join(rootDir, parent), st, path.join(upper, parent), links);
    dirTimes.push([parent, st]);
    ensured.add(parent);
  };
  const copyTree = (p: string, st: BigIntStats): void => {
    ensureParent(p);
    cloneEntry(path.join(rootDir, p), st, path.join(upper, p), links);
    if (st.isDirectory()) {
      ensured.add(p);
      dirTimes.push([p, st]);
      for (const name of readdirSync(path.join(rootDir, p)).sort()) {
        const child = `${p}/${name}`;
        copyTree(child, lstatSync(path.join(rootDir, child), { bigint: true }));
      }
    }
  };
  const compare = (p: string): void => {
    const after = new Set(readdirSync(path.join(rootDir, p)).sort());
    for (const name of view.readdir(p)) {
      const child = p === '/' ? `/${name}` : `${p}/${name}`;
      if (!after.has(name)) {
        ensureParent(child);
        mknod(path.join(upper, child), 0o20000, 0, 0); // whiteout: the entry was removed
      }
    }
    for (const name of after) {
      const child = p === '/' ? `/${name}` : `${p}/${name}`;
      const now = lstatSync(path.join(rootDir, child), { bigint: true });
      const before = view.lookup(child);
      const beforeSt = before ? lstatSync(before.hostPath, { bigint: true }) : undefined;
      if (!before || !beforeSt || !sameEntry(now, beforeSt, path.join(rootDir, child), before.hostPath)) {
        if (before && beforeSt?.isDirectory() && now.isDirectory()) {
          // Same directory, new metadata: record it, then look inside.
          ensureParent(child);
          cloneEntry(path.join(rootDir, child), now, path.join(upper, child), links);
          ensured.add(child);
          dirTimes.push([child, now]);
          compare(child);
        } else {
          copyTree(child, now);
        }
      } else if (now.isDirectory()) {
        compare(child);
      }
    }
  };
  compare('/');
  for (const [p, st] of dirTimes.reverse()) utimesSync(path.join(upper, p), st.atime, st.mtime);
}
