// The store's cross-process lock: one holder at a time, a dead holder's lock is taken over, and
// waiting too long is a user error that names the holder.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Store } from '../../snapshotter/store.js';
import { TsbuildError } from '../../common/errors.js';

const storeModule = path.resolve(import.meta.dirname, '../../snapshotter/store.ts');

async function tmpStore(t: { teardown(fn: () => Promise<void>): void }): Promise<Store> {
  const dir = await mkdtemp(path.join(tmpdir(), 'store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return Store.open(dir);
}

/** What a tsbuild killed while holding `name` leaves: its lock file, with a pid that is dead. */
function staleLock(store: Store, name: string): Promise<string> {
  const code = `import { Store } from ${JSON.stringify(storeModule)}; await Store.open(${JSON.stringify(store.root)}).lock(${JSON.stringify(name)}); process.kill(process.pid, 'SIGKILL');`;
  try {
    execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { stdio: 'ignore' });
  } catch {
    // killed, as intended
  }
  return readFile(path.join(store.locksDir, `${name}.lock`), 'utf8');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a lock whose holder died is taken over by exactly one of many racing waiters at a time', async (t) => {
  const store = await tmpStore(t);
  const stale = await staleLock(store, 'x');
  t.truthy(stale, 'the killed holder left its lock file');
  const waiters = 16;
  for (let round = 0; round < 20; round++) {
    await writeFile(path.join(store.locksDir, 'x.lock'), stale);
    let holding = 0;
    let most = 0;
    let acquired = 0;
    await Promise.all(
      Array.from({ length: waiters }, async () => {
        const release = await store.lock('x', { timeoutMs: 20_000 });
        holding++;
        acquired++;
        most = Math.max(most, holding);
        // Hold it across a few I/O turns, so a second holder, if any, overlaps with this one.
        await sleep(1);
        holding--;
        await release!();
      }),
    );
    t.is(acquired, waiters);
    if (most !== 1) return t.fail(`round ${round}: ${most} waiters held the lock at once`);
  }
  t.pass();
});

test('wait: false gives up at once on a live holder; a released lock can be taken again', async (t) => {
  const store = await tmpStore(t);
  const release = (await store.lock('y'))!;
  t.is(await store.lock('y', { wait: false }), undefined);
  await release();
  const again = await store.lock('y', { wait: false });
  t.truthy(again);
  await again!();
});

test('waiting longer than the timeout is TSB_STORE_BUSY, naming the holder, with a hint', async (t) => {
  const store = await tmpStore(t);
  const release = (await store.lock('z'))!;
  const err = await t.throwsAsync(store.lock('z', { timeoutMs: 50 }), { instanceOf: TsbuildError });
  t.is(err!.code, 'TSB_STORE_BUSY');
  t.is(err!.kind, 'user');
  t.regex(err!.message, new RegExp(`lock z .*pid ${process.pid}`));
  t.truthy(err!.hint);
  await release();
});
