// Executor: runs one command (one RUN step) as a container. See DESIGN §4 and native/src/container/.
//
//   const c = await spawnContainer(spec, { signal });   // rejects with ContainerStartError if setup or exec fails
//   c.stdout?.pipe(...); c.stderr?.pipe(...);
//   const { exitCode, signal } = await c.wait();
//
// spawnContainer resolves once the command has exec'd, so every setup failure (mount, chdir, exec not
// found...) is a ContainerStartError. Only the clone runs on the event loop; the setup (mounting) runs in the
// child while a native thread waits for it, so parallel containers set up in parallel.
// The rootfs is mounted inside the container's own mount namespace: nothing is ever mounted on the host and
// nothing outlives the container, even if tsbuild is SIGKILLed (the init has PR_SET_PDEATHSIG).
// Unless `privileged`, the command gets Docker's default capability set, like BuildKit's RUN.
// Call it from the main thread: PR_SET_PDEATHSIG fires when the *thread* that cloned the init exits, so a
// container started from a worker dies with that worker.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { TsbuildError } from '../common/errors.js';
import { addon } from './binding.js';
import { inUserNamespace } from './userns.js';

export type RootfsSpec =
  /** lowerdirs top-most first; may be empty (an empty tmpfs then serves as the single lower). */
  | { kind: 'overlay'; lowerdirs: string[]; upperdir: string; workdir: string; mountpoint: string }
  /** A plain directory used as rootfs, bind-mounted on mountpoint (default: onto itself). */
  | { kind: 'dir'; path: string; mountpoint?: string };

/** RUN --mount targets, applied in order after the standard mounts. Targets are absolute container paths, created if missing. */
export type MountSpec =
  /** Recursive bind of a host file or directory (bind, cache, secret, ssh mounts). */
  | { type: 'bind'; source: string; target: string; readonly?: boolean }
  /** A fresh tmpfs (mode 1777). */
  | { type: 'tmpfs'; target: string; sizeBytes?: number; readonly?: boolean }
  /**
   * A read-only file with this content (secrets). It is written to the container's own /dev tmpfs, inside its
   * mount namespace, and bound over target: no copy is ever on the host, so a killed tsbuild leaves none.
   */
  | { type: 'content'; target: string; content: Buffer; mode: number; uid: number; gid: number };

export interface ContainerSpec {
  rootfs: RootfsSpec;
  /** argv[0] without '/' is searched in env's PATH inside the rootfs (default DEFAULT_PATH), like runc. */
  argv: string[];
  /** KEY=VALUE, the exact environment. */
  env: string[];
  /** Absolute path inside the container; created (mkdir -p, root-owned 0755) if missing. */
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname: string;
  /** 'none': new net namespace with only lo, up; 'host': the host's. */
  network: 'none' | 'host';
  /** Content bind-mounted read-only over /etc/hosts (created if missing; skipped if the rootfs has no /etc). */
  hosts?: string;
  /** Same for /etc/resolv.conf. */
  resolvConf?: string;
  /** pipe: stdin is /dev/null, stdout/stderr are Readables; inherit: tsbuild's own fds 0-2. */
  stdio: 'pipe' | 'inherit';
  /** Keep all capabilities (RUN --security=insecure). Default: Docker's default set. */
  privileged?: boolean;
  mounts?: MountSpec[];
  /** Resource limits of the command (--ulimit), by docker's names (nofile, nproc, core, ...); -1 is unlimited. */
  rlimits?: Rlimit[];
}

export interface Rlimit {
  name: string;
  soft: number;
  hard: number;
}

