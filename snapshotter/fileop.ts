// File operations (COPY, WORKDIR's mkdir) written straight into a new snapshot's upper dir.
// Paths are resolved against the merged view of the layers below, the way an overlay mount would
// show them, so nothing is mounted on the host. Per-entry calls are synchronous on purpose: a
// COPY of a large context makes tens of thousands of them, and the promise versions cost ~25x more
// (threadpool round trips), while copyFileSync lets the kernel copy the bytes.
import { TsbuildError } from '../common/errors.js';
import { chmodSync, copyFileSync, lchownSync, linkSync, lutimesSync, mkdirSync, rmSync, symlinkSync, utimesSync, type Stats } from 'node:fs';
import { detectArchive, unpackArchive } from './archive.js';
import { chmod, lchown, lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { glob, hasGlob } from './glob.js';
import type { SourceTree } from './tree.js';
import { lstatOrNull, type MergedView } from './view.js';
import { assertMapped } from '../native/userns.js';

export interface Owner {
  uid: number;
  gid: number;
}

export interface CopyOptions {
  owner?: Owner;
  /** A fixed mode, or one computed from the source's (symbolic --chmod). */
  mode?: number | ((mode: number, isDir: boolean) => number);
  parents?: boolean;
  unpack?: boolean;
}

/**
 * An earlier snapshot of the same COPY (same op, same parent) whose unchanged files a new one
 * hard-links instead of copying (incremental COPY). Snapshots are immutable once committed and the
 * new upper never modifies a linked inode, so both keep exactly the files a cold copy would write.
 */
export interface CopyReuse {
  /** The content hash of a source file, when the source tree has one (the build context). */
  hash(tree: SourceTree, rel: string, st: Stats): Promise<string | undefined>;
  /** The earlier snapshot's host file at `dest` when it held content `hash` then; notes what `dest` holds now. */
  earlier(dest: string, hash: string): string | undefined;
}

/** Whether `old` is, inode for inode, the file a fresh copy of `st` with this owner and mode would be. */
function sameCopy(old: string, st: Stats, owner: Owner, mode: number): boolean {
  const o = lstatOrNull(old);
  // utimes gets st.mtime (whole milliseconds); the filesystem may keep it a few ns off.
  return o !== null && o.isFile() && o.size === st.size && (o.mode & 0o7777) === mode && o.uid === owner.uid && o.gid === owner.gid && Math.round(o.mtimeMs) === st.mtime.getTime();
}

function modeFor(opts: CopyOptions, st: Stats): number {
  const own = st.mode & 0o7777;
  if (opts.mode === undefined) return own;
  return typeof opts.mode === 'number' ? opts.mode : opts.mode(own, st.isDirectory());
}

export class FileOpError extends TsbuildError {
  constructor(message: string, hint?: string, code: 'TSB_FILE_OP' | 'TSB_CONTEXT' = 'TSB_FILE_OP') {
    super(code, message, hint !== undefined ? { hint } : {});
  }
}

const SOURCE_HINT = 'the path must exist in the build context (or the --from source) and not be excluded by .dockerignore';

/** The target of file ops: an upper dir over a merged view of the layers below. */
export class UpperWriter {
  /** Directories whose mtime must be restored after their contents are written. */
  private readonly dirTimes = new Map<string, Stats>();

  constructor(private readonly upper: string, private readonly lower: MergedView, private readonly reuse?: CopyReuse) {}

  private host(p: string): string {
    return path.join(this.upper, p);
  }

  private async upperStat(p: string): Promise<Stats | null> {
    return lstat(this.host(p)).catch(() => null);
  }

  /** The effective stat of an absolute path: the upper's copy if written, else the layers'. */
  private async stat(p: string): Promise<Stats | null> {
    return (await this.upperStat(p)) ?? this.lower.lookup(p)?.stat ?? null;
  }

  /** mkdir -p inside the snapshot; existing lower dirs are copied up with their metadata. */
  async mkdirAll(p: string, mode: number, owner: Owner | undefined): Promise<string> {
    // Symlinks in the path resolve through the layers below (what the Dockerfile author sees);
    // this op writes no symlink in a parent position before it resolves a path.
    const resolved = this.lower.resolve(p);
    const parts = resolved.split('/').filter(Boolean);
    let cur = '';
    for (const part of parts) {
      cur = `${cur}/${part}`;
      const up = await this.upperStat(cur);
      if (up) {
        if (!up.isDirectory()) throw new FileOpError(`cannot create directory ${cur}: a file is in the way`);
        continue;
      }
      const low = this.lower.lookup(cur);
      if (low && !low.stat.isDirectory()) {
        throw new FileOpError(`cannot create directory ${cur}: it exists and is not a directory`);
      }
      await mkdir(this.host(cur));
      if (low) {
        await lchown(this.host(cur), low.stat.uid, low.stat.gid);
        await chmod(this.host(cur), low.stat.mode & 0o7777);
        this.dirTimes.set(cur, low.stat);
      } else {
        if (owner) await lchown(this.host(cur), owner.uid, owner.gid);
        await chmod(this.host(cur), mode);
      }
    }
    return resolved;
  }

  /**
   * COPY semantics: each source (globs expanded) is copied to dest; a directory source copies its
   * contents; dest is a directory when it ends with '/', has several sources, or already is one.
   * `parents` keeps each source's path (from a `./` pivot on) under dest; `unpack` (ADD) extracts
   * local tar archives into dest instead of copying them.
   */
  async copy(tree: SourceTree, sources: string[], dest: string, opts: CopyOptions): Promise<void> {
    const matched: Array<{ path: string; keep: string }> = [];
    for (const s of sources) {
      const clean = path.posix.normalize(`/${s}`).slice(1);
      // `a/./b/c`: with --parents, what follows the pivot is kept under dest.
      const pivot = s.lastIndexOf('/./');
      const pivotPrefix = pivot >= 0 ? path.posix.normalize(`/${s.slice(0, pivot)}`).slice(1) : '';
      const keepOf = (p: string): string => (pivotPrefix && p.startsWith(`${pivotPrefix}/`) ? p.slice(pivotPrefix.length + 1) : p);
      if (hasGlob(clean)) {
        // A wildcard matching nothing copies nothing (BuildKit's AllowEmptyWildcard).
        const hits = glob(tree, clean);
        matched.push(...hits.map((h) => ({ path: h, keep: keepOf(h) })));
      } else {
        if (!tree.lstat(clean === '' ? '' : tree.resolve(clean)) && clean !== '') {
          throw new FileOpError(`"/${clean}": not found`, SOURCE_HINT, 'TSB_CONTEXT');
        }
        matched.push({ path: clean, keep: keepOf(clean) });
      }
    }
    const destStat = await this.stat(this.lower.resolve(dest));
    const intoDir = dest.endsWith('/') || opts.parents === true || (destStat?.isDirectory() ?? false);
    for (const { path: src, keep } of matched) {
      const real = src === '' ? '' : tree.resolve(src);
      const st = tree.lstat(real);
      if (!st) throw new FileOpError(`"/${src}": not found`, SOURCE_HINT, 'TSB_CONTEXT');
      if (st.isDirectory()) {
        const target = await this.mkdirAll(opts.parents ? path.posix.join(dest, keep) : dest, 0o755, opts.owner);
        await this.copyDirContents(tree, real, target, opts);
        continue;
      }
      if (opts.unpack && st.isFile()) {
        const kind = detectArchive(tree.hostPath(real));
        if (kind) {
          const target = await this.mkdirAll(dest, 0o755, opts.owner);
          // Unpacked entries keep the owners recorded in the archive (--chown is for copied files).
          if (await unpackArchive(tree.hostPath(real), kind, this.host(target), src)) continue;
        }
      }
      const rel = opts.parents ? keep : path.posix.basename(src);
      const target = intoDir ? path.posix.join(dest, rel) : dest;
      const parent = await this.mkdirAll(path.posix.dirname(target), 0o755, opts.owner);
      await this.copyEntry(tree, real, st, path.posix.join(parent, path.posix.basename(target)), opts);
    }
  }

  /** `fresh`: destDir was just made by this copy, so nothing is in the way of its entries. */
  private async copyDirContents(tree: SourceTree, srcDir: string, destDir: string, opts: CopyOptions, fresh = false): Promise<void> {
    for (const name of tree.readdir(srcDir)) {
      const rel = srcDir ? `${srcDir}/${name}` : name;
      const st = tree.lstat(rel);
      if (!st) continue;
      await this.copyEntry(tree, rel, st, path.posix.join(destDir, name), opts, fresh);
    }
  }

  private async copyEntry(tree: SourceTree, rel: string, st: Stats, dest: string, opts: CopyOptions, fresh = false): Promise<void> {
    const host = this.host(dest);
    // A context's names are unique within a directory: in a fresh one, no lstat of what is not there.
    const existing = fresh ? null : lstatOrNull(host);
    const owner = opts.owner ?? (tree.keepsOwnership ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 });
    if (opts.owner) assertMapped(owner.uid, owner.gid, `--chown of ${dest}`);
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) rmSync(host, { recursive: true, force: true });
      if (!existing?.isDirectory()) mkdirSync(host);
      lchownSync(host, owner.uid, owner.gid);
      chmodSync(host, modeFor(opts, st));
      await this.copyDirContents(tree, rel, dest, opts, !existing?.isDirectory());
      this.dirTimes.set(dest, st);
      return;
    }
    if (existing) rmSync(host, { recursive: true, force: true });
    if (st.isSymbolicLink()) {
      symlinkSync(tree.readlink(rel), host);
      lchownSync(host, owner.uid, owner.gid);
      lutimesSync(host, st.atime, st.mtime);
      return;
    }
    if (!st.isFile()) return; // devices, sockets and fifos are not copied, as BuildKit's context transfer skips them
    const mode = modeFor(opts, st);
    const hash = this.reuse && (await this.reuse.hash(tree, rel, st));
    const old = hash ? this.reuse!.earlier(dest, hash) : undefined;
    if (old !== undefined && sameCopy(old, st, owner, mode)) {
      try {
        linkSync(old, host);
        return;
      } catch {
        // Gone (pruned meanwhile), another filesystem, too many links: copy it.
      }
    }
    copyFileSync(tree.hostPath(rel), host);
    lchownSync(host, owner.uid, owner.gid);
    chmodSync(host, mode);
    utimesSync(host, st.atime, st.mtime);
  }

  /** Restores directory mtimes changed by writing into them. */
  async finish(): Promise<void> {
    const dirs = [...this.dirTimes].sort((a, b) => b[0].length - a[0].length);
    for (const [p, st] of dirs) utimesSync(this.host(p), st.atime, st.mtime);
  }
}
