import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import type { Digest } from '../../common/oci.js';
import { ImageFormatError } from '../../common/ociparse.js';
import { OciLayout } from '../../snapshotter/ocilayout.js';

function tmpLayout(t: import('ava').ExecutionContext): OciLayout {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return new OciLayout(path.join(dir, 'out'));
}

const digestOf = (s: string): Digest => `sha256:${createHash('sha256').update(s).digest('hex')}`;

test('a written layout reads back: marker, index, blobs under blobs/sha256', async (t) => {
  const layout = tmpLayout(t);
  const d = digestOf('hello');
  await layout.putBlob(d, () => 'hello');
  await layout.writeIndex([{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 5, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }]);
  t.deepEqual(JSON.parse(readFileSync(path.join(layout.dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const index = await layout.index();
  t.is(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.deepEqual(index.manifests.map((m) => m.digest), [d]);
  t.is(layout.blobFile(d), path.join(layout.dir, 'blobs', 'sha256', d.slice(7)));
  t.is(await text(layout.openBlob(d)), 'hello');
  // Nothing half-written is left beside them.
  t.deepEqual(readdirSync(layout.dir).sort(), ['blobs', 'index.json', 'oci-layout']);
  t.deepEqual(readdirSync(path.join(layout.dir, 'blobs', 'sha256')), [d.slice(7)]);
});

test('a blob the layout has is kept; index.json is replaced whole', async (t) => {
  const layout = tmpLayout(t);
  const d = digestOf('a');
  await layout.putBlob(d, () => 'a');
  let asked = false;
  await layout.putBlob(d, () => {
    asked = true;
    return 'a';
  });
  t.false(asked);
  await layout.writeIndex([{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 1 }]);
  await layout.writeIndex([]);
  t.deepEqual((await layout.index()).manifests, []);
});

test('reading: no index.json is the fs error; a malformed one is an image format error', async (t) => {
  const layout = tmpLayout(t);
  await t.throwsAsync(layout.index(), { code: 'ENOENT' });
  await layout.writeIndex([]);
  writeFileSync(layout.indexFile, '{"schemaVersion": 2, "manifests": 3}');
  await t.throwsAsync(layout.index(), { instanceOf: ImageFormatError });
});
