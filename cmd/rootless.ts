// Rootless: a user who is not root builds as root of a user namespace of its own, as rootless
// BuildKit and Buildah do. tsbuild re-executes itself there with util-linux's unshare, which maps
// uid 0 inside to the user and, with --map-auto, the ids from 1 on to the user's /etc/subuid and
// /etc/subgid ranges (through newuidmap/newgidmap, Debian's uidmap). A Node process cannot enter a
// user namespace itself (it has threads), hence the second process. setpriv --pdeathsig ties it to
// this one: a killed tsbuild takes its build, and so the build's containers, with it.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { TsbuildError } from '../common/errors.js';
import { findExecutable } from '../common/executable.js';

/** Set for the inner process: the store then defaults to the user's own (snapshotter/store.ts). */
const INNER = 'TSBUILD_ROOTLESS';

/** Whether this invocation must re-execute in a user namespace: a user who is not root, a command that uses the store. */
export function needsRootless(argv: readonly string[]): boolean {
  if (process.getuid?.() !== undefined && process.getuid() === 0) return false;
  if (process.env[INNER] === '1') return false;
  const first = argv[0];
  if (first === undefined || argv.includes('--help') || argv.includes('-h') || argv.includes('--version')) return false;
  return !['login', 'logout', 'help', 'completion'].includes(first);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether /etc/subuid or /etc/subgid gives the user a range (by name or by uid), as newuidmap and newgidmap look it up. */
function hasSubRange(file: string, user: string, id: number): boolean {
  return (readText(file) ?? '').split('\n').some((line) => {
    const [name, start, count] = line.trim().split(':');
    return (name === user || name === String(id)) && Number(start) >= 0 && Number(count) > 0;
  });
}

/** util-linux and uidmap live in the system's directories, also when the caller's PATH leaves them out. */
const SYSTEM_DIRS = ['/usr/bin', '/usr/sbin', '/bin', '/sbin'];

function onPath(cmd: string): string | undefined {
  return findExecutable(cmd, SYSTEM_DIRS);
}

const hintUserns =
  'enable unprivileged user namespaces (as root: sysctl -w user.max_user_namespaces=28633; on Debian also kernel.unprivileged_userns_clone=1; ' +
  'where AppArmor restricts them, kernel.apparmor_restrict_unprivileged_userns=0), or run tsbuild as root';

/** The kernel switches that forbid unprivileged user namespaces, checked before trying. */
function checkUserNamespaces(): void {
  const off: Array<[string, string]> = [
    ['/proc/sys/user/max_user_namespaces', '0'],
    ['/proc/sys/kernel/unprivileged_userns_clone', '0'],
    ['/proc/sys/kernel/apparmor_restrict_unprivileged_userns', '1'],
  ];
  for (const [file, value] of off) {
    if (readText(file)?.trim() === value) {
      throw new TsbuildError('TSB_ROOTLESS', `rootless builds need user namespaces, and this host forbids them (${file.slice('/proc/sys/'.length).replaceAll('/', '.')} = ${value})`, { hint: hintUserns });
    }
  }
}

export interface RootlessPlan {
  /** The command that runs tsbuild again inside the user namespace. */
  argv: string[];
  /** Full mapping (subordinate ids) or only the user's own id as root. */
  mapping: 'subids' | 'single';
  warning?: string;
}

export function rootlessPlan(argv: readonly string[]): RootlessPlan {
  checkUserNamespaces();
  for (const tool of ['unshare', 'setpriv']) {
    if (!onPath(tool)) throw new TsbuildError('TSB_ROOTLESS', `rootless builds need ${tool} (util-linux), which is not on PATH`, { hint: 'install util-linux (apt-get install util-linux), or run tsbuild as root' });
  }
  const user = os.userInfo().username;
  const uid = process.getuid?.() ?? -1;
  const missing = [
    ...(hasSubRange('/etc/subuid', user, uid) ? [] : [`no range for ${user} in /etc/subuid`]),
    ...(hasSubRange('/etc/subgid', user, uid) ? [] : [`no range for ${user} in /etc/subgid`]),
    ...(onPath('newuidmap') && onPath('newgidmap') ? [] : ['newuidmap/newgidmap not found']),
  ];
  const mapping = missing.length === 0 ? 'subids' : 'single';
  const script = process.argv[1] ?? '';
  return {
    argv: ['setpriv', '--pdeathsig', 'KILL', '--', 'unshare', '--user', '--map-root-user', ...(mapping === 'subids' ? ['--map-auto'] : []), '--', process.execPath, ...process.execArgv, script, ...argv],
    mapping,
    ...(missing.length
      ? {
          warning:
            `rootless with only your own id mapped (${missing.join('; ')}): files of images owned by users other than root cannot be represented. ` +
            `Fix: apt-get install uidmap, and as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`,
        }
      : {}),
  };
}

/** Runs this tsbuild command again inside a user namespace; its exit status is ours. */
export async function runRootless(argv: readonly string[]): Promise<number> {
  const plan = rootlessPlan(argv);
  if (plan.warning) process.stderr.write(`WARNING: ${plan.warning}\n`);
  const child = spawn(plan.argv[0]!, plan.argv.slice(1), { stdio: 'inherit', env: { ...process.env, [INNER]: '1' } });
  // Ctrl-C and a hangup reach the inner tsbuild from the terminal itself (it is in our process
  // group): forwarding them would deliver them twice. A plain `kill` reaches only us: pass it on.
  const ignore = (): void => {};
  const forward = (): void => void child.kill('SIGTERM');
  process.on('SIGINT', ignore).on('SIGHUP', ignore).on('SIGTERM', forward);
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve({ code: c, signal: s }));
    });
    if (code !== 0 && code !== null) probe(plan);
    return code ?? 128 + (signal ? os.constants.signals[signal] : 0);
  } finally {
    process.off('SIGINT', ignore).off('SIGHUP', ignore).off('SIGTERM', forward);
  }
}

/** After a failure: was it unshare that failed (the inner tsbuild never ran)? Then say why, with the fix. */
function probe(plan: RootlessPlan): void {
  const r = spawnSync('unshare', ['--user', '--map-root-user', ...(plan.mapping === 'subids' ? ['--map-auto'] : []), '--', 'true'], { encoding: 'utf8' });
  if (r.status === 0) return;
  throw new TsbuildError('TSB_ROOTLESS', `cannot enter a user namespace for a rootless build: ${(r.stderr || r.error?.message || '').trim()}`, {
    hint: plan.mapping === 'subids' ? `check that newuidmap/newgidmap are setuid root (apt-get install --reinstall uidmap) and that your /etc/subuid and /etc/subgid ranges are valid; ${hintUserns}` : hintUserns,
  });
}
