// GNU sparse files, in archives GNU tar itself writes in each of its sparse forms, unpacked by layer
// apply: real name, real size, data at its offsets, gaps left as holes.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer } from '../../snapshotter/apply.js';
import { LayerFormatError } from '../../snapshotter/tar.js';
import { readTar } from '../../snapshotter/tarread.js';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sparse-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const GiB = 1024 ** 3;
// [offset, bytes] of the data in the 10 GiB file; the rest is holes.
const REGIONS: Array<[number, Buffer]> = [
  [0, Buffer.from('HEAD')],
  [5 * GiB + 7, randomBytes(100_000)],
  [10 * GiB - 4, Buffer.from('TAIL')],
];

function writeSparseFile(file: string, size: number, regions: Array<[number, Buffer]>): void {
  execFileSync('truncate', ['-s', String(size), file]);
  const fd = openSync(file, 'r+');
  try {
    for (const [off, data] of regions) writeSync(fd, data, 0, data.length, off);
  } finally {
    closeSync(fd);
  }
}

function readAt(file: string, off: number, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, off);
    return b;
  } finally {
    closeSync(fd);
  }
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

const FORMATS: Record<string, string[]> = {
  'old GNU (type S)': ['--format=gnu'],
  'PAX 0.0': ['--format=pax', '--sparse-version=0.0'],
  'PAX 0.1': ['--format=pax', '--sparse-version=0.1'],
  'PAX 1.0': ['--format=pax', '--sparse-version=1.0'],
  '--posix (GNU tar default)': ['--posix'],
};

function gnuTar(dir: string, archive: string, flags: string[], name: string): void {
  execFileSync('tar', ['-C', dir, '--sparse', ...flags, '-cf', archive, name]);
}

test('a 10 GiB sparse file round-trips in every GNU sparse form: name, size, data, holes', async (t) => {
  const dir = await tmp(t);
  await mkdir(path.join(dir, 'src', 'deep'), { recursive: true });
  const rel = 'deep/sparse.bin';
  writeSparseFile(path.join(dir, 'src', rel), 10 * GiB, REGIONS);
  for (const [label, flags] of Object.entries(FORMATS)) {
    const archive = path.join(dir, `${label.replace(/\W+/g, '_')}.tar`);
    gnuTar(path.join(dir, 'src'), archive, flags, rel);
    const seen: string[] = [];
    for await (const { entry, body } of readTar(createReadStream(archive))) {
      seen.push(`${entry.path}:${entry.size}`);
      body.resume();
    }
    t.deepEqual(seen, [`${rel}:${10 * GiB}`], label);

    const out = path.join(dir, 'out', label.replace(/\W+/g, '_'));
    await applyLayer(createReadStream(archive), out, { whiteouts: 'delete' });
    t.deepEqual(await readdir(path.join(out, 'deep')), ['sparse.bin'], `${label}: the real name, no GNUSparseFile.N`);
    const file = path.join(out, rel);
    const st = statSync(file);
    t.is(st.size, 10 * GiB, `${label}: real size`);
    t.true(st.blocks * 512 < 4 << 20, `${label}: holes stay holes (${st.blocks * 512} bytes allocated)`);
    for (const [off, data] of REGIONS) t.true(readAt(file, off, data.length).equals(data), `${label}: data at ${off}`);
    t.true(readAt(file, 3 * GiB, 4096).equals(Buffer.alloc(4096)), `${label}: a hole reads as zeros`);
    t.true(readAt(file, 5 * GiB, 7).equals(Buffer.alloc(7)), `${label}: zeros up to the data`);
    await rm(out, { recursive: true });
  }
});

test('a sparse file with many scattered segments has the same sha256 after the round trip', async (t) => {
  const dir = await tmp(t);
  await mkdir(path.join(dir, 'src'));
  // More segments than the old GNU header holds (4), so extension blocks are needed too.
  const regions: Array<[number, Buffer]> = Array.from({ length: 40 }, (_, i) => [i * 1_600_000 + (i % 3) * 4096, randomBytes(1000 + i * 777)]);
  const src = path.join(dir, 'src', 'scattered');
  writeSparseFile(src, 64 << 20, regions);
  const want = await sha256File(src);
  for (const [label, flags] of Object.entries(FORMATS)) {
    const archive = path.join(dir, 'a.tar');
    gnuTar(path.join(dir, 'src'), archive, flags, 'scattered');
    const out = path.join(dir, 'out');
    await applyLayer(createReadStream(archive), out, { whiteouts: 'delete' });
    t.is(await sha256File(path.join(out, 'scattered')), want, label);
    t.true(statSync(path.join(out, 'scattered')).blocks * 512 < 8 << 20, `${label}: sparse on disk`);
    await rm(out, { recursive: true });
  }
});

