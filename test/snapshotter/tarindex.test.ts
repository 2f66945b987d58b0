// The tar index of a COPY's snapshot, and the layer of the next incremental COPY that copies the
// entries of hard-linked (unchanged) files from the earlier tar: byte for byte the tar a fresh walk
// writes, and those bytes do come from the earlier archive.
import test from 'ava';
import { closeSync, linkSync, openSync } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { diffUpperDir } from '../../snapshotter/diff.js';
import { loadTarIndex, TarIndexWriter } from '../../snapshotter/tarindex.js';
import type { Digest } from '../../common/oci.js';
import { tmpDir } from '../helpers/cli.js';

async function bytes(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const LONG = `${'long-directory-name/'.repeat(6)}and-a-file-name-that-needs-a-pax-header.txt`;
const when = new Date('2020-01-02T03:04:05Z');

test('an incremental layer copies the entries of linked files from the earlier tar and equals a fresh walk', async (t) => {
  const dir = tmpDir('tarindex-');
  const a = path.join(dir, 'a');
  await mkdir(path.join(a, 'sub'), { recursive: true });
  await mkdir(path.join(a, path.dirname(LONG)), { recursive: true });
  const files: Record<string, string | Buffer> = { 'one.txt': 'one\n', 'two.txt': 'two\n', 'sub/three.txt': 'three\n', [LONG]: 'long name\n', 'big.bin': Buffer.alloc(300_000, 7), 'changed.txt': 'before\n' };
  for (const [rel, data] of Object.entries(files)) {
    await writeFile(path.join(a, rel), data);
    await utimes(path.join(a, rel), when, when);
  }
  const index = new TarIndexWriter();
  const tarA = await bytes(diffUpperDir(a, { placed: index.placed }));
  const blob = path.join(dir, 'blob-a');
  await writeFile(blob, tarA);
  await index.save(dir, 'sha256:a' as Digest, undefined);

  // The next snapshot: unchanged files hard-linked, one file changed (a new inode), one added.
  const b = path.join(dir, 'b');
  await mkdir(path.join(b, 'sub'), { recursive: true });
  await mkdir(path.join(b, path.dirname(LONG)), { recursive: true });
  for (const rel of ['one.txt', 'two.txt', 'sub/three.txt', LONG, 'big.bin']) linkSync(path.join(a, rel), path.join(b, rel));
  await writeFile(path.join(b, 'changed.txt'), 'after, longer\n');
  await writeFile(path.join(b, 'added.txt'), 'added\n');
  for (const d of ['sub', '']) await utimes(path.join(b, d), when, when);
  for (const d of ['sub', '']) await utimes(path.join(a, d), when, when);

  const loaded = await loadTarIndex(dir, undefined);
  t.truthy(loaded);
  t.is(loaded!.blob, 'sha256:a');
  t.is(loaded!.entries.size, Object.keys(files).length, 'one entry per regular file');
  t.is(await loadTarIndex(dir, 1234), undefined, 'another SOURCE_DATE_EPOCH clamps other mtimes: no index');

  const fresh = await bytes(diffUpperDir(b));
  const fd = openSync(blob, 'r');
  t.teardown(() => closeSync(fd));
  const reused = await bytes(diffUpperDir(b, { reuse: { fd, entries: loaded!.entries } }));
  t.true(reused.equals(fresh), 'byte-identical to a walk that reads every file');

  // The same with an earlier tar doctored inside one.txt's body: the change shows, so those bytes were copied, not re-read.
  const doctored = Buffer.from(tarA);
  const one = loaded!.entries.get('one.txt')!;
  doctored[one.offset + 512] = 'X'.charCodeAt(0);
  const blob2 = path.join(dir, 'blob-doctored');
  await writeFile(blob2, doctored);
  const fd2 = openSync(blob2, 'r');
  t.teardown(() => closeSync(fd2));
  const fromDoctored = await bytes(diffUpperDir(b, { reuse: { fd: fd2, entries: loaded!.entries } }));
  t.false(fromDoctored.equals(fresh));
  t.true(fromDoctored.includes(Buffer.from('Xne\n')), 'one.txt came from the earlier archive');

  // A changed file (not the recorded inode) is never taken from the earlier tar.
  t.true(reused.includes(Buffer.from('after, longer\n')));
  t.false(reused.includes(Buffer.from('before\n')));
  t.is((await readFile(path.join(a, 'changed.txt'), 'utf8')), 'before\n', 'the earlier snapshot is untouched');
});
