// Unpacking a layer tar onto disk, either as an overlay upper dir (whiteouts become overlay's own
// markers) or onto a plain merged tree (whiteouts delete). A layer is untrusted input: nothing it
// says may create, change or remove anything outside the target.
//
// Containment: entry paths are cleaned lexically (absolute paths become relative; a path that still
// climbs out with '..' is rejected). Parent components are then resolved one by one inside the
// target with chroot semantics, as containerd's fs.RootPath and Docker's chrooted unpack do: a symlink
// met on the way (from the target or written by this archive) is followed, but an absolute target
// or '..' can never rise above the target root. The final component is never followed: it is
// lstat'ed, removed, and created with calls that do not follow symlinks (O_NOFOLLOW|O_EXCL, mkdir,
// symlink, link, mknod, lchown, lutimes, lsetxattr); chmod runs only on what we just created and
// lstat'ed, and deferred directory modes/times go through an O_NOFOLLOW descriptor. The threat is the
// archive, not a concurrent process racing us in the target.
import { TsbuildError } from '../common/errors.js';
import {
  chmodSync, closeSync, constants, fchmodSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, unlinkSync, type Stats,
} from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { mknod, setXattr } from '../native/fsops.js';
import { assertMapped, overlayXattr } from '../native/userns.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './diff.js';
import { writeFileBody } from './filebody.js';
import { LayerFormatError, type TarEntry } from './tar.js';
import { readTar } from './tarread.js';

export interface ApplyOptions {
  /**
   * 'overlay': `target` is a fresh overlay upper dir; `.wh.x` becomes a 0/0 character device and
   * `.wh..wh..opq` the trusted.overlay.opaque xattr. 'delete': `target` is a plain tree; whiteouts
   * remove what lower layers put there.
   */
  whiteouts: 'overlay' | 'delete';
}

/** A layer entry that would reach outside the target directory. */
export class UnsafeLayerPathError extends LayerFormatError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, code: 'TSB_ARCHIVE_UNSAFE', hint: 'the archive tries to write outside its target: do not use it, or rebuild it from a trusted source' });
  }
}

/** A filesystem failure while applying one entry; `code` is the underlying errno code. */
export class LayerApplyError extends TsbuildError {
  /** The errno code of the failing filesystem call (ENOSPC, EACCES...). */
  readonly errno: string | undefined;
  constructor(message: string, cause: unknown) {
    super('TSB_ARCHIVE_INVALID', message, { cause, hint: 'the archive cannot be unpacked here (see the reason above)' });
    this.errno = (cause as NodeJS.ErrnoException).code;
  }
}

// Metadata calls are synchronous: applying a layer is metadata-bound (one file per entry) and a
// thread-pool round trip costs far more than the syscalls themselves (file bodies: filebody.ts).
const MAX_SYMLINKS = 40; // Linux's own limit on symlinks followed in one lookup
const O_DIR_NOFOLLOW = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// Overlay's control xattrs would let a layer redirect lookups or fake opaque dirs: never take them from an archive.
const OVERLAY_XATTR_PREFIXES = ['trusted.overlay.', 'user.overlay.'];

/** What is being applied, for errors: `ADD archive "x.tar"`, `layer sha256:… of image busybox`. */
export interface ApplySource {
  what: string;
  /** Replaces the generic hint of a malformed archive (say where a good copy comes from). */
  hint?: string;
}

/** Applies an uncompressed layer tar to `target` (created if missing). */
export async function applyLayer(tar: Readable, target: string, opts: ApplyOptions & { source?: ApplySource }): Promise<{ entries: number }> {
  mkdirSync(target, { recursive: true });
  const a = new Applier(realpathSync(target), opts);
  let entries = 0;
  // The entry being applied, or the last one read when the reader itself fails between entries.
  let where = 'at its first entry';
  try {
    for await (const { entry, body } of readTar(tar)) {
      entries++;
      where = `entry ${JSON.stringify(entry.path)}`;
      try {
        await a.apply(entry, body);
      } catch (err) {
        // A failed system call is the target's problem; anything else (zlib's "unexpected end of
        // file" while the body streams) is the archive's.
        if (err instanceof TsbuildError || (err as NodeJS.ErrnoException).syscall === undefined) throw err;
        throw new LayerApplyError((err as Error).message, err);
      }
      where = `after entry ${JSON.stringify(entry.path)}`;
    }
    a.finish();
  } catch (err) {
    throw inContext(err, opts.source, where);
  }
  return { entries };
}

/**
 * The error with the archive and the entry in its message. A stream error that is not ours (zlib's
 * "unexpected end of file", a failed decompressor) is the archive's fault too.
 */
function inContext(err: unknown, source: ApplySource | undefined, where: string): unknown {
  const prefix = `${source?.what ?? 'archive'}: ${where}: `;
  const reason = (err as Error).message?.replace(/^tar: /, '') ?? String(err);
  if (err instanceof LayerApplyError) return new LayerApplyError(prefix + reason, (err as Error).cause);
  if (err instanceof LayerFormatError) {
    const Kind = err.constructor as typeof LayerFormatError;
    return new Kind(prefix + reason, { cause: err, ...(source?.hint !== undefined && !(err instanceof UnsafeLayerPathError) ? { hint: source.hint } : {}) });
  }
  if (err instanceof TsbuildError) return err;
  return new LayerFormatError(`${prefix}cannot be read: ${reason}`, { cause: err, ...(source?.hint !== undefined ? { hint: source.hint } : {}) });
}

