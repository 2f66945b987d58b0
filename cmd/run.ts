// `tsbuild run IMAGE [CMD...]`: runs a built image with the build's executor, stdio attached,
// its exit code passed through. The container's writes are thrown away afterwards.
import { constants } from 'node:os';
import { ImageResolver } from '../builder/resolver.js';
import { resolveUser } from '../builder/user.js';
import { withHome } from '../builder/exec.js';
import { spawnContainer } from '../native/container.js';
import { ContentStore } from '../snapshotter/content.js';
import { ImageStore } from '../snapshotter/images.js';
import { Snapshots } from '../snapshotter/snapshots.js';
import { Store } from '../snapshotter/store.js';
import { MergedView } from '../snapshotter/view.js';
import { UsageError } from './errors.js';

export interface RunOptions {
  image: string;
  command: string[];
  root?: string;
  env: string[];
  network: 'host' | 'none';
}

export async function runImage(o: RunOptions): Promise<number> {
  const store = Store.open(o.root);
  const content = new ContentStore(store);
  const snapshots = new Snapshots(store, content);
  const resolver = new ImageResolver(content, new ImageStore(store));
  try {
    const resolved = await resolver.resolve(o.image);
    const { manifest, config } = await resolver.manifest(resolved.source.manifestDigest);
    const chain = await snapshots.importImage(manifest.layers, config.rootfs.diff_ids);
    const rc = config.config ?? {};
    const argv = [...(rc.Entrypoint ?? []), ...(o.command.length ? o.command : rc.Cmd ?? [])];
    if (argv.length === 0) throw new UsageError(`image ${o.image} has no CMD or ENTRYPOINT`, `give a command: tsbuild run ${o.image} sh`);
    const lower = snapshots.lowerDirs(chain);
    const user = resolveUser(new MergedView(lower), rc.User ?? '');
    const active = await snapshots.prepare();
    try {
      const container = await spawnContainer({
        rootfs: await snapshots.mount(chain, active),
        argv,
        env: withHome([...(rc.Env ?? []), ...o.env], user.home),
        cwd: rc.WorkingDir || '/',
        uid: user.uid,
        gid: user.gid,
        additionalGids: user.additionalGids,
        hostname: 'tsbuild',
        network: o.network,
        stdio: 'inherit',
      });
      const forward = (sig: NodeJS.Signals) => () => container.kill(sig);
      const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
      for (const [sig, h] of handlers) process.on(sig, h);
      const status = await container.wait();
      for (const [sig, h] of handlers) process.off(sig, h);
      if (status.exitCode !== null) return status.exitCode;
      return 128 + (status.signal ? constants.signals[status.signal] : 0);
    } finally {
      await snapshots.discard(active);
    }
  } finally {
    await store.close();
  }
}
