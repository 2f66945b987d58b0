// ContentStore.ensure: a blob the store knows of but does not hold is fetched once, even when several
// steps need it at the same time (two stages on one lazily pulled base), and again after a failure.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { sha256 } from '../../common/oci.js';
import { BlobNotFoundError, ContentStore } from '../../snapshotter/content.js';
import { Store } from '../../snapshotter/store.js';

/**
 * An empty content store whose fetcher brings `text` in, counting its calls; `fail` makes a call throw
 * (after `delayMs`) instead.
 */
async function lazyStore(t: { teardown(fn: () => Promise<void>): void }, text: string, fail: (call: number) => boolean, delayMs = 0) {
  const dir = await mkdtemp(path.join(tmpdir(), 'content-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const c = new ContentStore(Store.open(dir));
  const bytes = Buffer.from(text);
  const counter = { fetches: 0 };
  c.fetcher = async (d) => {
    const call = ++counter.fetches;
    await new Promise((r) => setTimeout(r, delayMs));
    if (fail(call)) throw new Error('connection reset');
    await c.put(Readable.from([bytes]), d);
  };
  return { c, bytes, digest: sha256(bytes), counter };
}

test('concurrent ensure() of one missing blob fetches it once', async (t) => {
  const { c, bytes, digest, counter } = await lazyStore(t, 'a layer', () => false, 50);
  await Promise.all([c.ensure(digest), c.ensure(digest), c.ensure(digest)]);
  t.is(counter.fetches, 1);
  t.deepEqual(await c.readBytes(digest), bytes);
});

test('a failed fetch is not remembered: the next ensure() tries again', async (t) => {
  const { c, digest, counter } = await lazyStore(t, 'flaky', (call) => call === 1, 20);
  await t.throwsAsync(Promise.all([c.ensure(digest), c.ensure(digest)]), { message: 'connection reset' });
  t.is(counter.fetches, 1);
  await c.ensure(digest);
  t.is(counter.fetches, 2);
  c.fetcher = async () => {};
  await t.throwsAsync(c.ensure(sha256(Buffer.from('nowhere'))), { instanceOf: BlobNotFoundError });
});
