// Layer compressions: media types, streams that round-trip through gzip and the zstd CLI (checked
// against the real zstd and gzip programs), a clear error without zstd, and kept compressed forms.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkAvailable, compressionOf, compressor, decompressor } from '../../snapshotter/compression.js';
import { CompressedForms } from '../../snapshotter/compressed.js';
import { ContentStore } from '../../snapshotter/content.js';
import { Store } from '../../snapshotter/store.js';
import { storeLayer } from '../../snapshotter/layer.js';
import { TsbuildError } from '../../common/errors.js';

const data = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i}\n`).join(''));

async function through(input: Buffer, ...streams: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(c: Buffer, _encoding, done) {
      chunks.push(c);
      done();
    },
  });
  await pipeline([Readable.from([input]), ...streams, collect]);
  return Buffer.concat(chunks);
}

test('media types name their compression, OCI and Docker alike', (t) => {
  t.is(compressionOf('application/vnd.oci.image.layer.v1.tar'), 'uncompressed');
  t.is(compressionOf('application/vnd.oci.image.layer.v1.tar+gzip'), 'gzip');
  t.is(compressionOf('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  t.is(compressionOf('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  t.is(compressionOf('application/vnd.docker.image.rootfs.diff.tar'), 'uncompressed');
  t.is(compressionOf('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'), 'gzip');
  t.is(compressionOf('application/vnd.oci.image.config.v1+json'), undefined);
});

test('zstd through the CLI: what we compress the zstd program reads, and back', async (t) => {
  const z = await through(data, compressor('zstd', 7));
  t.is(z.readUInt32LE(0), 0xfd2fb528, 'a zstd frame');
  t.true(z.length < data.length / 3);
  t.deepEqual(execFileSync('zstd', ['-dc'], { input: z }), data);
  t.deepEqual(await through(execFileSync('zstd', ['-c', '-3'], { input: data }), decompressor('zstd')), data);
  t.deepEqual(await through(data, compressor('gzip', 1), decompressor('gzip')), data);
  t.deepEqual(execFileSync('gzip', ['-dc'], { input: await through(data, compressor('gzip')) }), data);
});

test('a corrupt zstd stream is an error naming zstd, and leaves no process behind', async (t) => {
  const err = await t.throwsAsync(through(Buffer.from('this is not zstd at all'), decompressor('zstd')));
  t.regex(err!.message, /zstd decompression failed/);
});

test('without the zstd program: TSB_COMPRESSION_UNAVAILABLE naming the fix', (t) => {
  const saved = process.env.TSBUILD_ZSTD;
  process.env.TSBUILD_ZSTD = '/nonexistent/zstd';
  try {
    const err = t.throws(() => checkAvailable('zstd'));
    t.true(err instanceof TsbuildError);
    t.is((err as TsbuildError).code, 'TSB_COMPRESSION_UNAVAILABLE');
    t.regex((err as TsbuildError).hint ?? '', /apt-get install zstd/);
    t.notThrows(() => checkAvailable('gzip'));
  } finally {
    if (saved === undefined) delete process.env.TSBUILD_ZSTD;
    else process.env.TSBUILD_ZSTD = saved;
  }
});

test('a layer is stored as its plain tar; its gzip form is made once, kept, and remade if its blob is gone', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = Store.open(dir);
  t.teardown(() => store.close());
  const content = new ContentStore(store);
  const tar = execFileSync('tar', ['-c', '-f', '-', '-C', path.dirname(new URL(import.meta.url).pathname), path.basename(new URL(import.meta.url).pathname)]);
  const layer = (await storeLayer(store, content, Readable.from([tar])))!;
  t.is(layer.blob.mediaType, 'application/vnd.oci.image.layer.v1.tar');
  t.is(layer.blob.digest, layer.diffID);
  const forms = new CompressedForms(store, content);
  const want = { compression: 'gzip' as const, force: false };
  const gz = await forms.distributable(layer, want);
  t.is(gz.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  t.deepEqual(await forms.lookup(layer.diffID, 'gzip'), gz);
  t.deepEqual(execFileSync('gzip', ['-dc', content.path(gz.digest)]), tar);
  // A gzip layer asked for as zstd stays gzip unless forced.
  t.is(await forms.distributable({ blob: gz, diffID: layer.diffID }, { compression: 'zstd', force: false }), gz);
  const z = await forms.distributable({ blob: gz, diffID: layer.diffID }, { compression: 'zstd', force: true });
  t.is(z.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  t.deepEqual(execFileSync('zstd', ['-dc', content.path(z.digest)]), tar);
  await rm(content.path(gz.digest));
  t.is(await forms.lookup(layer.diffID, 'gzip'), undefined, 'a kept form whose blob was pruned is not used');
  t.is((await forms.distributable(layer, want)).digest, gz.digest, 'remade, byte for byte');
});
