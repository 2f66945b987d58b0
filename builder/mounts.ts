// RUN --mount: turns an exec op's mounts into what the executor binds. Bind sources are copies
// (so `rw` writes vanish, as in BuildKit) unless a read-only context subtree can be bound in
// place; cache mounts are store directories keyed by id; secrets are content mounts that exist only
// inside the container's own mount namespace: never on the host's disk or tmpfs, in the store, a
// layer or a cache key.
import { TsbuildError } from '../common/errors.js';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecMount, ExecOp } from './graph.js';
import type { MountSpec } from '../native/container.js';
import { UpperWriter } from '../snapshotter/fileop.js';
import type { Store } from '../snapshotter/store.js';
import { DirTree, type SourceTree } from '../snapshotter/tree.js';
import { MergedView } from '../snapshotter/view.js';

export type SecretSource = { file: string } | { env: string };

export class MountError extends TsbuildError {
  constructor(message: string, hint?: string) {
    super('TSB_MOUNT', message, hint !== undefined ? { hint } : {});
  }
}

export interface PreparedMounts {
  mounts: MountSpec[];
  /** Extra environment (secrets with env=NAME). */
  env: string[];
  /** Mount targets, for removing the empty stubs the executor creates. */
  targets: string[];
  release(): Promise<void>;
}

export type CacheMount = Extract<ExecMount, { type: 'cache' }>;

/**
 * Fills a new cache mount's `data` directory from an imported cache (cache-mounts=true), writing
 * beside it what it came from (CACHE_MOUNT_LAYER_FILE); false when the import has nothing for it.
 */
export type CacheMountSeeder = (m: CacheMount, dir: string) => Promise<boolean>;

export interface MountContext {
  store: Store;
  /** Cache mount contents from --cache-from, applied when a RUN first mounts one here. */
  seedCacheMount?: CacheMountSeeder;
  /** The tree each op input offers (undefined for inputs that are not trees). */
  trees: ReadonlyArray<SourceTree | undefined>;
  secrets: ReadonlyMap<string, SecretSource>;
  /** --ssh ID=SOCKET: agent sockets RUN --mount=type=ssh may use. */
  sshAgents?: ReadonlyMap<string, string>;
  /** A private scratch directory of this run (removed with it). */
  scratch: string;
}

/** Copies `source` of a tree into a fresh directory; returns the host path to bind. */
async function copyOut(tree: SourceTree, source: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const rel = path.posix.normalize(`/${source}`).slice(1);
  const st = tree.lstat(rel === '' ? '' : tree.resolve(rel));
  if (!st) throw new MountError(`mount source "${source}" not found`, 'the path must exist in the --from source (or the build context)');
  const writer = new UpperWriter(dir, new MergedView([]));
  if (st.isDirectory()) {
    await writer.copy(tree, [rel], '/', {});
    await writer.finish();
    return dir;
  }
  await writer.copy(tree, [rel], '/', {});
  return path.join(dir, path.posix.basename(rel));
}

function cacheDirName(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32);
}

/** A cache mount's directory in the store; its contents are in `data` under it. */
export function cacheMountDir(store: Store, id: string): string {
  return path.join(store.cacheMountsDir, cacheDirName(id));
}

/**
 * Beside `data`: the layer (blob and diff ID) that `data` last matched, written when it was exported
 * or imported, removed when a RUN mounts it writable. While it is there, an export reuses that layer
 * instead of reading the directory again.
 */
export const CACHE_MOUNT_LAYER_FILE = 'layer.json';

async function cacheDir(ctx: MountContext, m: CacheMount): Promise<string> {
  const dir = cacheMountDir(ctx.store, m.id);
  if (existsSync(path.join(dir, 'data'))) {
    if (!m.readonly) await rm(path.join(dir, CACHE_MOUNT_LAYER_FILE), { force: true });
    return path.join(dir, 'data');
  }
  // First use: create (seeded from an imported cache, else from `from`) in scratch, then rename into place.
  const tmp = await mkdtemp(path.join(ctx.store.tmpDir, 'cache-'));
  let data = path.join(tmp, 'data');
  const tree = m.from !== undefined ? ctx.trees[m.from] : undefined;
  const seeded = (await ctx.seedCacheMount?.(m, tmp)) ?? false;
  if (seeded) {
    if (!m.readonly) await rm(path.join(tmp, CACHE_MOUNT_LAYER_FILE), { force: true });
  } else if (tree) data = await copyOut(tree, m.source ?? '/', data);
  else await mkdir(data);
  await chown(data, m.uid, m.gid);
  await chmod(data, m.mode);
  await writeFile(path.join(tmp, 'id'), m.id);
  await mkdir(ctx.store.cacheMountsDir, { recursive: true });
  // Another build may have created it meanwhile: theirs wins.
  await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }));
  return path.join(dir, 'data');
}

