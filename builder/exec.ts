// Runs an exec op (RUN) as a container over its rootfs chain, streaming output as progress logs.
import { TsbuildError } from '../common/errors.js';
import { readFileSync } from 'node:fs';
import type { ExecOp, ExtraHost } from './graph.js';
import type { ProgressSink } from './progress.js';
import type { SecretMasker } from './masking.js';
import { resolveUser, type ResolvedUser } from './user.js';
import { prepareMounts, type MountContext, type PreparedMounts } from './mounts.js';
import path from 'node:path';
import { spawnContainer, ContainerStartError } from '../native/container.js';
import type { ActiveSnapshot, LayerChain, Snapshots } from '../snapshotter/snapshots.js';
import { MergedView } from '../snapshotter/view.js';

/** How many output lines a failed step shows. */
const TAIL_LINES = 10;

export class ExecError extends TsbuildError {
  constructor(
    readonly step: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly tail: string[],
  ) {
    const why = exitCode !== null ? `exit code: ${exitCode}` : `killed by signal ${signal}`;
    super('TSB_RUN_FAILED', `process "${command}" did not complete successfully: ${why}`, {
      hint: 'its last output lines are above; the steps before it stay cached, so a fixed rebuild starts here',
    });
  }
}

/**
 * The definition an exec's cache key is made of: the op itself, but --add-host entries by name only
 * (BuildKit's ExecOp.CacheMap clears their IPs, so a moved host does not invalidate the cache).
 */
export function execKeyDefinition(op: ExecOp): ExecOp {
  return op.extraHosts ? { ...op, extraHosts: op.extraHosts.map((h) => ({ host: h.host, ip: '' })) } : op;
}

/** runc sets HOME from passwd when the environment lacks it. */
export function withHome(env: string[], home: string): string[] {
  return env.some((e) => e.startsWith('HOME=')) ? env : [...env, `HOME=${home}`];
}

/** --add-host entries follow the standard ones, as in BuildKit's hosts file. */
function hostsFile(hostname: string, extra: readonly ExtraHost[] = []): string {
  const lines = extra.map((h) => `${h.ip}\t${h.host}\n`).join('');
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n${lines}`;
}

function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** Keeps the last lines of a stream for error messages. */
class Tail {
  private partial = '';
  readonly lines: string[] = [];
  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > TAIL_LINES) this.lines.splice(0, this.lines.length - TAIL_LINES);
  }
  all(): string[] {
    return this.partial ? [...this.lines, this.partial].slice(-TAIL_LINES) : this.lines;
  }
}

export class InsecureNotAllowedError extends TsbuildError {
  constructor() {
    super('TSB_ENTITLEMENT', 'RUN --security=insecure needs the security.insecure entitlement', { hint: 'allow it explicitly: tsbuild build --allow security.insecure' });
  }
}

export async function runExec(
  op: ExecOp,
  rootfs: LayerChain,
  active: ActiveSnapshot,
  snapshots: Snapshots,
  ctx: { id: string; name: string; progress: ProgressSink; signal?: AbortSignal; mounts: Omit<MountContext, 'scratch'>; allowInsecure?: boolean; masker: SecretMasker },
): Promise<void> {
  if (op.insecure && !ctx.allowInsecure) throw new InsecureNotAllowedError();
  const user = resolveUser(new MergedView(snapshots.lowerDirs(rootfs)), op.user);
  const prepared = await prepareMounts(op, { ...ctx.mounts, scratch: path.join(active.dir, 'mounts') });
  try {
    await runContainer(op, rootfs, active, snapshots, ctx, user, prepared);
  } finally {
    await prepared.release();
  }
}

async function runContainer(
  op: ExecOp,
  rootfs: LayerChain,
  active: ActiveSnapshot,
  snapshots: Snapshots,
  ctx: { id: string; name: string; progress: ProgressSink; signal?: AbortSignal; masker: SecretMasker },
  user: ResolvedUser,
  prepared: PreparedMounts,
): Promise<void> {
  const mount = await snapshots.mount(rootfs, active, prepared.targets);
  const container = await (async () => {
    try {
      return await spawnContainer(
        {
          rootfs: mount,
          argv: op.args,
          env: withHome([...op.env, ...prepared.env], user.home),
          mounts: prepared.mounts,
          privileged: op.insecure === true,
          cwd: op.cwd,
          uid: user.uid,
          gid: user.gid,
          additionalGids: user.additionalGids,
          hostname: op.hostname,
          // Without a bridge or CNI here, "default" is the host's network, as BuildKit does without CNI.
          network: op.network === 'none' ? 'none' : 'host',
          hosts: hostsFile(op.hostname, op.extraHosts),
          resolvConf: op.network === 'none' ? undefined : hostResolvConf(),
          stdio: 'pipe',
          ...(op.ulimits?.length ? { rlimits: op.ulimits } : {}),
        },
        { signal: ctx.signal },
      );
    } catch (e) {
      if (e instanceof ContainerStartError) throw new ExecError(ctx.name, op.args.join(' '), e.reason === 'not-found' ? 127 : 126, null, [e.message]);
      throw e;
    }
  })();
  const tail = new Tail();
  const filters = { stdout: ctx.masker.stream(), stderr: ctx.masker.stream() };
  const emit = (stream: 'stdout' | 'stderr', data: Buffer): void => {
    if (data.length === 0) return;
    tail.push(data);
    ctx.progress({ type: 'log', id: ctx.id, stream, data, time: Date.now() });
  };
  container.stdout?.on('data', (d: Buffer) => emit('stdout', filters.stdout.push(d)));
  container.stderr?.on('data', (d: Buffer) => emit('stderr', filters.stderr.push(d)));
  const status = await container.wait();
  emit('stdout', filters.stdout.end());
  emit('stderr', filters.stderr.end());
  await snapshots.unmount(rootfs, active);
  if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('build cancelled');
  if (status.exitCode !== 0) {
    throw new ExecError(ctx.name, op.args.join(' '), status.exitCode, status.signal, tail.all());
  }
}