/** The bytes of a PAX 1.0 sparse archive, edited by `edit` (a text substitution on its headers). */
async function editedArchive(dir: string, flags: string[], edit: (b: Buffer) => Buffer): Promise<Buffer> {
  await mkdir(path.join(dir, 'src'), { recursive: true });
  writeSparseFile(path.join(dir, 'src', 'f'), 1 << 20, [[0, Buffer.from('a')], [600_000, Buffer.from('b')]]);
  gnuTar(path.join(dir, 'src'), path.join(dir, 'x.tar'), flags, 'f');
  return fixChecksums(edit(readFileSync(path.join(dir, 'x.tar'))));
}

// Recomputes header checksums after an edit, so the test reaches the sparse checks.
function fixChecksums(b: Buffer): Buffer {
  for (let off = 0; off + 512 <= b.length; off += 512) {
    const h = b.subarray(off, off + 512);
    if (h.subarray(257, 262).toString('latin1') !== 'ustar') continue;
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  return b;
}

function replace(b: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('same-length edits only');
  const i = b.indexOf(from, 0, 'latin1');
  if (i < 0) throw new Error(`no ${from} in archive`);
  const out = Buffer.from(b);
  out.write(to, i, 'latin1');
  return out;
}

test('hostile sparse maps are refused as archive errors', async (t) => {
  const dir = await tmp(t);
  const cases: Array<[string, string[], (b: Buffer) => Buffer, RegExp]> = [
    ['a segment past the real size', ['--format=pax', '--sparse-version=0.1'], (b) => replace(b, 'GNU.sparse.size=1048576', 'GNU.sparse.size=0000576'), /out-of-range|overlapping/],
    ['overlapping segments', ['--format=pax', '--sparse-version=0.1'], (b) => replace(b, 'GNU.sparse.map=0,4096,598016', 'GNU.sparse.map=0,4096,000016'), /overlapping/],
    ['a map that does not account for the data', ['--format=pax', '--sparse-version=0.1'], (b) => replace(b, 'GNU.sparse.map=0,4096', 'GNU.sparse.map=0,4095'), /describes/],
    ['an unknown sparse version', ['--format=pax', '--sparse-version=1.0'], (b) => replace(b, 'GNU.sparse.major=1', 'GNU.sparse.major=7'), /unsupported GNU sparse/],
    ['a non-numeric 1.0 map', ['--format=pax', '--sparse-version=1.0'], (b) => replace(b, '3\n0\n4096\n598016', 'x\n0\n4096\n598016'), /sparse map count|malformed/],
  ];
  for (const [label, flags, edit, message] of cases) {
    await rm(path.join(dir, 'src'), { recursive: true, force: true });
    const bytes = await editedArchive(dir, flags, edit);
    await t.throwsAsync(applyLayer(Readable.from([bytes]), path.join(dir, 'out', label.replace(/\W+/g, '_')), { whiteouts: 'delete' }), { instanceOf: LayerFormatError, message }, label);
  }
});

test('an old GNU sparse header with a truncated extension block is a truncation error', async (t) => {
  const dir = await tmp(t);
  await mkdir(path.join(dir, 'src'));
  const regions: Array<[number, Buffer]> = Array.from({ length: 30 }, (_, i) => [i * 65536, Buffer.from('x')]);
  writeSparseFile(path.join(dir, 'src', 'f'), 4 << 20, regions);
  gnuTar(path.join(dir, 'src'), path.join(dir, 'x.tar'), ['--format=gnu'], 'f');
  const bytes = readFileSync(path.join(dir, 'x.tar')).subarray(0, 512 + 200);
  await writeFile(path.join(dir, 'cut.tar'), bytes);
  await t.throwsAsync(applyLayer(createReadStream(path.join(dir, 'cut.tar')), path.join(dir, 'out'), { whiteouts: 'delete' }), { instanceOf: LayerFormatError, message: /truncated/ });
});
