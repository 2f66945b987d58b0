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

async function content(t: { teardown(fn: () => Promise<void>): void }): Promise<ContentStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'content-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return new ContentStore(Store.open(dir));
}

test('concurrent ensure() of one missing blob fetches it once', async (t) => {
  const c = await content(t);
  const bytes = Buffer.from('a layer');
  const digest = sha256(bytes);
  let fetches = 0;
  c.fetcher = async (d) => {
    fetches++;
    await new Promise((r) => setTimeout(r, 50));
    await c.put(Readable.from([bytes]), d);
  };
  await Promise.all([c.ensure(digest), c.ensure(digest), c.ensure(digest)]);
  t.is(fetches, 1);
  t.deepEqual(await c.readBytes(digest), bytes);
});

test('a failed fetch is not remembered: the next ensure() tries again', async (t) => {
  const c = await content(t);
  const bytes = Buffer.from('flaky');
  const digest = sha256(bytes);
  let fetches = 0;
  c.fetcher = async (d) => {
    if (++fetches === 1) throw new Error('connection reset');
    await c.put(Readable.from([bytes]), d);
  };
  await t.throwsAsync(Promise.all([c.ensure(digest), c.ensure(digest)]), { message: 'connection reset' });
  t.is(fetches, 1);
  await c.ensure(digest);
  t.is(fetches, 2);
  c.fetcher = async () => {};
  await t.throwsAsync(c.ensure(sha256(Buffer.from('nowhere'))), { instanceOf: BlobNotFoundError });
});
