import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readdir, readlink, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { diffUpperDir, splitRdev } from '../../snapshotter/diff.js';
import { type TarEntry } from '../../snapshotter/tar.js';
import { readTar } from '../../snapshotter/tarread.js';

const ADDON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../native/build/Release/tsbuild_native.node');
const HELPERS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers');
const CAP = '01000002ff000000000000000000000000000000';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'diff-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function entries(r: Readable): Promise<Array<TarEntry & { data: string }>> {
  const out: Array<TarEntry & { data: string }> = [];
  for await (const { entry, body } of readTar(r)) {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c as Buffer);
    out.push({ ...entry, data: Buffer.concat(parts).toString() });
  }
  return out;
}

async function digest(r: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of r) h.update(c as Buffer);
  return h.digest('hex');
}

/** Runs `script` (sh) in a private mount namespace with lower/upper mounted at $M. */
function inOverlay(dir: string, script: string): void {
  const [l, u, w, m] = ['lower', 'upper', 'work', 'merged'].map((d) => path.join(dir, d));
  execFileSync('unshare', ['-m', 'sh', '-euc', `mount -t overlay overlay -o lowerdir=${l},upperdir=${u},workdir=${w} ${m}; cd ${m}; ${script}`], {
    env: { ...process.env, M: m, ADDON },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

async function overlayFixture(dir: string): Promise<void> {
  for (const d of ['lower/dir', 'lower/sub', 'upper', 'work', 'merged']) await mkdir(path.join(dir, d), { recursive: true });
  await writeFile(path.join(dir, 'lower/del'), 'gone');
  await writeFile(path.join(dir, 'lower/dir/old'), 'old');
  await writeFile(path.join(dir, 'lower/keep'), 'keep', { mode: 0o644 });
  await writeFile(path.join(dir, 'lower/sub/a'), 'a');
  const setx = (p: string, name: string, hex: string): string =>
    `node -e 'require(process.env.ADDON).setXattr("${p}", "${name}", Buffer.from("${hex}", "hex"))'`;
  inOverlay(dir, [
    'echo new > new',
    'rm del',
    'rm -rf dir && mkdir dir && echo y > dir/y',
    'ln new newlink',
    'chmod 4755 keep',
    setx('keep', 'user.note', '01ff00'),
    setx('new', 'security.capability', CAP),
    'mkdir fresh && ln -s ../keep fresh/link && mkfifo fresh/pipe && mknod fresh/null c 1 3',
    'rm sub/a',
    'chown -h 1000000:1000001 fresh/link',
  ].join('; '));
}

test('diff of a real overlay upper dir: whiteouts, opaque dirs, hardlinks, xattrs', async (t) => {
  const dir = await tmp(t);
  await overlayFixture(dir);
  const got = await entries(diffUpperDir(path.join(dir, 'upper')));
  const summary = got.map((e) => [e.path, e.type, e.mode.toString(8), e.uid, e.gid, e.size, e.linkname ?? '', e.data]);
  t.deepEqual(summary, [
    ['.wh.del', 'file', '0', 0, 0, 0, '', ''],
    ['dir', 'dir', '755', 0, 0, 0, '', ''],
    ['dir/.wh..wh..opq', 'file', '0', 0, 0, 0, '', ''],
    ['dir/y', 'file', '644', 0, 0, 2, '', 'y\n'],
    ['fresh', 'dir', '755', 0, 0, 0, '', ''],
    ['fresh/link', 'symlink', '777', 1000000, 1000001, 0, '../keep', ''],
    ['fresh/null', 'char', '644', 0, 0, 0, '', ''],
    ['fresh/pipe', 'fifo', '644', 0, 0, 0, '', ''],
    ['keep', 'file', '4755', 0, 0, 4, '', 'keep'],
    ['new', 'file', '644', 0, 0, 4, '', 'new\n'],
    ['newlink', 'hardlink', '644', 0, 0, 0, 'new', ''],
    ['sub', 'dir', '755', 0, 0, 0, '', ''],
    ['sub/.wh.a', 'file', '0', 0, 0, 0, '', ''],
  ]);
  const by = new Map(got.map((e) => [e.path, e]));
  t.like(by.get('fresh/null'), { devmajor: 1, devminor: 3 });
  // Overlay's own xattrs (origin, opaque, impure...) are dropped; user ones are kept as raw bytes.
  t.deepEqual(by.get('keep')!.xattrs, new Map([['user.note', Buffer.from([0x01, 0xff, 0x00])]]));
  t.deepEqual(by.get('new')!.xattrs, new Map([['security.capability', Buffer.from(CAP, 'hex')]]));
  // A hardlink shares the inode, so it carries the same xattrs (containerd writes them too).
  t.deepEqual(by.get('newlink')!.xattrs, by.get('new')!.xattrs);
  for (const e of got) {
    if (!['keep', 'new', 'newlink'].includes(e.path)) t.is(e.xattrs, undefined, e.path);
    t.is(e.uname, undefined);
  }
});

test('sourceDateEpoch clamps mtimes and makes diffs byte-identical', async (t) => {
  const dir = await tmp(t);
  await overlayFixture(dir);
  const upper = path.join(dir, 'upper');
  await writeFile(path.join(upper, 'old'), 'from the past');
  await utimes(path.join(upper, 'old'), 1000, 1000);
  const epoch = 1600000000;
  const a = await digest(diffUpperDir(upper, { sourceDateEpoch: epoch }));
  const b = await digest(diffUpperDir(upper, { sourceDateEpoch: epoch }));
  t.is(a, b);
  const got = await entries(diffUpperDir(upper, { sourceDateEpoch: epoch }));
  for (const e of got) t.is(e.mtime, e.path === 'old' ? 1000 : epoch, e.path);
  // Touching a file (new mtime, same content) does not change the clamped layer.
  await utimes(path.join(upper, 'new'), 1700000000, 1700000000);
  t.is(await digest(diffUpperDir(upper, { sourceDateEpoch: epoch })), a);
  t.not(await digest(diffUpperDir(upper)), await digest(diffUpperDir(upper, { sourceDateEpoch: 1700000001 })));
});

test('empty upper dir gives the empty layer; order is byte order per directory, Walk-style', async (t) => {
  const dir = await tmp(t);
  t.is(await digest(diffUpperDir(dir)), '5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
  for (const d of ['a', 'a-b', 'B', 'é']) await mkdir(path.join(dir, d));
  await writeFile(path.join(dir, 'a', 'x'), '');
  await writeFile(path.join(dir, '\u{1F600}'), '');
  await writeFile(path.join(dir, '\uFF21'), '');
  const got = await entries(diffUpperDir(dir));
  // Walk order: 'a' and its contents before 'a-b'; bytes: 'B' < 'a'; U+FF21 (ef bc a1) < U+1F600 (f0 9f 98 80).
  t.deepEqual(got.map((e) => e.path), ['B', 'a', 'a/x', 'a-b', 'é', '\uFF21', '\u{1F600}']);
});

test('a file that changes size while being archived is an error, not a corrupt layer', async (t) => {
  const dir = await tmp(t);
  await writeFile(path.join(dir, 'f'), Buffer.alloc(16 << 20, 1));
  await t.throwsAsync(async () => {
    for await (const { body } of readTar(diffUpperDir(dir))) {
      // Shrink the file after its header (and size) went out, while its body is still being read.
      await truncate(path.join(dir, 'f'), 100);
      for await (const _ of body) { /* drain */ }
    }
  }, { message: /declared size/ });
});

test('a large file that grows while being archived is an error, and the file is closed after it', async (t) => {
  const dir = await tmp(t);
  const f = path.join(dir, 'f');
  await writeFile(f, Buffer.alloc(3 << 20, 1)); // read in several chunks
  const openOnF = async (): Promise<number> => {
    let n = 0;
    for (const fd of await readdir('/proc/self/fd')) n += await readlink(`/proc/self/fd/${fd}`).then((l) => (l === f ? 1 : 0), () => 0);
    return n;
  };
  await t.throwsAsync(async () => {
    for await (const { body } of readTar(diffUpperDir(dir))) {
      await appendFile(f, Buffer.alloc(2 << 20, 2)); // after its header (and size) went out
      for await (const _ of body) { /* drain */ }
    }
  }, { message: /longer than its declared size/ });
  t.is(await openOnF(), 0);
});

test('splitRdev matches glibc major/minor', (t) => {
  t.deepEqual(splitRdev(0x0103n), [1, 3]);
  t.deepEqual(splitRdev((0xabcn << 8n) | 0x12n | (0x3n << 32n << 12n) | (0x456n << 12n << 8n)), [0x3abc, 0x45612]);
});

test('memory stays flat while a layer ten times the bound streams through diff and the tar reader', async (t) => {
  // 300 MB in 10 MB files (sparse: they read as zeros without using the disk) and 2000 small ones.
  const dir = await tmp(t);
  await mkdir(path.join(dir, 'big'));
  await mkdir(path.join(dir, 'small'));
  for (let i = 0; i < 30; i++) {
    const f = path.join(dir, 'big', `f${i}`);
    await writeFile(f, '');
    await truncate(f, 10 << 20);
  }
  await Promise.all(Array.from({ length: 2000 }, (_, i) => writeFile(path.join(dir, 'small', `s${i}`), `${i}\n`)));
  const smallBytes = Array.from({ length: 2000 }, (_, i) => `${i}\n`.length).reduce((a, b) => a + b, 0);
  // A child of its own, so that gc() is there and nothing else in the process holds memory.
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import=tsx', path.join(HELPERS, 'layer-memory.ts'), dir]);
  const got = JSON.parse(stdout) as { entries: number; bytes: number; peakExternal: number; peakRss: number };
  t.is(got.entries, 2 + 30 + 2000);
  t.is(got.bytes, 300 * (1 << 20) + smallBytes);
  const bound = 32 << 20;
  t.true(got.peakExternal < bound, `Buffers held at once grew by ${got.peakExternal} bytes`);
  t.true(got.peakRss < 2 * bound, `RSS grew by ${got.peakRss} bytes`);
});