export async function readSecret(source: SecretSource): Promise<Buffer> {
  return 'file' in source ? readFile(source.file) : Buffer.from(process.env[source.env] ?? '');
}

export async function prepareMounts(op: ExecOp, ctx: MountContext): Promise<PreparedMounts> {
  const mounts: MountSpec[] = [];
  const env: string[] = [];
  const releases: Array<() => Promise<void>> = [];
  const release = async (): Promise<void> => {
    for (const r of releases.reverse()) await r().catch(() => {});
  };
  try {
    for (const [i, m] of (op.mounts ?? []).entries()) {
      const scratch = path.join(ctx.scratch, `mount-${i}`);
      switch (m.type) {
        case 'file': {
          await mkdir(scratch, { recursive: true });
          const file = path.join(scratch, path.posix.basename(m.target));
          await writeFile(file, m.data, { mode: m.mode });
          await chmod(file, m.mode);
          mounts.push({ type: 'bind', source: file, target: m.target, readonly: true });
          break;
        }
        case 'bind': {
          const tree = ctx.trees[m.from];
          if (!tree) throw new MountError(`mount source for ${m.target} is not a filesystem`);
          // A read-only context directory with nothing excluded can be bound in place.
          const inPlace = tree instanceof DirTree && m.readonly && !tree.hasExcludes && (await stat(tree.hostPath(tree.resolve(m.source.replace(/^\/+/, '')))).then((s) => s.isDirectory(), () => false));
          const source = inPlace ? tree.hostPath(tree.resolve(m.source.replace(/^\/+/, ''))) : await copyOut(tree, m.source, scratch);
          mounts.push({ type: 'bind', source, target: m.target, readonly: m.readonly });
          break;
        }
        case 'cache': {
          let dir: string;
          const name = `cache-mount-${cacheDirName(m.id)}`;
          if (m.sharing === 'shared') dir = await cacheDir(ctx, m);
          else {
            const held = await ctx.store.lock(name, { wait: m.sharing === 'locked', timeoutMs: 24 * 3600_000 });
            if (held) {
              releases.push(held);
              dir = await cacheDir(ctx, m);
            } else {
              // private, and another build uses it: this one gets its own empty directory.
              dir = scratch;
              await mkdir(dir, { recursive: true });
              await chown(dir, m.uid, m.gid);
              await chmod(dir, m.mode);
            }
          }
          mounts.push({ type: 'bind', source: dir, target: m.target, readonly: m.readonly });
          break;
        }
        case 'tmpfs':
          mounts.push({ type: 'tmpfs', target: m.target, ...(m.size !== undefined ? { sizeBytes: m.size } : {}) });
          break;
        case 'ssh': {
          // The agent's socket is bound in; without --ssh for this id, BuildKit still sets SSH_AUTH_SOCK.
          env.push(`SSH_AUTH_SOCK=${m.target}`);
          const socket = ctx.sshAgents?.get(m.id);
          if (!socket) {
            if (m.required) throw new MountError(`ssh agent "${m.id}" is required but was not provided`, `pass it: tsbuild build --ssh ${m.id}=$SSH_AUTH_SOCK`);
            break;
          }
          mounts.push({ type: 'bind', source: socket, target: m.target, readonly: false });
          break;
        }
        case 'secret': {
          const source = ctx.secrets.get(m.id);
          if (!source) {
            if (m.required) throw new MountError(`secret ${m.id} is required but was not provided`, `pass it: tsbuild build --secret id=${m.id},src=FILE (or env=VAR)`);
            break;
          }
          const value = await readSecret(source);
          if (m.env) env.push(`${m.env}=${value.toString('utf8')}`);
          if (m.target) mounts.push({ type: 'content', target: m.target, content: value, mode: m.mode, uid: m.uid, gid: m.gid });
          break;
        }
      }
    }
  } catch (e) {
    await release();
    throw e;
  }
  return { mounts, env, targets: mounts.map((m) => m.target), release };
}
