// `tsbuild run IMAGE [CMD...]`: runs a stored image with the build's executor, stdio attached, and
// gives back its exit status. The container's writes are thrown away afterwards.
import { constants } from 'node:os';
import { UsageError } from '../common/errors.js';
import type { Platform } from '../common/oci.js';
import { spawnContainer } from '../native/container.js';
import { MergedView } from '../snapshotter/view.js';
import type { StoreParts } from './engine.js';
import { withHome } from './exec.js';
import { checkEmulation } from './emulation.js';
import { ImageResolver } from './resolver.js';
import { resolveUser } from './user.js';

export interface RunRequest {
  image: string;
  /** Replaces the image's CMD when not empty. */
  command: readonly string[];
  /** KEY=VALUE, added to the image's Env. */
  env: readonly string[];
  network: 'host' | 'none';
  /** Which platform's image of a multi-platform one (default this machine's); another architecture runs under emulation. */
  platform?: Platform;
  /** Called once the container runs, with a way to signal it (cmd/ forwards SIGINT and friends). */
  onStart?: (signal: (sig: NodeJS.Signals) => void) => void;
}

/** The command's exit code, or 128 + the signal number that killed it (as a shell reports it). */
export async function runImage(parts: StoreParts, req: RunRequest): Promise<number> {
  const resolver = new ImageResolver(parts.content, parts.images, req.platform);
  const resolved = await resolver.resolve(req.image);
  const { manifest, config } = await resolver.manifest(resolved.source.manifestDigest);
  checkEmulation({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) });
  const chain = await parts.snapshots.importImage(manifest.layers, config.rootfs.diff_ids);
  const rc = config.config ?? {};
  const argv = [...(rc.Entrypoint ?? []), ...(req.command.length ? req.command : rc.Cmd ?? [])];
  if (argv.length === 0) throw new UsageError(`image ${req.image} has no CMD or ENTRYPOINT`, `give a command: tsbuild run ${req.image} sh`);
  const user = resolveUser(new MergedView(parts.snapshots.lowerDirs(chain)), rc.User ?? '');
  const active = await parts.snapshots.prepare();
  try {
    const container = await spawnContainer({
      rootfs: await parts.snapshots.mount(chain, active),
      argv,
      env: withHome([...(rc.Env ?? []), ...req.env], user.home),
      cwd: rc.WorkingDir || '/',
      uid: user.uid,
      gid: user.gid,
      additionalGids: user.additionalGids,
      hostname: 'tsbuild',
      network: req.network,
      stdio: 'inherit',
    });
    req.onStart?.((sig) => container.kill(sig));
    const status = await container.wait();
    if (status.exitCode !== null) return status.exitCode;
    return 128 + (status.signal ? constants.signals[status.signal] : 0);
  } finally {
    await parts.snapshots.discard(active);
  }
}
