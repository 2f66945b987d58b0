// The stat cache: a context file is read for its content hash once, and again only when its stat
// (size, mtime, ctime, inode) says it may have changed; the cache outlives the build that made it.
import test from 'ava';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checksumSources } from '../../builder/contenthash.js';
import { staleStatCaches, StatCache } from '../../builder/statcache.js';
import { Store } from '../../snapshotter/store.js';
import { DirTree } from '../../snapshotter/tree.js';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'contenthash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** 40 small files under src/, one above the single-read size, and one file outside src/. */
async function context(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'src', 'sub'), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(path.join(dir, 'src', i % 2 ? 'sub' : '', `f${i}`), `file ${i}\n`);
  await writeFile(path.join(dir, 'src', 'big'), Buffer.alloc(3 << 20, 7));
  await writeFile(path.join(dir, 'README'), 'outside\n');
}

test('an unchanged file is never read twice, also by a later build; a changed one is read exactly once', async (t) => {
  const dir = await tmp(t);
  const ctx = path.join(dir, 'ctx');
  await context(ctx);
  const store = Store.open(path.join(dir, 'store'));
  const tree = new DirTree(ctx);
  const stats = await StatCache.load(store, ctx);

  const first = await checksumSources(tree, ['src'], stats);
  t.is(stats.filesRead, 41, 'each selected file once; README is outside the selection');
  t.is(await checksumSources(tree, ['src'], stats), first);
  t.is(stats.filesRead, 41, 'the second checksum of an unchanged tree reads no file');

  // The next build loads the saved cache: still nothing to read.
  await stats.save(store);
  const later = await StatCache.load(store, ctx);
  t.is(await checksumSources(tree, ['src'], later), first);
  t.is(later.filesRead, 0);

  await writeFile(path.join(ctx, 'src', 'sub', 'f1'), 'changed\n');
  const changed = await checksumSources(tree, ['src'], later);
  t.not(changed, first);
  t.is(await checksumSources(tree, ['src'], later), changed);
  t.is(later.filesRead, 1, 'the changed file is read once, the others not at all');

  // A touch changes the stat, not the content: read once more, same checksum.
  await utimes(path.join(ctx, 'src', 'big'), 1_000_000, 1_000_000);
  t.is(await checksumSources(tree, ['src'], later), changed);
  t.is(later.filesRead, 2);
});

test('each context has its own stat cache file: a build reads only its own entries, and prune drops the file of a context that is gone', async (t) => {
  const dir = await tmp(t);
  const store = Store.open(path.join(dir, 'store'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  await context(a);
  await context(b);
  const statDir = path.join(store.cacheDir, 'stat');

  const sa = await StatCache.load(store, a);
  const sumA = await checksumSources(new DirTree(a), ['src'], sa);
  await sa.save(store);
  const [fileA] = await readdir(statDir);
  const sizeA = (await stat(path.join(statDir, fileA!))).size;
  t.true(sizeA < 41 * 64 + 200, `compact: ${sizeA} bytes for 41 entries`);

  // b has the same names and contents but other inodes: nothing of a's cache serves it.
  const sb = await StatCache.load(store, b);
  t.is(await checksumSources(new DirTree(b), ['src'], sb), sumA);
  t.is(sb.filesRead, 41);
  await sb.save(store);
  t.is((await readdir(statDir)).length, 2);
  t.is((await stat(path.join(statDir, fileA!))).size, sizeA, "b's build leaves a's file alone");
  // The same context by another spelling of its path (a symlink) is the same cache.
  await symlink(a, path.join(dir, 'a-link'));
  const again = await StatCache.load(store, path.join(dir, 'a-link'));
  t.is(await checksumSources(new DirTree(path.join(dir, 'a-link')), ['src'], again), sumA);
  t.is(again.filesRead, 0);
  await again.save(store);
  t.is((await stat(path.join(statDir, fileA!))).size, sizeA, 'a build that read no file writes nothing');

  t.deepEqual(await staleStatCaches(store), []);
  await rm(b, { recursive: true });
  await writeFile(path.join(statDir, 'torn.bin'), 'TSBSTAT1');
  const stale = (await staleStatCaches(store)).map((f) => path.basename(f)).sort();
  t.is(stale.length, 2);
  t.true(stale.includes('torn.bin'));
  t.false(stale.includes(fileA!));
});
