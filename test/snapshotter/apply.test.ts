import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { getXattr, setXattr } from '../../native/fsops.js';
import { applyLayer, cleanLayerPath, UnsafeLayerPathError } from '../../snapshotter/apply.js';
import { diffUpperDir } from '../../snapshotter/diff.js';
import { writeTar, type TarEntry, type TarInput } from '../../snapshotter/tar.js';

const ADDON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../native/build/Release/tsbuild_native.node');
const CAP = '01000002ff000000000000000000000000000000';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'apply-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// Walks a tree and prints one JSON line per entry; runs as a child so it can see private mounts.
const DUMP = `
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const ops = require(process.env.ADDON);
const root = process.argv[1], out = {}, inodes = new Map();
(function walk(dir) {
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name), rel = path.relative(root, p), st = fs.lstatSync(p);
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : 'other';
    const x = {};
    for (const k of ops.listXattrs(p).sort()) if (!k.startsWith('trusted.overlay.')) x[k] = ops.getXattr(p, k).toString('hex');
    const key = st.dev + ':' + st.ino;
    out[rel] = { type, mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid, rdev: st.rdev, nlink: type === 'dir' ? 0 : st.nlink,
      mtime: type === 'symlink' ? 0 : Math.floor(st.mtimeMs / 1000), xattrs: x, sameAs: st.nlink > 1 && type !== 'dir' ? inodes.get(key) : undefined,
      data: type === 'file' ? crypto.createHash('md5').update(fs.readFileSync(p)).digest('hex') : type === 'symlink' ? fs.readlinkSync(p) : '' };
    if (!inodes.has(key)) inodes.set(key, rel);
    if (type === 'dir') walk(p);
  }
})(root);
process.stdout.write(JSON.stringify(out));`;

type Dump = Record<string, { type: string; mode: string; uid: number; data: string; xattrs: Record<string, string> }>;