/** Cleans an archive path: '' for the root, never absolute, never starting with '..'. */
export function cleanLayerPath(p: string): string {
  const clean = path.posix.normalize(p.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (clean === '.' || clean === '') return '';
  if (clean === '..' || clean.startsWith('../')) throw new UnsafeLayerPathError(`layer entry ${JSON.stringify(p)} points outside the target directory`);
  return clean;
}

class Applier {
  // Resolved real path of each parent dir seen, by cleaned archive path. Cleared whenever a dir or
  // symlink is removed, since a resolution may have passed through it.
  private dirs = new Map<string, string>();
  // Directory metadata is set last: writing entries into a dir changes its mtime, and a read-only mode
  // would block writing its contents.
  private readonly dirMeta = new Map<string, TarEntry>();
  // 'delete' mode: real paths this layer wrote, which an opaque marker must not remove.
  private readonly written = new Set<string>();

  constructor(private readonly root: string, private readonly opts: ApplyOptions) {}

  async apply(entry: TarEntry, body: Readable): Promise<void> {
    const rel = cleanLayerPath(entry.path);
    if (rel === '') {
      if (entry.type !== 'dir') throw new LayerFormatError(`layer entry ${JSON.stringify(entry.path)}: the root can only be a directory`);
      this.dirMeta.set(this.root, entry);
      return;
    }
    const slash = rel.lastIndexOf('/');
    const parentRel = slash < 0 ? '' : rel.slice(0, slash);
    const base = rel.slice(slash + 1);

    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(parentRel, base);

    const parent = this.resolveDir(parentRel, true)!;
    const dest = `${parent}/${base}`;
    const existing = lstatOrUndefined(dest);

    if (entry.type === 'hardlink') {
      const linkTarget = this.resolveLinkTarget(entry.linkname ?? '', rel);
      if (linkTarget === dest) return; // A link to itself: nothing to do, and removing it would lose the file.
      if (existing) this.remove(dest, existing);
      linkSync(linkTarget, dest);
      this.markWritten(dest);
      // Like Docker: the entry's metadata applies to the shared inode, unless it is a symlink.
      const st = lstatSync(dest);
      // chown clears setuid bits and file capabilities of the shared inode: skip it when already right.
      if (st.uid !== entry.uid || st.gid !== entry.gid) this.setOwner(dest, entry);
      if (!st.isSymbolicLink()) this.setMetadata(dest, entry, st);
      return;
    }

    if (existing && !(entry.type === 'dir' && existing.isDirectory())) this.remove(dest, existing);
    switch (entry.type) {
      case 'dir':
        if (!existing?.isDirectory()) mkdirSync(dest, 0o700);
        break;
      case 'file':
        await writeFileBody(dest, entry, body);
        break;
      case 'symlink':
        symlinkSync(entry.linkname ?? '', dest);
        break;
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = entry.type === 'char' ? constants.S_IFCHR : entry.type === 'block' ? constants.S_IFBLK : constants.S_IFIFO;
        mknod(dest, kind | 0o600, entry.devmajor ?? 0, entry.devminor ?? 0);
        break;
      }
    }
    this.markWritten(dest);
    this.setOwner(dest, entry);
    if (entry.type === 'dir') {
      this.setXattrs(dest, entry);
      this.dirMeta.set(dest, entry);
    } else {
      this.setMetadata(dest, entry, lstatSync(dest));
    }
  }

  /** Sets deferred directory modes and times. */
  finish(): void {
    for (const [dir, entry] of this.dirMeta) {
      let fd: number;
      try {
        fd = openSync(dir, O_DIR_NOFOLLOW); // The dir may since have been replaced, even by a symlink.
      } catch (err) {
        if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes((err as NodeJS.ErrnoException).code ?? '')) continue;
        throw err;
      }
      try {
        fchmodSync(fd, entry.mode & 0o7777);
        futimesSync(fd, entry.mtime, entry.mtime);
      } finally {
        closeSync(fd);
      }
    }
  }

  private whiteout(parentRel: string, base: string): void {
    if (base === OPAQUE_WHITEOUT) {
      const dir = this.resolveDir(parentRel, true)!;
      if (this.opts.whiteouts === 'overlay') {
        setXattr(dir, overlayXattr('opaque'), Buffer.from('y'));
      } else if (this.pruneUnwritten(dir)) {
        this.dirs.clear();
      }
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // Other aufs metadata (.wh..wh.plnk...): ignored, as Docker does.
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw new UnsafeLayerPathError(`invalid whiteout ${JSON.stringify(`${parentRel}/${base}`)}`);
    const parent = this.resolveDir(parentRel, this.opts.whiteouts === 'overlay');
    if (parent === undefined) return; // Nothing there to delete.
    const dest = `${parent}/${name}`;
    const existing = lstatOrUndefined(dest);
    if (existing) this.remove(dest, existing);
    if (this.opts.whiteouts === 'overlay') mknod(dest, constants.S_IFCHR, 0, 0);
  }

  /** Docker's opaque semantics on a plain tree: remove what is in `dir` unless this layer wrote it. */
  private pruneUnwritten(dir: string): boolean {
    let removed = false;
    for (const name of readdirSync(dir)) {
      const p = `${dir}/${name}`;
      if (!this.written.has(p)) {
        rmSync(p, { recursive: true, force: true });
        removed = true;
      } else if (lstatSync(p).isDirectory()) {
        removed = this.pruneUnwritten(p) || removed;
      }
    }
    return removed;
  }

  /**
   * Real path of directory `rel` inside the root, following symlinks with chroot semantics. Missing
   * components are created (0755, root-owned, as Docker does) when `create`, else undefined.
   */
  private resolveDir(rel: string, create: boolean): string | undefined {
    if (rel === '') return this.root;
    const cached = this.dirs.get(rel);
    if (cached !== undefined) return cached;
    const queue = rel.split('/');
    const real: string[] = [];
    let followed = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        real.pop(); // Never above the root.
        continue;
      }
      const p = `${this.root}/${[...real, c].join('/')}`;
      const st = lstatOrUndefined(p);
      if (st === undefined) {
        if (!create) return undefined;
        mkdirSync(p, 0o755);
        this.markWritten(p);
      } else if (st.isSymbolicLink()) {
        if (++followed > MAX_SYMLINKS) throw new UnsafeLayerPathError(`layer path ${JSON.stringify(rel)}: too many levels of symbolic links`);
        const link = readlinkSync(p);
        if (link.startsWith('/')) real.length = 0;
        queue.unshift(...link.split('/'));
        continue;
      } else if (!st.isDirectory()) {
        throw new LayerFormatError(`layer path ${JSON.stringify(rel)}: ${JSON.stringify([...real, c].join('/'))} is not a directory`);
      }
      real.push(c);
    }
    const out = real.length === 0 ? this.root : `${this.root}/${real.join('/')}`;
    this.dirs.set(rel, out);
    return out;
  }

  /** The real path a hardlink entry points at; it must exist inside the target and not be a directory. */
  private resolveLinkTarget(linkname: string, rel: string): string {
    let clean: string;
    try {
      clean = cleanLayerPath(linkname);
    } catch {
      throw new UnsafeLayerPathError(`layer entry ${JSON.stringify(rel)}: hardlink target ${JSON.stringify(linkname)} is outside the target directory`);
    }
    const slash = clean.lastIndexOf('/');
    const parent = clean === '' ? undefined : this.resolveDir(slash < 0 ? '' : clean.slice(0, slash), false);
    const target = parent === undefined ? undefined : `${parent}/${clean.slice(slash + 1)}`;
    const st = target === undefined ? undefined : lstatOrUndefined(target);
    if (target === undefined || st === undefined) {
      throw new LayerFormatError(`layer entry ${JSON.stringify(rel)}: hardlink target ${JSON.stringify(linkname)} does not exist`);
    }
    if (st.isDirectory()) throw new LayerFormatError(`layer entry ${JSON.stringify(rel)}: hardlink to a directory ${JSON.stringify(linkname)}`);
    return target;
  }

  private remove(p: string, st: Stats): void {
    if (st.isDirectory()) {
      rmSync(p, { recursive: true, force: true });
      this.dirs.clear();
    } else {
      unlinkSync(p);
      if (st.isSymbolicLink()) this.dirs.clear();
    }
  }

  // Ancestors count as written too, so an opaque marker keeps the dirs leading to this layer's entries.
  private markWritten(p: string): void {
    if (this.opts.whiteouts !== 'delete') return;
    for (let q = p; q.length > this.root.length && !this.written.has(q); q = path.dirname(q)) this.written.add(q);
  }

  private setOwner(p: string, entry: TarEntry): void {
    assertMapped(entry.uid, entry.gid, `layer entry ${JSON.stringify(entry.path)}`);
    lchownSync(p, entry.uid, entry.gid);
  }

  /** Mode (after chown, which clears setuid bits and file capabilities), xattrs, then times. */
  private setMetadata(p: string, entry: TarEntry, st: Stats): void {
    // `p` was just created (or lstat'ed) by us and is not a symlink, so chmod cannot be redirected.
    if (!st.isSymbolicLink()) chmodSync(p, entry.mode & 0o7777);
    this.setXattrs(p, entry);
    lutimesSync(p, entry.mtime, entry.mtime);
  }

  private setXattrs(p: string, entry: TarEntry): void {
    if (!entry.xattrs) return;
    for (const [name, value] of entry.xattrs) {
      if (OVERLAY_XATTR_PREFIXES.some((pre) => name.startsWith(pre))) continue;
      try {
        setXattr(p, name, value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Best effort for non-security attributes (unsupported fs, user.* on symlinks); a lost
        // security.capability would silently break binaries, so that stays an error.
        if (!name.startsWith('security.') && (code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EPERM')) continue;
        throw err;
      }
    }
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
