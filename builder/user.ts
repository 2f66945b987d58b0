// USER and --chown names resolved through the target rootfs's /etc/passwd and /etc/group,
// as runc and BuildKit do: a name must exist; a number need not.
import { TsbuildError } from '../common/errors.js';
import type { MergedView } from '../snapshotter/view.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** From passwd; runc puts it in HOME when the environment has none. */
  home: string;
}

export class UnknownUserError extends TsbuildError {
  constructor(what: 'user' | 'group', name: string) {
    super('TSB_USER_UNKNOWN', `unable to find ${what} ${name}: no matching entries in ${what === 'user' ? 'passwd' : 'group'} file`, {
      hint: `add it to /etc/${what === 'user' ? 'passwd' : 'group'} in an earlier step, or use a numeric id`,
    });
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function readColonFile(view: MergedView, file: string): string[][] {
  const buf = view.readFile(file);
  if (!buf) return [];
  return buf
    .toString('utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

function passwd(view: MergedView): PasswdEntry[] {
  return readColonFile(view, '/etc/passwd')
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' }));
}

function groups(view: MergedView): GroupEntry[] {
  return readColonFile(view, '/etc/group')
    .filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

const numeric = (s: string): boolean => /^\d+$/.test(s);

/** Resolves `user[:group]` (names or ids) to numeric ids plus the user's supplementary groups. */
export function resolveUser(view: MergedView, spec: string): ResolvedUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const user = userPart || 'root';
  const users = passwd(view);
  let uid: number;
  let gid = 0;
  let name: string | undefined;
  let home = '/';
  if (numeric(user)) {
    uid = Number(user);
    const e = users.find((u) => u.uid === uid);
    if (e) {
      gid = e.gid;
      name = e.name;
      home = e.home;
    }
  } else {
    const e = users.find((u) => u.name === user);
    if (e) {
      uid = e.uid;
      gid = e.gid;
      name = e.name;
      home = e.home;
    } else if (userPart === '') {
      // No USER at all is uid 0 whether or not the image has a passwd file (FROM scratch), as in BuildKit.
      uid = 0;
    } else {
      throw new UnknownUserError('user', user);
    }
  }
  const allGroups = groupPart !== undefined || name ? groups(view) : [];
  if (groupPart !== undefined && groupPart !== '') {
    if (numeric(groupPart)) gid = Number(groupPart);
    else {
      const g = allGroups.find((x) => x.name === groupPart);
      if (!g) throw new UnknownUserError('group', groupPart);
      gid = g.gid;
    }
  }
  // An explicit group replaces supplementary groups, as runc does.
  const additionalGids = groupPart === undefined && name ? allGroups.filter((g) => g.members.includes(name!)).map((g) => g.gid) : [];
  return { uid, gid, additionalGids, home };
}

/** --chown: a user without a group means the same number for both (Docker's documented rule). */
export function resolveOwner(view: MergedView, user: string, group?: string): { uid: number; gid: number } {
  const r = resolveUser(view, group !== undefined ? `${user}:${group}` : user);
  return { uid: r.uid, gid: group === undefined ? r.uid : r.gid };
}
