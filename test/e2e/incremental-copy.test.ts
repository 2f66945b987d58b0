// Incremental COPY: a COPY whose context changed in a few files starts from its earlier snapshot on
// the same parent, hard-linking the unchanged files, and its layer is byte for byte a cold build's:
// the same diff IDs as a --no-cache build of the same context on the same base, with changed,
// added and deleted files, a mode change and an mtime-only change among the edits.
import test from 'ava';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { makeContext, storeWithBusybox, tsbuildOk } from '../helpers/cli.js';

const DOCKERFILE = ['FROM busybox', 'COPY app/ /app/', 'COPY --chmod=0640 app/sub /sub/', 'RUN find /app /sub | sort > /listing', ''].join('\n');

function context(): string {
  const files: Record<string, string> = { Dockerfile: DOCKERFILE };
  for (let i = 0; i < 40; i++) files[`app/f${i}.txt`] = `file ${i}\n`.repeat(i + 1);
  Object.assign(files, { 'app/sub/deep/d.txt': 'deep\n', 'app/run.sh': 'echo hi\n', 'app/gone.txt': 'to be deleted\n', 'app/touched.txt': 'same bytes\n', 'app/sub/s.txt': 'sub\n' });
  const ctx = makeContext(files);
  symlinkSync('f1.txt', path.join(ctx, 'app', 'link'));
  chmodSync(path.join(ctx, 'app', 'run.sh'), 0o644);
  // Context times in the past, SOURCE_DATE_EPOCH after them: what the build creates (the /app
  // directory, /listing) gets the epoch, so two builds at different times can agree byte for byte,
  // while a changed context mtime still shows in the layer.
  const past = new Date('2005-06-07T08:09:10Z');
  const age = (p: string): void => {
    if (lstatSync(p).isDirectory()) for (const n of readdirSync(p)) age(path.join(p, n));
    if (!lstatSync(p).isSymbolicLink()) utimesSync(p, past, past);
  };
  age(ctx);
  return ctx;
}

const EPOCH = ['--build-arg', `SOURCE_DATE_EPOCH=${Date.parse('2010-01-01T00:00:00Z') / 1000}`];

