import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chown, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, utimes, writeFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { getXattr, setXattr } from '../../native/fsops.js';
import { LayerFormatError, writeTar, type TarEntry, type TarInput } from '../../snapshotter/tar.js';
import { readTar } from '../../snapshotter/tarread.js';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tar-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function readAll(input: Readable): Promise<Array<{ entry: TarEntry; data: Buffer }>> {
  const out: Array<{ entry: TarEntry; data: Buffer }> = [];
  for await (const { entry, body } of readTar(input)) out.push({ entry, data: await collect(body) });
  return out;
}

async function* gen(items: TarInput[]): AsyncGenerator<TarInput> {
  yield* items;
}

const CAP = Buffer.from('01000002ff000000000000000000000000000000', 'hex'); // valid vfs_cap_data v2
const longDir = 'd'.repeat(60) + '/' + 'e'.repeat(60); // splittable into prefix/name
const longPath = `${longDir}/${'f'.repeat(80)}`; // 202 bytes, ustar prefix split
const veryLong = Array.from({ length: 6 }, (_, i) => `${i}`.repeat(50)).join('/') + '/tail'; // > 255: PAX path
const utf8 = 'répertoire/файл-日本語.txt';
const big = randomBytes(1024 * 1024 + 3);
const t0 = 1700000000;

