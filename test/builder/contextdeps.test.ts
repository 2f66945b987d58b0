// The context paths a build's keys read, and the check that they are unchanged (the fast path's
// context half): every kind of change to what was read fails the check, a change elsewhere does not,
// and a walk over files changed moments before it is not trusted.
import test from 'ava';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checksumSources } from '../../builder/contenthash.js';
import { ContextDeps, unchangedContext } from '../../builder/contextdeps.js';
import { StatCache } from '../../builder/statcache.js';
import { Store } from '../../snapshotter/store.js';
import { DirTree } from '../../snapshotter/tree.js';

async function setup(t: { teardown(fn: () => Promise<void>): void }): Promise<{ ctx: string; store: Store }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'contextdeps-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ctx = path.join(dir, 'ctx');
  await mkdir(path.join(ctx, 'src', 'sub'), { recursive: true });
  await writeFile(path.join(ctx, 'src', 'a'), 'aaa\n');
  await writeFile(path.join(ctx, 'src', 'sub', 'b'), 'bbb\n');
  await symlink('sub/b', path.join(ctx, 'src', 'link'));
  await writeFile(path.join(ctx, 'other'), 'not selected\n');
  // Older than the walk's racy window.
  await sleep(80);
  return { ctx, store: Store.open(path.join(dir, 'store')) };
}

/** The encoded walk of `COPY src/ …` over ctx. */
async function walk(ctx: string, store: Store, since?: number): Promise<{ deps: ContextDeps; encoded: Buffer }> {
  const deps = new ContextDeps(ctx, since);
  await checksumSources(deps.recording(new DirTree(ctx)), ['src'], await StatCache.load(store, ctx));
  return { deps, encoded: deps.encode() };
}

const changes: Array<[string, (ctx: string) => Promise<void>]> = [
  ['content of the same size', (ctx) => writeFile(path.join(ctx, 'src', 'a'), 'AAA\n')],
  ['mode', (ctx) => chmod(path.join(ctx, 'src', 'a'), 0o755)],
  ['a new file in a subdirectory', (ctx) => writeFile(path.join(ctx, 'src', 'sub', 'c'), 'c\n')],
  ['a deleted file', (ctx) => rm(path.join(ctx, 'src', 'sub', 'b'))],
  ['a symlink pointed elsewhere', async (ctx) => {
    await rm(path.join(ctx, 'src', 'link'));
    await symlink('a', path.join(ctx, 'src', 'link'));
  }],
  ['the selected directory replaced', async (ctx) => {
    await rm(path.join(ctx, 'src'), { recursive: true });
    await mkdir(path.join(ctx, 'src'));
  }],
];

for (const [what, change] of changes) {
  test(`a walk is unchanged until ${what}`, async (t) => {
    const { ctx, store } = await setup(t);
    const { deps, encoded } = await walk(ctx, store);
    t.true(deps.trustworthy);
    t.true(unchangedContext(ctx, encoded));
    await writeFile(path.join(ctx, 'other'), 'a file outside the selection, changed\n');
    t.true(unchangedContext(ctx, encoded), 'a path the walk did not read does not count');
    await change(ctx);
    t.false(unchangedContext(ctx, encoded));
  });
}

test('a walk over a file changed within the racy window is not trusted; a torn encoding is never unchanged', async (t) => {
  const { ctx, store } = await setup(t);
  // The walk counts as begun before the write: under load, more than the window can pass between them.
  const since = Date.now();
  await writeFile(path.join(ctx, 'src', 'a'), 'just now\n');
  const { deps, encoded } = await walk(ctx, store, since);
  t.false(deps.trustworthy);
  t.false(unchangedContext(ctx, encoded.subarray(0, encoded.length - 3)));
  t.false(unchangedContext(ctx, Buffer.alloc(0)));
});