async function diffIDs(root: string, image: string): Promise<string[]> {
  return (JSON.parse((await tsbuildOk(['inspect', image], { root })).stdout) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
}

/** The snapshot directories (fs/) that hold `rel`, and that file's inode and link count in each. */
function holders(root: string, rel: string): Array<{ dir: string; ino: number; nlink: number; text: string }> {
  const snaps = path.join(root, 'snapshots');
  return readdirSync(snaps).flatMap((d) => {
    const p = path.join(snaps, d, 'fs', rel);
    try {
      const st = lstatSync(p);
      return [{ dir: d, ino: st.ino, nlink: st.nlink, text: readFileSync(p, 'utf8') }];
    } catch {
      return [];
    }
  });
}

const built = (stderr: string): string => /writing image (sha256:[a-f0-9]{64})/.exec(stderr)?.[1] ?? '';

test('an incremental COPY links unchanged files and gives the diff IDs of a cold build: changed, added, deleted files, a mode and an mtime change', async (t) => {
  const root = await storeWithBusybox();
  const ctx = context();
  await tsbuildOk(['build', '-q', ...EPOCH, '-t', 'incr:1', ctx], { root });
  const first = await diffIDs(root, 'incr:1');

  // The edits: content, a new file and a new directory, a deletion, a mode, an mtime alone.
  writeFileSync(path.join(ctx, 'app', 'f3.txt'), 'changed\n');
  writeFileSync(path.join(ctx, 'app', 'new.txt'), 'new\n');
  mkdirSync(path.join(ctx, 'app', 'newdir'));
  writeFileSync(path.join(ctx, 'app', 'newdir', 'n.txt'), 'new too\n');
  rmSync(path.join(ctx, 'app', 'gone.txt'));
  chmodSync(path.join(ctx, 'app', 'run.sh'), 0o755);
  utimesSync(path.join(ctx, 'app', 'touched.txt'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  writeFileSync(path.join(ctx, 'app', 'sub', 's.txt'), 'sub, changed\n');

  const r = await tsbuildOk(['build', '--progress=plain', ...EPOCH, '-t', 'incr:2', ctx], { root });
  const incremental = await diffIDs(root, 'incr:2');
  t.notDeepEqual(incremental.slice(-3), first.slice(-3), 'both COPY layers changed');

  // Unchanged files are shared with the earlier snapshot of the same COPY; changed ones are copies.
  const same = holders(root, 'app/f7.txt');
  t.is(same.length, 2, 'f7.txt is in the two snapshots of COPY app/');
  t.is(same[0]!.ino, same[1]!.ino, 'an unchanged file is a hard link to the earlier snapshot’s');
  for (const h of same) t.true(existsSync(path.join(root, 'snapshots', h.dir, 'tarindex.bin')), 'each COPY snapshot has the tar index the next one copies entries from');
  const changed = holders(root, 'app/f3.txt');
  t.is(changed.length, 2);
  t.not(changed[0]!.ino, changed[1]!.ino, 'a changed file is copied');
  t.deepEqual(changed.map((c) => c.text).sort(), ['changed\n', 'file 3\nfile 3\nfile 3\nfile 3\n'], 'the earlier snapshot still holds its own content');
  for (const f of ['app/run.sh', 'app/touched.txt']) {
    const h = holders(root, f);
    t.not(h[0]!.ino, h[1]!.ino, `${f}: same content, other metadata: copied, the earlier inode left alone`);
  }
  t.is(holders(root, 'app/gone.txt').length, 1, 'a deleted file is only in the earlier snapshot');

  // The reference: the same context built cold (--no-cache: every step copies or runs afresh).
  const c = await tsbuildOk(['build', '--no-cache', '--progress=plain', ...EPOCH, '-t', 'incr:cold', ctx], { root });
  t.deepEqual(incremental, await diffIDs(root, 'incr:cold'), 'the same layers as a cold build');
  t.truthy(built(r.stderr) && built(c.stderr), 'both builds wrote an image');

  // And a further change starts from the incremental snapshot in turn.
  writeFileSync(path.join(ctx, 'app', 'f5.txt'), 'changed as well\n');
  await tsbuildOk(['build', '-q', ...EPOCH, '-t', 'incr:3', ctx], { root });
  const third = await diffIDs(root, 'incr:3');
  await tsbuildOk(['build', '--no-cache', '-q', ...EPOCH, '-t', 'incr:cold3', ctx], { root });
  t.deepEqual(third, await diffIDs(root, 'incr:cold3'));
  t.is(new Set(holders(root, 'app/f7.txt').map((h) => h.ino)).size, 1, 'still one inode for an unchanged file across three snapshots');
});

test('--no-cache copies everything (and records what the next build may start from)', async (t) => {
  const root = await storeWithBusybox();
  const ctx = context();
  await tsbuildOk(['build', '-q', '-t', 'nc:1', ctx], { root });
  writeFileSync(path.join(ctx, 'app', 'f3.txt'), 'changed\n');
  await tsbuildOk(['build', '-q', '--no-cache', '-t', 'nc:2', ctx], { root });
  const h = holders(root, 'app/f7.txt');
  t.is(h.length, 2);
  t.not(h[0]!.ino, h[1]!.ino, 'nothing linked under --no-cache');
  writeFileSync(path.join(ctx, 'app', 'f4.txt'), 'changed\n');
  await tsbuildOk(['build', '-q', '-t', 'nc:3', ctx], { root });
  const after = holders(root, 'app/f7.txt');
  t.is(after.length, 3);
  t.is(new Set(after.map((x) => x.ino)).size, 2, 'the build after it links from the --no-cache snapshot');
});
