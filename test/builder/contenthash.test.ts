// The stat cache: a context file is read for its content hash once, and again only when its stat
// (size, mtime, ctime, inode) says it may have changed; the cache outlives the build that made it.
import test from 'ava';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checksumSources, StatCache } from '../../builder/contenthash.js';
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
  const stats = await StatCache.load(store);

  const first = await checksumSources(tree, ['src'], stats);
  t.is(stats.filesRead, 41, 'each selected file once; README is outside the selection');
  t.is(await checksumSources(tree, ['src'], stats), first);
  t.is(stats.filesRead, 41, 'the second checksum of an unchanged tree reads no file');

  // The next build loads the saved cache: still nothing to read.
  await stats.save(store);
  const later = await StatCache.load(store);
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
