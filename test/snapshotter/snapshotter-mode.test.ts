// Which snapshotter a store uses: overlay where the kernel allows it, copying elsewhere. In a user
// namespace (rootless) kernels before 5.11 refuse overlayfs, so those copy.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../helpers/cli.js';

test('in a user namespace, kernels before 5.11 copy and later ones use overlay; outside, the release does not matter', (t) => {
  const script = "import('./snapshotter/snapshots.ts').then((m) => console.log([m.detectMode('5.10.200'), m.detectMode('5.11.0'), m.detectMode('6.18.1')].join(' ')))";
  const run = (prefix: string[]): string => {
    const r = spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, '--import=tsx', '-e', script], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, TSBUILD_SNAPSHOTTER: '' } });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };
  t.is(run(['unshare', '--user', '--map-root-user', '--']), 'copy overlay overlay');
  t.is(run(['env']), 'overlay overlay overlay');
});
