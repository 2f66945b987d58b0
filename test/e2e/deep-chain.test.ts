// An image deeper than overlay can stack (issue 12's 1,000 layers, at 200 here to keep the suite
// quick; `npm run stress:layers` does 1,000): it builds, runs, pushes to a real registry and comes
// back by pull into a fresh store, where it runs again. Before flattening, the RUN over 134 lower
// dirs failed with "mount overlay: options too long".
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { deepContext, deepSum } from '../helpers/deep-image.js';
import { storeWithBusybox, tmpDir, tsbuildOk } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';

const LAYERS = 200;

test(`an image of ${LAYERS + 1} layers builds, runs, pushes, pulls and runs again`, async (t) => {
  t.timeout(10 * 60_000);
  const root = await storeWithBusybox();
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const name = `${reg.host}/deep/chain:1`;

  await tsbuildOk(['build', '-q', '-t', name, deepContext(tmpDir('tsbuild-deep-'), LAYERS)], { root });
  // The RUN saw every layer through one mount; `tsbuild run` mounts the full chain the same way.
  t.is((await tsbuildOk(['run', name, 'cat', '/sum'], { root })).stdout, deepSum(LAYERS));
  t.is((await tsbuildOk(['run', name, 'sh', '-c', `cat /layers/f${LAYERS - 2}; ls /layers | wc -l`], { root })).stdout, `${LAYERS - 2}\n${LAYERS - 1}\n`);
  // The flattened copies are kept in the snapshots: 192 = 128 + 64 layers flattened in two steps.
  const flats = readdirSync(path.join(root, 'snapshots')).filter((d) => existsSync(path.join(root, 'snapshots', d, 'flat')));
  t.is(flats.length, 2, 'one flattened copy at 128 and one at 192 layers');

  await tsbuildOk(['push', name], { root });
  const info = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`], { encoding: 'utf8' })) as { Layers: string[] };
  t.is(info.Layers.length, LAYERS + 1, 'busybox + every layer in the pushed manifest');

  const fresh = tmpDir('tsbuild-root-');
  await tsbuildOk(['pull', name], { root: fresh });
  t.is((await tsbuildOk(['run', name, 'cat', '/sum'], { root: fresh })).stdout, deepSum(LAYERS));
});