function sampleEntries(): TarInput[] {
  const base = { uid: 0, gid: 0, mtime: t0, size: 0 };
  return [
    { entry: { ...base, path: 'emptydir', type: 'dir', mode: 0o755 } },
    { entry: { ...base, path: longDir, type: 'dir', mode: 0o700 } },
    { entry: { ...base, path: longPath, type: 'file', mode: 0o644, size: 5, uid: 1000000, gid: 1000000 }, body: Readable.from([Buffer.from('hello')]) },
    { entry: { ...base, path: 'setuid', type: 'file', mode: 0o4755, size: big.length, xattrs: new Map([['security.capability', CAP], ['user.bin', Buffer.from([0x01, 0xff, 0x00])]]) }, body: () => Readable.from([big.subarray(0, 1000), big.subarray(1000)]) },
    { entry: { ...base, path: utf8, type: 'file', mode: 0o600, size: 3, uid: 3000000, gid: 4000000, mtime: t0 + 0.75 }, body: Readable.from([Buffer.from('abc')]) },
    { entry: { ...base, path: veryLong, type: 'file', mode: 0o644, size: 0 } },
    { entry: { ...base, path: 'hard', type: 'hardlink', mode: 0o4755, linkname: 'setuid' } },
    { entry: { ...base, path: 'sym', type: 'symlink', mode: 0o777, linkname: '../' + 'x'.repeat(150) } },
    { entry: { ...base, path: 'sym2', type: 'symlink', mode: 0o777, linkname: '/etc/ünïcode' } },
    { entry: { ...base, path: 'null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 } },
    { entry: { ...base, path: 'loop', type: 'block', mode: 0o660, devmajor: 7, devminor: 0 } },
    { entry: { ...base, path: 'fifo', type: 'fifo', mode: 0o644 } },
  ];
}

test('round trip through our reader preserves every field', async (t) => {
  const written = await collect(writeTar(gen(sampleEntries())));
  t.is(written.length % 512, 0);
  t.deepEqual(written.subarray(-1024), Buffer.alloc(1024));
  const got = await readAll(Readable.from([written]));
  const expected = sampleEntries();
  t.is(got.length, expected.length);
  for (const [i, { entry }] of got.entries()) {
    const want = { ...expected[i]!.entry, mtime: Math.floor(expected[i]!.entry.mtime) };
    t.deepEqual(entry, want, want.path);
  }
  t.deepEqual(got[2]!.data, Buffer.from('hello'));
  t.true(got[3]!.data.equals(big));
  t.deepEqual(got[4]!.data, Buffer.from('abc'));
});

test('reader works on tiny input chunks', async (t) => {
  const written = await collect(writeTar(gen(sampleEntries())));
  const chunks: Buffer[] = [];
  for (let i = 0; i < written.length; i += 77) chunks.push(written.subarray(i, i + 77));
  const got = await readAll(Readable.from(chunks));
  t.is(got.length, 12);
  t.true(got[3]!.data.equals(big));
});

test('empty archive is two zero blocks (the well-known empty layer digest)', async (t) => {
  const written = await collect(writeTar(gen([])));
  t.deepEqual(written, Buffer.alloc(1024));
  t.is(createHash('sha256').update(written).digest('hex'), '5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
  t.deepEqual(await readAll(Readable.from([written])), []);
});

test('GNU tar lists and extracts what we write identically', async (t) => {
  const dir = await tmp(t);
  const file = path.join(dir, 'x.tar');
  await pipeline(writeTar(gen(sampleEntries())), createWriteStream(file));
  const listing = execFileSync('tar', ['--numeric-owner', '--utc', '-tvf', file], { encoding: 'utf8' }).trim().split('\n').map((l) => l.replace(/ +/g, ' '));
  t.is(listing.length, 12);
  t.regex(listing[0]!, /^drwxr-xr-x 0\/0 0 2023-11-14 22:13 emptydir\/$/);
  t.true(listing[2]!.startsWith('-rw-r--r-- 1000000/1000000 5 '));
  t.true(listing[2]!.endsWith(` ${longPath}`));
  t.true(listing[3]!.startsWith(`-rwsr-xr-x 0/0 ${big.length} `));
  t.true(listing[4]!.startsWith('-rw------- 3000000/4000000 3 '));
  t.true(listing[4]!.endsWith(` ${utf8}`));
  t.true(listing[5]!.endsWith(` ${veryLong}`));
  t.true(listing[6]!.endsWith(' hard link to setuid'));
  t.true(listing[7]!.endsWith(` sym -> ../${'x'.repeat(150)}`));
  t.true(listing[8]!.endsWith(' sym2 -> /etc/ünïcode'));
  t.regex(listing[9]!, /^crw-rw-rw- 0\/0 +1,3 /);
  t.regex(listing[10]!, /^brw-rw---- 0\/0 +7,0 /);
  t.regex(listing[11]!, /^prw-r--r-- /);

  const out = path.join(dir, 'out');
  await mkdir(out);
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', file, '-C', out]);
  const st = await lstat(path.join(out, 'setuid'));
  t.is(st.mode & 0o7777, 0o4755);
  t.is(st.nlink, 2);
  t.is(st.ino, (await lstat(path.join(out, 'hard'))).ino);
  t.true((await readFile(path.join(out, 'setuid'))).equals(big));
  t.deepEqual(getXattr(path.join(out, 'setuid'), 'security.capability'), CAP);
  t.deepEqual(getXattr(path.join(out, 'setuid'), 'user.bin'), Buffer.from([0x01, 0xff, 0x00]));
  const u = await lstat(path.join(out, utf8));
  t.is(u.uid, 3000000);
  t.is(u.gid, 4000000);
  t.is(u.mtimeMs, t0 * 1000);
  t.is((await lstat(path.join(out, longPath))).uid, 1000000);
  t.is(await readlink(path.join(out, 'sym')), `../${'x'.repeat(150)}`);
  t.true((await lstat(path.join(out, veryLong))).isFile());
});

test('Python tarfile reads what we write identically', async (t) => {
  const dir = await tmp(t);
  const file = path.join(dir, 'x.tar');
  await pipeline(writeTar(gen(sampleEntries())), createWriteStream(file));
  const script = `
import json, sys, tarfile
out = []
with tarfile.open(sys.argv[1]) as tf:
    for m in tf:
        out.append({'name': m.name, 'type': m.type.decode(), 'size': m.size, 'uid': m.uid, 'gid': m.gid,
                    'mode': m.mode, 'mtime': m.mtime, 'linkname': m.linkname, 'dev': [m.devmajor, m.devminor],
                    'xattrs': {k[13:]: v.encode('utf-8', 'surrogateescape').hex() for k, v in m.pax_headers.items() if k.startswith('SCHILY.xattr.')}})
print(json.dumps(out))`;
  const members = JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' })) as Array<Record<string, unknown>>;
  const expected = sampleEntries();
  const flag = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;
  t.is(members.length, expected.length);
  for (const [i, m] of members.entries()) {
    const e = expected[i]!.entry;
    t.like(m, { name: e.path, type: flag[e.type], size: e.size, uid: e.uid, gid: e.gid, mode: e.mode, mtime: Math.floor(e.mtime), linkname: e.linkname ?? '' }, e.path);
    if (e.type === 'char' || e.type === 'block') t.deepEqual(m.dev, [e.devmajor, e.devminor]);
    t.deepEqual(m.xattrs, Object.fromEntries([...(e.xattrs ?? new Map<string, Buffer>())].map(([k, v]) => [k, v.toString('hex')])));
  }
});

async function makeTree(dir: string): Promise<void> {
  const src = path.join(dir, 'src');
  const ld = path.join(src, 'l'.repeat(120), 'm'.repeat(120));
  await mkdir(ld, { recursive: true });
  await writeFile(path.join(ld, 'n'.repeat(120)), 'deep');
  await writeFile(path.join(src, 'ütf'), 'u');
  await chown(path.join(src, 'ütf'), 3000000, 7);
  await writeFile(path.join(src, 'cap'), 'c');
  setXattr(path.join(src, 'cap'), 'security.capability', CAP);
  setXattr(path.join(src, 'cap'), 'user.bin', Buffer.from([0x01, 0xff, 0x00]));
  await link(path.join(src, 'cap'), path.join(src, 'cap2'));
  await symlink('l'.repeat(120) + '/' + 'm'.repeat(120), path.join(src, 'sym'));
  for (const p of ['ütf', 'cap']) await utimes(path.join(src, p), t0, t0);
}

for (const format of ['gnu', 'pax'] as const) {
  test(`reads a GNU tar --format=${format} archive`, async (t) => {
    const dir = await tmp(t);
    await makeTree(dir);
    const file = path.join(dir, 'x.tar');
    execFileSync('tar', [`--format=${format}`, ...(format === 'pax' ? ['--xattrs', '--xattrs-include=*'] : []), '--sort=name', '-cf', file, '-C', path.join(dir, 'src'), '.']);
    const got = await readAll(createReadStream(file));
    const by = new Map(got.map((g) => [g.entry.path, g]));
    t.deepEqual([...by.keys()].sort(), ['.', `./${'l'.repeat(120)}`, `./${'l'.repeat(120)}/${'m'.repeat(120)}`, `./${'l'.repeat(120)}/${'m'.repeat(120)}/${'n'.repeat(120)}`,
      './cap', './cap2', './sym', './ütf'].sort());
    t.is(by.get('.')!.entry.type, 'dir');
    const deep = by.get(`./${'l'.repeat(120)}/${'m'.repeat(120)}/${'n'.repeat(120)}`)!;
    t.is(deep.entry.type, 'file');
    t.deepEqual(deep.data, Buffer.from('deep'));
    t.like(by.get('./ütf')!.entry, { uid: 3000000, gid: 7, size: 1, mtime: t0, type: 'file' });
    t.like(by.get('./cap2')!.entry, { type: 'hardlink', linkname: './cap', size: 0 });
    t.like(by.get('./sym')!.entry, { type: 'symlink', linkname: 'l'.repeat(120) + '/' + 'm'.repeat(120) });
    if (format === 'pax') {
      t.deepEqual(by.get('./cap')!.entry.xattrs, new Map([['security.capability', CAP], ['user.bin', Buffer.from([0x01, 0xff, 0x00])]]));
    }
  });
}

test('writer verifies body sizes', async (t) => {
  const e: TarEntry = { path: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 4, mtime: 0 };
  await t.throwsAsync(collect(writeTar(gen([{ entry: e, body: Readable.from([Buffer.from('abc')]) }]))), { instanceOf: LayerFormatError, message: /3 bytes, declared size is 4/ });
  await t.throwsAsync(collect(writeTar(gen([{ entry: e, body: Readable.from([Buffer.from('abcde')]) }]))), { instanceOf: LayerFormatError, message: /longer than/ });
  await t.throwsAsync(collect(writeTar(gen([{ entry: e }]))), { instanceOf: LayerFormatError });
  await t.throwsAsync(collect(writeTar(gen([{ entry: { ...e, path: '' } }]))), { instanceOf: LayerFormatError });
});

test('unread bodies are skipped automatically', async (t) => {
  const written = await collect(writeTar(gen(sampleEntries())));
  const paths: string[] = [];
  for await (const { entry, body } of readTar(Readable.from([written]))) {
    paths.push(entry.path);
    if (entry.path === 'setuid') {
      // Read a little, then abandon it.
      const first = await new Promise<Buffer>((resolve) => body.once('readable', () => resolve(body.read(10) as Buffer)));
      t.deepEqual(first, big.subarray(0, 10));
    }
  }
  t.is(paths.length, 12);
  t.is(paths[4], utf8);
});

test('corrupt and truncated archives are clear errors', async (t) => {
  const written = await collect(writeTar(gen(sampleEntries())));
  const corrupt = Buffer.from(written);
  corrupt[0] = corrupt[0]! ^ 1;
  await t.throwsAsync(readAll(Readable.from([corrupt])), { instanceOf: LayerFormatError, message: /checksum/ });
  await t.throwsAsync(readAll(Readable.from([written.subarray(0, 5000)])), { instanceOf: LayerFormatError, message: /truncated/ });
  await t.throwsAsync(readAll(Readable.from([written.subarray(0, 700)])), { instanceOf: LayerFormatError, message: /truncated/ });
  await t.throwsAsync(readAll(Readable.from([Buffer.from('not a tar at all'.repeat(40))])), { instanceOf: LayerFormatError });
});

test('old-style headers: NUL typeflag and trailing-slash directories, base-256 numbers', async (t) => {
  const hdr = await collect(writeTar(gen([{ entry: { path: 'old', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: t0 } }])));
  const block = Buffer.from(hdr.subarray(0, 512));
  block[156] = 0; // v7: no typeflag
  block.fill(0, 257, 265); // no magic
  // uid as GNU base-256: 2^40.
  block.fill(0, 108, 116);
  block[108] = 0x80;
  block[110] = 0x01;
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  const got = await readAll(Readable.from([block, Buffer.alloc(1024)]));
  t.like(got[0]!.entry, { path: 'old', type: 'dir', uid: 2 ** 40 });
});
