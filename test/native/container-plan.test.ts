// The addon's one plan reader (native/src/container/plan.cc): a malformed plan is a TypeError naming the
// field, thrown before anything is cloned. Every plan here is broken somewhere, so none starts a container.
import test from 'ava';
import { addon } from '../../native/binding.js';

const containerSpawn = (plan: unknown): unknown =>
  (addon() as { containerSpawn(p: unknown, onStart: () => void, onExit: () => void): unknown }).containerSpawn(plan, () => {}, () => {});

const rootfs = { kind: 'dir', mountpoint: '/nonexistent-mountpoint', source: '/nonexistent-rootfs' };
// No `mounts`: a plan built on this fails at the latest there.
const base = {
  rootfs, argv: ['true'], env: [], candidates: ['/bin/true'], cwd: '/', uid: 0, gid: 0, groups: [],
  privileged: false, hostname: 'h', newNet: true, pipeStdio: true,
};
const tmpfs = { type: 'tmpfs', target: '/t', data: 'mode=1777', readonly: false };

const cases: [string, unknown, string][] = [
  ['not an object', null, 'plan must be an object'],
  ['no rootfs', {}, 'plan.rootfs must be an object'],
  ['unknown rootfs kind', { ...base, rootfs: { ...rootfs, kind: 'zfs' } }, 'plan.rootfs.kind has an unknown value "zfs"'],
  ['overlay without data', { ...base, rootfs: { kind: 'overlay', mountpoint: '/m', emptyLower: false } }, 'plan.rootfs.data must be a string'],
  ['empty argv', { ...base, argv: [] }, 'plan.argv must not be empty'],
  ['a number in env', { ...base, env: ['A=1', 2] }, 'plan.env[1] must be a string'],
  ['NUL in cwd', { ...base, cwd: '/a\0b' }, 'plan.cwd must not contain NUL'],
  ['negative uid', { ...base, uid: -1 }, 'plan.uid must be an integer in [0, 2^32)'],
  ['fractional group', { ...base, groups: [5, 1.5] }, 'plan.groups[1] must be an integer in [0, 2^32)'],
  ['string for a flag', { ...base, newNet: 'yes' }, 'plan.newNet must be a boolean'],
  ['hosts not a string', { ...base, hosts: 1 }, 'plan.hosts must be a string'],
  ['no mounts', base, 'plan.mounts must be an array'],
  ['bind without readonly', { ...base, mounts: [{ type: 'bind', target: '/x', source: '/y', isDir: true }] }, 'plan.mounts[0].readonly must be a boolean'],
  ['content as a string', { ...base, mounts: [tmpfs, { type: 'content', target: '/s', content: 'text', mode: 0o400, uid: 0, gid: 0 }] },
    'plan.mounts[1].content must be a Buffer'],
  ['unknown mount type', { ...base, mounts: [tmpfs, tmpfs, { type: 'nfs', target: '/n' }] }, 'plan.mounts[2].type has an unknown value "nfs"'],
  ['no rlimits', { ...base, mounts: [] }, 'plan.rlimits must be an array'],
  ['unknown rlimit', { ...base, mounts: [], rlimits: [{ name: 'files', soft: 1, hard: 1 }] }, 'plan.rlimits[0].name has an unknown value "files"'],
  ['fractional rlimit', { ...base, mounts: [], rlimits: [{ name: 'nofile', soft: 1.5, hard: 2 }] }, 'plan.rlimits[0].soft must be -1 or an integer in [0, 2^53]'],
  ['rlimit below -1', { ...base, mounts: [], rlimits: [{ name: 'core', soft: 0, hard: -2 }] }, 'plan.rlimits[0].hard must be -1 or an integer in [0, 2^53]'],
];

for (const [name, plan, message] of cases) {
  test(`plan reader: ${name}`, (t) => {
    t.throws(() => containerSpawn(plan), { instanceOf: TypeError, message: `containerSpawn: ${message}` });
  });
}