export interface ExitStatus {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface Container {
  /** Host pid of the container's init (PID 1 inside). */
  readonly pid: number;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /**
   * Resolves once the container is reaped and, for each stream someone started reading, once it has ended.
   * Streams nobody touched are not waited for (their data stays readable). Never rejects.
   */
  wait(): Promise<ExitStatus>;
  /** Signals the init. SIGKILL (default) kills the whole container; other signals are forwarded to the command. */
  kill(signal?: NodeJS.Signals): void;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What failed: a namespace/mount/credential step ('setup'), or execve ('not-found': not in PATH, 'exec'). */
export type StartFailureReason = 'setup' | 'not-found' | 'exec';

const startHints: Record<StartFailureReason, string> = {
  setup: 'check the RUN --mount targets and the WORKDIR; containers also need root and overlayfs',
  'not-found': 'install the command in an earlier step, or call it by its absolute path',
  exec: 'check that the file is an executable for this platform, with the x bit set',
};

/** The command could not be started: the Dockerfile's problem (a user error), as a missing executable is. */
export class ContainerStartError extends TsbuildError {
  readonly reason: StartFailureReason;
  /** errno of the failed step (0 if unknown). */
  readonly errno: number;
  constructor(message: string, reason: StartFailureReason = 'setup', errno = 0) {
    super('TSB_CONTAINER_START', message, { kind: 'user', hint: startHints[reason] });
    this.reason = reason;
    this.errno = errno;
  }
}

// The overlay's legacy mount data is limited to one page.
const MAX_MOUNT_DATA = 4095;

/**
 * What the addon reads (native/src/container/plan.h mirrors it field by field); only buildPlan makes one.
 * Paths are absolute and normalized; argv[0] is resolved into candidates here, where PATH is easy to parse.
 */
interface Plan {
  rootfs: PlanRootfs;
  argv: string[];
  env: string[];
  /** Executables to try for argv[0], in order. */
  candidates: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  privileged: boolean;
  hostname: string;
  newNet: boolean;
  hosts?: string;
  resolvConf?: string;
  pipeStdio: boolean;
  mounts: PlanMount[];
  rlimits: Rlimit[];
}

type PlanRootfs =
  /** chdir: the directory the relative paths in data are relative to; emptyLower: a tmpfs is the only lower. */
  | { kind: 'overlay'; mountpoint: string; data: string; chdir?: string; emptyLower: boolean }
  | { kind: 'dir'; mountpoint: string; source: string };

type PlanMount =
  /** isDir: the target is created as a directory, else as an empty file. */
  | { type: 'bind'; target: string; source: string; isDir: boolean; readonly: boolean }
  | { type: 'tmpfs'; target: string; data: string; readonly: boolean }
  | { type: 'content'; target: string; content: Buffer; mode: number; uid: number; gid: number };

interface RawContainer {
  pid: number;
  pidfd: number;
  stdoutFd: number;
  stderrFd: number;
}

interface RawStartFailure {
  message: string;
  reason: StartFailureReason;
  errno: number;
}

interface RawExit {
  exitCode: number | null;
  signal: number | null;
}

interface NativeContainer {
  /** Returns once cloned; onStart(null) follows once exec'd, then onExit. After a failure, only onStart. */
  containerSpawn(plan: Plan, onStart: (f: RawStartFailure | null) => void, onExit: (e: RawExit) => void): RawContainer;
  containerKill(pidfd: number, signo: number): void;
}

const native = (): NativeContainer => addon() as NativeContainer;

/** Executables to try, in order, like execvp with the container's PATH. Exported for tests. */
export function execCandidates(argv0: string, env: readonly string[]): string[] {
  if (argv0.includes('/')) return [argv0];
  let pathVar: string | undefined;
  for (const e of env) {
    if (e.startsWith('PATH=')) {
      pathVar = e.slice(5);
      break;
    }
  }
  pathVar ??= DEFAULT_PATH;
  // An empty element means the current directory, as for execvp.
  return pathVar.split(':').map((dir) => (dir === '' ? argv0 : `${dir.replace(/\/+$/, '')}/${argv0}`));
}

function commonDir(paths: readonly string[]): string {
  const split = paths.map((p) => p.split('/').filter(Boolean));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length && split.every((s) => s[n] === first[n])) n++;
  return '/' + first.slice(0, n).join('/');
}

/**
 * Whether overlay takes `volatile` (Linux 5.10+). Without it, the last unmount of the rootfs (when the
 * container's mount namespace goes) syncs the whole filesystem the store is on: 50–200 ms after a RUN
 * that wrote a few hundred MB, on the build's critical path. The store never fsyncs what it writes
 * (a power loss may damage any recent blob or snapshot either way, which fsck finds for blobs), and an
 * upper dir is mounted once and its work dir then removed, so volatile gives up nothing it relied on.
 */
export function overlayTakesVolatile(release = os.release()): boolean {
  const [major = 0, minor = 0] = release.split('.').map((n) => parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 10);
}

const VOLATILE = overlayTakesVolatile() ? ',volatile' : '';

/** Overlay mount data; relative to the common parent directory when that makes it shorter. Exported for tests. */
export function overlayMountData(
  lowerdirs: readonly string[],
  upperdir: string,
  workdir: string,
  mountpoint: string,
): { data: string; chdir?: string; emptyLower: boolean } {
  const emptyLower = lowerdirs.length === 0;
  // With no lowers, the empty tmpfs the child mounts on mountpoint first is the lower.
  const lowers = (emptyLower ? [mountpoint] : lowerdirs).map((p) => path.resolve(p));
  const upper = path.resolve(upperdir);
  const work = path.resolve(workdir);
  // Overlay splits options on ',' and lowers on ':'; both accept backslash escapes.
  const esc = (p: string) => p.replace(/[\\:,]/g, (m) => `\\${m}`);
  // In a user namespace overlayfs needs userxattr: trusted.* xattrs are out of reach there.
  const extra = `${inUserNamespace() ? ',userxattr' : ''}${VOLATILE}`;
  const build = (f: (p: string) => string) =>
    `lowerdir=${lowers.map((p) => esc(f(p))).join(':')},upperdir=${esc(f(upper))},workdir=${esc(f(work))}${extra}`;
  const abs = build((p) => p);
  const base = commonDir([...lowers, upper, work]);
  let best: { data: string; chdir?: string } = { data: abs };
  if (base !== '/') {
    const rel = build((p) => path.relative(base, p) || '.');
    if (rel.length < abs.length) best = { data: rel, chdir: base };
  }
  if (Buffer.byteLength(best.data) > MAX_MOUNT_DATA) {
    throw new ContainerStartError(
      `mount overlay: options too long (${Buffer.byteLength(best.data)} bytes for ${lowers.length} lower dirs)`,
    );
  }
  return { ...best, emptyLower };
}

function planMount(m: MountSpec): PlanMount {
  if (!m.target.startsWith('/')) throw new TypeError(`spawnContainer: mount target must be absolute: ${m.target}`);
  const target = path.posix.normalize(m.target);
  if (m.type === 'tmpfs') {
    const size = m.sizeBytes === undefined ? '' : `,size=${m.sizeBytes}`;
    return { type: 'tmpfs', target, data: `mode=1777${size}`, readonly: m.readonly ?? false };
  }
  if (m.type === 'content') return { type: 'content', target, content: m.content, mode: m.mode & 0o7777, uid: m.uid, gid: m.gid };
  const source = path.resolve(m.source);
  // Missing sources fail here, with the path, rather than as a bare errno from the child.
  const isDir = fs.statSync(source).isDirectory();
  return { type: 'bind', target, source, isDir, readonly: m.readonly ?? false };
}

function planRootfs(rootfs: RootfsSpec): PlanRootfs {
  if (rootfs.kind === 'dir') {
    return { kind: 'dir', mountpoint: path.resolve(rootfs.mountpoint ?? rootfs.path), source: path.resolve(rootfs.path) };
  }
  const mountpoint = path.resolve(rootfs.mountpoint);
  const o = overlayMountData(rootfs.lowerdirs, rootfs.upperdir, rootfs.workdir, mountpoint);
  return { kind: 'overlay', mountpoint, ...o };
}

function buildPlan(spec: ContainerSpec): Plan {
  const argv0 = spec.argv[0];
  if (argv0 === undefined || argv0 === '') throw new TypeError('spawnContainer: argv must not be empty');
  if (!spec.cwd.startsWith('/')) throw new TypeError(`spawnContainer: cwd must be absolute: ${spec.cwd}`);
  return {
    rootfs: planRootfs(spec.rootfs),
    argv: spec.argv,
    env: spec.env,
    candidates: execCandidates(argv0, spec.env),
    cwd: path.posix.normalize(spec.cwd),
    uid: spec.uid,
    gid: spec.gid,
    groups: spec.additionalGids,
    privileged: spec.privileged ?? false,
    hostname: spec.hostname,
    newNet: spec.network !== 'host',
    ...(spec.hosts !== undefined ? { hosts: spec.hosts } : {}),
    ...(spec.resolvConf !== undefined ? { resolvConf: spec.resolvConf } : {}),
    pipeStdio: spec.stdio === 'pipe',
    mounts: (spec.mounts ?? []).map(planMount),
    rlimits: spec.rlimits ?? [],
  };
}

function signalName(signo: number): NodeJS.Signals {
  for (const [name, n] of Object.entries(os.constants.signals)) if (n === signo) return name as NodeJS.Signals;
  return `SIG${signo}` as NodeJS.Signals;
}

function pipeReader(fd: number): Readable {
  return new net.Socket({ fd, readable: true, writable: false });
}

export async function spawnContainer(spec: ContainerSpec, opts: { signal?: AbortSignal } = {}): Promise<Container> {
  const { signal } = opts;
  // Nothing started yet: fail the way an aborted operation does rather than start and kill at once.
  signal?.throwIfAborted();
  const plan = buildPlan(spec);
  // Only the directory; the mount itself happens in the container's namespace.
  fs.mkdirSync(plan.rootfs.mountpoint, { recursive: true });

  let resolveStart!: (f: RawStartFailure | null) => void;
  const started = new Promise<RawStartFailure | null>((resolve) => (resolveStart = resolve));
  let resolveExit!: (e: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((resolve) => (resolveExit = resolve));
  let done = false;
  const finish = () => {
    done = true;
    fs.closeSync(raw.pidfd);
    signal?.removeEventListener('abort', onAbort);
  };
  const raw = native().containerSpawn(plan, resolveStart, (e) => {
    finish();
    resolveExit({ exitCode: e.exitCode, signal: e.signal === null ? null : signalName(e.signal) });
  });

  const kill = (sig: NodeJS.Signals = 'SIGKILL') => {
    if (done) return;
    const signo = os.constants.signals[sig];
    if (signo === undefined) throw new TypeError(`unknown signal ${sig}`);
    native().containerKill(raw.pidfd, signo);
  };
  function onAbort() {
    kill('SIGKILL');
  }
  signal?.addEventListener('abort', onAbort, { once: true });

  const failure = await started;
  const closeStdio = () => {
    for (const fd of [raw.stdoutFd, raw.stderrFd]) if (fd >= 0) fs.closeSync(fd);
  };
  if (failure !== null) {
    // The native side has reaped the init already.
    finish();
    closeStdio();
    // A cancelled build reports the cancellation, not what the kill broke.
    if (signal?.aborted) throw signal.reason;
    throw new ContainerStartError(failure.message, failure.reason, failure.errno);
  }
  if (signal?.aborted) {
    closeStdio();
    await exited; // reaped: nothing of the container is left
    throw signal.reason;
  }
  const stdout = raw.stdoutFd >= 0 ? pipeReader(raw.stdoutFd) : null;
  const stderr = raw.stderrFd >= 0 ? pipeReader(raw.stderrFd) : null;

  const waited = exited.then(async (status) => {
    // Every writer is dead now; wait for readers that are consuming to see EOF.
    const consumed = [stdout, stderr].filter((s): s is Readable => s !== null && s.readableFlowing !== null);
    await Promise.all(consumed.map((s) => finished(s).catch(() => {})));
    return status;
  });

  return {
    pid: raw.pid,
    stdout,
    stderr,
    wait: () => waited,
    kill,
  };
}
