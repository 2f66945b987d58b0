// Writes an image as an OCI image layout inside a tar archive (`--output type=oci,dest=FILE`),
// streaming blobs from the content store.
import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContentStore } from './content.js';
import { ContainerdNameAnnotation, RefNameAnnotation } from './images.js';
import { MediaType, type Descriptor, type Digest, type Manifest } from '../common/oci.js';
import { writeTar, type TarInput } from './tar.js';

function* entries(content: ContentStore, manifest: Descriptor, doc: Manifest, names: string[], mtime: number): Generator<TarInput> {
  const file = (path: string, data: string): TarInput => {
    const buf = Buffer.from(data);
    return { entry: { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: buf.length, mtime }, body: () => Readable.from([buf]) };
  };
  const dir = (path: string): TarInput => ({ entry: { path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime } });
  const blob = (d: Descriptor): TarInput => ({
    entry: { path: `blobs/sha256/${d.digest.slice(7)}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: d.size, mtime },
    body: () => content.read(d.digest),
  });
  const manifests: Descriptor[] = names.length
    ? names.map((n) => ({ ...manifest, annotations: { [ContainerdNameAnnotation]: n, [RefNameAnnotation]: n.slice(n.lastIndexOf(':') + 1) } }))
    : [manifest];
  yield dir('blobs');
  yield dir('blobs/sha256');
  const seen = new Set<Digest>();
  for (const d of [doc.config, ...doc.layers, manifest]) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    yield blob(d);
  }
  yield file('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  yield file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

export async function writeOciArchive(content: ContentStore, manifest: Descriptor, names: string[], dest: string, mtime = 0): Promise<void> {
  const doc = await content.readManifest(manifest.digest);
  for (const d of doc.layers) await content.ensure(d.digest);
  const tmp = `${dest}.tmp-${process.pid}`;
  await pipeline(writeTar(entries(content, manifest, doc, names, mtime)), createWriteStream(tmp));
  await rename(tmp, dest);
}
