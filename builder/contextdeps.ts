// What a build's cache keys read of its context, for the no-change fast path (fastpath.ts): every
// path the content checksums looked at (lstat, readdir, readlink, symlink resolution), with the host
// lstat it had. If every one of them lstats the same later (device, inode, mode, size, mtime, ctime;
// a directory's mtime and ctime change with every entry added, removed or renamed in it), the
// checksums, and so the keys, are the same. An entry changed within a clock tick of the walk could
// keep its timestamps ("racy", as git calls it): such a walk is not trusted.
import { lstatSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { SourceTree } from '../snapshotter/tree.js';

/** Per path: dev, ino, mode, size, mtimeMs, ctimeMs; NaN dev for a path that did not exist. */
const FIELDS = 6;
/** Far more than the kernel's coarse clock lags behind (one jiffy, at most 10 ms). */
const RACY_MS = 50;

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

export class ContextDeps {
  /** Path → its index in `stats`; numbers, not Stats objects, so that memory stays small for large contexts. */
  private readonly seen = new Map<string, number>();
  private stats = new Float64Array(1024 * FIELDS);
  private racy = false;

  /** `since`: when the walk began (a test sets it to make the racy window certain). */
  constructor(readonly root: string, private readonly since = Date.now()) {}

  /** `tree` (the context, or a filtered view of it) with every path it is asked about noted. */
  recording(tree: SourceTree): SourceTree {
    const note = (rel: string): void => this.note(rel);
    // A tree over this very directory lstats the same path: its answer is ours too (one lstat per
    // path, not two). Null (missing, or hidden by .dockerignore) is looked at again by note.
    const sameRoot = path.resolve(tree.hostPath('')) === path.resolve(this.root);
    return {
      keepsOwnership: tree.keepsOwnership,
      lstat: (rel) => {
        if (!sameRoot) return note(rel), tree.lstat(rel);
        const st = tree.lstat(rel);
        this.note(rel, st ?? undefined);
        return st;
      },
      readdir: (rel) => (note(rel), tree.readdir(rel)),
      readlink: (rel) => (note(rel), tree.readlink(rel)),
      hostPath: (rel) => (note(rel), tree.hostPath(rel)),
      resolve: (rel) => {
        // Resolution lstats each component and follows symlinks: note both ends' components.
        const out = tree.resolve(rel);
        for (const p of [rel, out]) {
          const parts = p.split('/').filter((c) => c && c !== '.');
          for (let i = 0; i <= parts.length; i++) note(parts.slice(0, i).join('/'));
        }
        return out;
      },
    };
  }

  private note(rel: string, known?: Stats): void {
    if (this.seen.has(rel)) return;
    const st = known ?? lstatOrUndefined(path.join(this.root, rel));
    const i = this.seen.size;
    this.seen.set(rel, i);
    if ((i + 1) * FIELDS > this.stats.length) {
      const grown = new Float64Array(this.stats.length * 2);
      grown.set(this.stats);
      this.stats = grown;
    }
    this.stats.set(st ? [st.dev, st.ino, st.mode, st.size, st.mtimeMs, st.ctimeMs] : [NaN, 0, 0, 0, 0, 0], i * FIELDS);
    if (st && st.ctimeMs >= this.since - RACY_MS) this.racy = true;
  }

  /** Whether an entry changed so close to the walk that its stat may not show a later change. */
  get trustworthy(): boolean {
    return !this.racy;
  }

  /** Paths \0-joined, then the stats as float64s (8-byte aligned). */
  encode(): Buffer {
    const paths = Buffer.from([...this.seen.keys()].join('\0'));
    const head = Buffer.alloc(8);
    head.writeUInt32LE(this.seen.size, 0);
    head.writeUInt32LE(paths.length, 4);
    const pad = Buffer.alloc((8 - (paths.length % 8)) % 8);
    const nums = Buffer.from(this.stats.buffer, 0, this.seen.size * FIELDS * 8);
    return Buffer.concat([head, paths, pad, nums]);
  }
}

/** Whether every path of an encoded walk (from `encode`) lstats as it did then, under `root`. */
export function unchangedContext(root: string, encoded: Buffer): boolean {
  if (encoded.length < 8) return false;
  const count = encoded.readUInt32LE(0);
  const pathsLen = encoded.readUInt32LE(4);
  const numsAt = 8 + pathsLen + ((8 - (pathsLen % 8)) % 8);
  if (encoded.length !== numsAt + count * FIELDS * 8) return false;
  const paths = count === 0 ? [] : encoded.toString('utf8', 8, 8 + pathsLen).split('\0');
  if (paths.length !== count) return false;
  // A copy, aligned for the typed view (the buffer's own offset into its pool may not be).
  const nums = new Float64Array(encoded.buffer.slice(encoded.byteOffset + numsAt, encoded.byteOffset + encoded.length));
  for (let i = 0; i < count; i++) {
    const st = lstatOrUndefined(path.join(root, paths[i]!));
    const o = i * FIELDS;
    if (Number.isNaN(nums[o]!)) {
      if (st) return false;
      continue;
    }
    if (!st || st.dev !== nums[o] || st.ino !== nums[o + 1] || st.mode !== nums[o + 2] || st.size !== nums[o + 3] || st.mtimeMs !== nums[o + 4] || st.ctimeMs !== nums[o + 5]) return false;
  }
  return true;
}