/** Mounts overlay(lower, upper) in a private namespace, runs `script` in it, then dumps the merged tree. */
function overlayDump(lower: string, upper: string, work: string, merged: string, script = ''): Dump {
  const out = execFileSync('unshare', ['-m', 'sh', '-euc',
    `mount -t overlay overlay -o lowerdir=${lower},upperdir=${upper},workdir=${work} ${merged}; cd ${merged}; ${script}\nnode -e "$DUMP" ${merged}`], {
    env: { ...process.env, ADDON, DUMP },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as Dump;
}

function plainDump(dir: string): Dump {
  return JSON.parse(execFileSync('node', ['-e', DUMP, dir], { env: { ...process.env, ADDON }, encoding: 'utf8' })) as Dump;
}

async function lowerFixture(dir: string): Promise<string> {
  const lower = path.join(dir, 'lower');
  for (const d of ['dir/deep', 'sub', 'keepdir']) await mkdir(path.join(lower, d), { recursive: true });
  await writeFile(path.join(lower, 'del'), 'gone');
  await writeFile(path.join(lower, 'dir/old'), 'old');
  await writeFile(path.join(lower, 'dir/deep/older'), 'older');
  await writeFile(path.join(lower, 'keep'), 'keep', { mode: 0o644 });
  await writeFile(path.join(lower, 'sub/a'), 'a');
  await writeFile(path.join(lower, 'sub/b'), 'b');
  await writeFile(path.join(lower, 'keepdir/k'), 'k');
  return lower;
}

const MUTATIONS = [
  'echo new > new', 'rm del', 'rm -rf dir && mkdir dir && echo y > dir/y && mkdir dir/deep && echo z > dir/deep/z',
  'ln new newlink', 'chown 1000:1000 keep', 'chmod 4755 keep',
  `node -e 'require(process.env.ADDON).setXattr("keep", "security.capability", Buffer.from("${CAP}", "hex"))'`,
  `node -e 'require(process.env.ADDON).setXattr("new", "user.bin", Buffer.from("01ff00", "hex"))'`,
  'mkdir fresh && ln -s ../keep fresh/link && mkfifo fresh/pipe && mknod fresh/null c 1 3 && chmod 700 fresh',
  'rm sub/a', 'rm -rf keepdir && echo replaced > keepdir',
].join('; ');

test('a diff applied in overlay mode gives the same merged view, and in delete mode the same tree', async (t) => {
  const dir = await tmp(t);
  const lower = await lowerFixture(dir);
  for (const d of ['upper', 'work', 'merged', 'upper2', 'work2', 'plain']) await mkdir(path.join(dir, d));
  const want = overlayDump(lower, path.join(dir, 'upper'), path.join(dir, 'work'), path.join(dir, 'merged'), MUTATIONS);
  t.is(want['keep']!.mode, '4755');
  t.is(want['keep']!.xattrs['security.capability'], CAP);
  t.false('del' in want);
  t.like(want, { keepdir: { type: 'file' }, 'fresh/null': { type: 'char' }, 'dir/deep/z': { type: 'file' }, 'sub/b': { type: 'file' } });
  t.false('sub/a' in want);
  t.false('dir/deep/older' in want);
  t.false('dir/old' in want);

  // overlay mode: the applied dir, used as the upper, reproduces the merged view.
  const res = await applyLayer(diffUpperDir(path.join(dir, 'upper')), path.join(dir, 'upper2'), { whiteouts: 'overlay' });
  t.true(res.entries > 10);
  const wh = await lstat(path.join(dir, 'upper2/del'));
  t.true(wh.isCharacterDevice() && wh.rdev === 0);
  t.deepEqual(getXattr(path.join(dir, 'upper2/dir'), 'trusted.overlay.opaque'), Buffer.from('y'));
  const got = overlayDump(lower, path.join(dir, 'upper2'), path.join(dir, 'work2'), path.join(dir, 'merged'));
  t.deepEqual(got, want);

  // delete mode on a copy of the lower tree.
  execFileSync('cp', ['-a', `${lower}/.`, path.join(dir, 'plain')]);
  await applyLayer(diffUpperDir(path.join(dir, 'upper')), path.join(dir, 'plain'), { whiteouts: 'delete' });
  t.deepEqual(plainDump(path.join(dir, 'plain')), want);
});

async function* gen(items: TarInput[]): AsyncGenerator<TarInput> {
  yield* items;
}
const E = (p: string, type: TarEntry['type'], extra: Partial<TarEntry> = {}): TarInput => ({
  entry: { path: p, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: 1600000000, ...extra },
});
const F = (p: string, data: string, extra: Partial<TarEntry> = {}): TarInput => ({
  ...E(p, 'file', { size: Buffer.byteLength(data), ...extra }), body: Buffer.from(data),
});
const apply = (items: TarInput[], target: string, whiteouts: 'overlay' | 'delete' = 'delete') =>
  applyLayer(writeTar(gen(items)), target, { whiteouts });

test('cleanLayerPath', (t) => {
  t.is(cleanLayerPath('/abs//path/'), 'abs/path');
  t.is(cleanLayerPath('./a/./b/../c'), 'a/c');
  t.is(cleanLayerPath('./'), '');
  t.throws(() => cleanLayerPath('/../x'), { instanceOf: UnsafeLayerPathError }); // made relative first, then checked
  t.throws(() => cleanLayerPath('../escape'), { instanceOf: UnsafeLayerPathError });
  t.throws(() => cleanLayerPath('a/../../escape'), { instanceOf: UnsafeLayerPathError });
});

test('malicious paths are rejected or contained', async (t) => {
  const dir = await tmp(t);
  const target = path.join(dir, 'target');
  const outside = path.join(dir, 'outside');
  await mkdir(outside, { mode: 0o755 });
  await chmod(outside, 0o755);
  await writeFile(path.join(outside, 'victim'), 'precious');

  await t.throwsAsync(apply([F('../escape', 'x')], target), { instanceOf: UnsafeLayerPathError, message: /outside the target/ });
  await t.throwsAsync(apply([F('a/../../escape', 'x')], target), { instanceOf: UnsafeLayerPathError });
  t.false(existsSync(path.join(dir, 'escape')));

  await apply([F('/abs/path', 'contained')], target);
  t.is(await readFile(path.join(target, 'abs/path'), 'utf8'), 'contained');

  // A symlink to / and a file through it: resolved as if the target were the root.
  await apply([E('evil', 'symlink', { linkname: '/' }), F('evil/etc/passwd-owned', 'pwned'),
    E('up', 'symlink', { linkname: '../../../../..' }), F('up/x', 'x'),
    E('out', 'symlink', { linkname: outside }), F('out/victim', 'overwritten')], target);
  t.false(existsSync('/etc/passwd-owned'));
  t.is(await readFile(path.join(target, 'etc/passwd-owned'), 'utf8'), 'pwned');
  t.is(await readFile(path.join(target, 'x'), 'utf8'), 'x');
  t.is(await readFile(path.join(outside, 'victim'), 'utf8'), 'precious');
  t.is(await readFile(path.join(target, outside, 'victim'), 'utf8'), 'overwritten');
  t.is(await readlink(path.join(target, 'evil')), '/'); // symlinks themselves are written as-is

  // Hardlinks must point inside.
  await t.throwsAsync(apply([E('h', 'hardlink', { linkname: '../../etc/passwd' })], target), { instanceOf: UnsafeLayerPathError, message: /hardlink target/ });
  await t.throwsAsync(apply([E('h', 'hardlink', { linkname: '/etc/passwd' })], target), { message: /does not exist/ });
  // Through the symlink 'out' (absolute): resolved inside the target, so it links the contained copy.
  await apply([E('h', 'hardlink', { linkname: 'out/victim' })], target);
  t.is(await readFile(path.join(target, 'h'), 'utf8'), 'overwritten');
  t.is((await stat('/etc/passwd')).nlink, 1);
  t.is((await stat(path.join(outside, 'victim'))).nlink, 1);

  // Whiteouts through a symlink stay inside; '..' whiteouts are refused.
  await apply([F('out/.wh.victim', '')], target);
  t.is(await readFile(path.join(outside, 'victim'), 'utf8'), 'precious');
  t.false(existsSync(path.join(target, outside, 'victim')));
  await t.throwsAsync(apply([F('sub/.wh...', '')], target), { instanceOf: UnsafeLayerPathError });

  // A file replacing a symlink replaces the link, not its target.
  await apply([F('out', 'now a file')], target);
  t.is(await readFile(path.join(target, 'out'), 'utf8'), 'now a file');
  t.true((await stat(outside)).isDirectory());

  // A dir later replaced by a symlink: its deferred mode must not land on the symlink's target.
  await apply([E('d', 'dir', { mode: 0o777 }), E('d', 'symlink', { linkname: outside })], target);
  t.is((await stat(outside)).mode & 0o7777, 0o755);
  // Overlay control xattrs are never taken from an archive.
  await apply([E('o', 'dir', { xattrs: new Map([['trusted.overlay.redirect', Buffer.from('/etc')], ['user.ok', Buffer.from('1')]]) })], target, 'overlay');
  t.is(getXattr(path.join(target, 'o'), 'trusted.overlay.redirect'), null);
  t.deepEqual(getXattr(path.join(target, 'o'), 'user.ok'), Buffer.from('1'));
});

test('metadata: setuid survives chown, capabilities survive, dir mtimes set after contents', async (t) => {
  const dir = await tmp(t);
  const caps = new Map([['security.capability', Buffer.from(CAP, 'hex')]]);
  await apply([
    E('ro', 'dir', { mode: 0o555, mtime: 1000 }),
    F('ro/suid', 'bin', { mode: 0o4755, uid: 1000, gid: 1000, mtime: 2000, xattrs: caps }),
    E('ro/hl', 'hardlink', { linkname: 'ro/suid', mode: 0o4755, uid: 1000, gid: 1000, mtime: 2000 }),
    E('ro/sym', 'symlink', { linkname: 'suid', uid: 1000000, gid: 5, mtime: 3000 }),
    E('ro/null', 'char', { devmajor: 1, devminor: 3, mode: 0o666 }),
  ], dir);
  const ro = await lstat(path.join(dir, 'ro'));
  t.is(ro.mode & 0o7777, 0o555);
  t.is(ro.mtimeMs, 1000 * 1000);
  const suid = await lstat(path.join(dir, 'ro/suid'));
  t.is(suid.mode & 0o7777, 0o4755);
  t.is(suid.uid, 1000);
  t.is(suid.nlink, 2);
  t.is(suid.mtimeMs, 2000 * 1000);
  t.deepEqual(getXattr(path.join(dir, 'ro/suid'), 'security.capability'), Buffer.from(CAP, 'hex'));
  const sym = await lstat(path.join(dir, 'ro/sym'));
  t.like(sym, { uid: 1000000, gid: 5, mtimeMs: 3000 * 1000 });
  const nul = await lstat(path.join(dir, 'ro/null'));
  t.true(nul.isCharacterDevice());
  t.is(nul.rdev, 0x103);
  t.is(nul.mode & 0o777, 0o666);
});

test('replacements: file over dir, dir over file, dir over dir keeps contents', async (t) => {
  const dir = await tmp(t);
  await mkdir(path.join(dir, 'a/inner'), { recursive: true });
  await writeFile(path.join(dir, 'b'), 'file');
  await mkdir(path.join(dir, 'c'));
  await writeFile(path.join(dir, 'c/kept'), 'kept');
  await apply([F('a', 'now a file'), E('b', 'dir', { mode: 0o711 }), E('c', 'dir', { mode: 0o700, uid: 7 })], dir);
  t.is(await readFile(path.join(dir, 'a'), 'utf8'), 'now a file');
  t.true((await lstat(path.join(dir, 'b'))).isDirectory());
  t.is((await lstat(path.join(dir, 'b'))).mode & 0o777, 0o711);
  t.is(await readFile(path.join(dir, 'c/kept'), 'utf8'), 'kept');
  t.like(await lstat(path.join(dir, 'c')), { uid: 7 });
});

test('opaque in delete mode keeps what the same layer wrote', async (t) => {
  const dir = await tmp(t);
  await mkdir(path.join(dir, 'd/sub'), { recursive: true });
  await writeFile(path.join(dir, 'd/old'), 'old');
  await writeFile(path.join(dir, 'd/sub/old'), 'old');
  await apply([E('d', 'dir'), F('d/new', 'new'), F('d/sub/new', 'new'), F('d/.wh..wh..opq', '')], dir);
  t.deepEqual((await import('node:fs')).readdirSync(path.join(dir, 'd')).sort(), ['new', 'sub']);
  t.deepEqual((await import('node:fs')).readdirSync(path.join(dir, 'd/sub')), ['new']);
});

test('large files stream; a truncated archive fails cleanly', async (t) => {
  const dir = await tmp(t);
  const big = Buffer.alloc(5 << 20, 7);
  await apply([{ ...E('big', 'file', { size: big.length }), body: Readable.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]) }], dir);
  t.true((await readFile(path.join(dir, 'big'))).equals(big));
  const chunks: Buffer[] = [];
  for await (const c of writeTar(gen([{ ...E('big2', 'file', { size: big.length }), body: big }]))) chunks.push(c as Buffer);
  const whole = Buffer.concat(chunks);
  await t.throwsAsync(applyLayer(Readable.from([whole.subarray(0, 3 << 20)]), dir, { whiteouts: 'delete' }), { message: /truncated/ });
});

test('applies a GNU tar archive (ADD of a tarball)', async (t) => {
  const dir = await tmp(t);
  const src = path.join(dir, 'src');
  await mkdir(path.join(src, 'x/y'), { recursive: true });
  await writeFile(path.join(src, 'x/y/f'), 'f');
  setXattr(path.join(src, 'x/y/f'), 'user.k', Buffer.from([0xff]));
  execFileSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '-cf', path.join(dir, 'a.tar'), '-C', src, '.']);
  await applyLayer((await import('node:fs')).createReadStream(path.join(dir, 'a.tar')), path.join(dir, 'out'), { whiteouts: 'delete' });
  t.is(await readFile(path.join(dir, 'out/x/y/f'), 'utf8'), 'f');
  t.deepEqual(getXattr(path.join(dir, 'out/x/y/f'), 'user.k'), Buffer.from([0xff]));
});
