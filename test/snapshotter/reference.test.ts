import test from 'ava';
import { familiarName, normalizeReference, parseReference } from '../../snapshotter/reference.js';

test('docker.io defaults and familiar names', (t) => {
  t.is(normalizeReference('app'), 'docker.io/library/app:latest');
  t.is(normalizeReference('app:1'), 'docker.io/library/app:1');
  t.is(normalizeReference('team/app:1'), 'docker.io/team/app:1');
  t.is(normalizeReference('localhost:5000/busybox'), 'localhost:5000/busybox:latest');
  t.is(normalizeReference('registry.example/a/b:c'), 'registry.example/a/b:c');
  t.is(familiarName('docker.io/library/app:1'), 'app:1');
  t.is(familiarName('localhost:5000/busybox:latest'), 'localhost:5000/busybox:latest');
});

test('digests and invalid references', (t) => {
  const d = `sha256:${'b'.repeat(64)}`;
  t.deepEqual(parseReference(`app@${d}`), { domain: 'docker.io', path: 'library/app', tag: undefined, digest: d });
  t.throws(() => parseReference('App:1'), { message: /must be lowercase/ });
  t.throws(() => parseReference('app:bad tag'), { message: /bad tag/ });
});
