// Whether tsbuild runs in a user namespace other than the initial one (rootless: cmd re-executes
// itself in one; or a container runtime put it in one). There the kernel mounts overlayfs only with
// `userxattr`, which keeps whiteout metadata (opaque dirs) in user.overlay.* instead of trusted.*,
// and ids outside the mapped range cannot be given to files.
import { readFileSync } from 'node:fs';
import { TsbuildError } from '../common/errors.js';

export interface IdMapping {
  /** First id inside, first id outside, count: the lines of /proc/self/uid_map. */
  readonly ranges: ReadonlyArray<readonly [inside: number, outside: number, count: number]>;
}

let cached: IdMapping | undefined;

export function uidMapping(): IdMapping {
  if (cached) return cached;
  let text = '0 0 4294967295\n';
  try {
    text = readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    // no /proc: assume the initial namespace
  }
  const ranges = text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isFinite))
    .map(([a, b, c]) => [a!, b!, c!] as const);
  cached = { ranges };
  return cached;
}

/** The initial user namespace maps every id onto itself. */
export function inUserNamespace(): boolean {
  const r = uidMapping().ranges;
  return !(r.length === 1 && r[0]![0] === 0 && r[0]![1] === 0 && r[0]![2] === 4294967295);
}

/** Whether id (a uid; gid ranges are set up alike by tsbuild) can be given to a file here. */
export function idMapped(id: number): boolean {
  return uidMapping().ranges.some(([inside, , count]) => id >= inside && id < inside + count);
}

/** The xattr overlayfs uses for `name` (opaque, redirect, …) in this namespace. */
export function overlayXattr(name: string): string {
  return `${inUserNamespace() ? 'user' : 'trusted'}.overlay.${name}`;
}

/**
 * Refuses, with the fix, an owner that this user namespace cannot represent (lchown would fail with a
 * bare EINVAL): rootless with a single-id mapping, or ids above the subordinate range.
 */
export function assertMapped(uid: number, gid: number, what: string): void {
  if (idMapped(uid) && idMapped(gid)) return;
  const top = Math.max(...uidMapping().ranges.map(([inside, , count]) => inside + count)) - 1;
  throw new TsbuildError('TSB_ROOTLESS', `${what}: owner ${uid}:${gid} is outside the ids this rootless build can give files (0-${top})`, {
    hint: 'give your user a subordinate id range of 65536 ids or more, e.g. as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER',
  });
}
