// Writes an image as an OCI image layout (`--output type=oci`), in a tar archive or a directory,
// streaming blobs from the content store. The docker flavour (`type=docker`) adds docker save's
// manifest.json beside the layout, which `docker load` (and podman, skopeo docker-archive:) read.
import { Readable } from 'node:stream';
import type { ContentStore } from './content.js';
import { ContainerdNameAnnotation, RefNameAnnotation } from './images.js';
import type { Descriptor, Digest, Manifest } from '../common/oci.js';
import { blobPath, indexDocument, INDEX_FILE, LAYOUT_FILE, LAYOUT_MARKER, OciLayout } from './ocilayout.js';
import { familiarName } from './reference.js';
import { writeTar, type TarInput } from './tar.js';

export interface ArchiveOptions {
  /** Entry times (SOURCE_DATE_EPOCH, else 0) so the same image gives the same archive. */
  mtime?: number;
  /** Add docker save's manifest.json (RepoTags, Config, Layers). */
  docker?: boolean;
}

/**
 * The image's blobs, each once, children before what names them: configs and layers, each
 * platform's manifest (for an index), then the manifest or index itself.
 */
async function imageBlobs(content: ContentStore, manifest: Descriptor): Promise<{ blobs: Descriptor[]; manifests: Manifest[] }> {
  const doc = await content.readImageDocument(manifest.digest);
  const manifests: Manifest[] = [];
  const blobs: Descriptor[] = [];
  const children = doc.kind === 'index' ? doc.index.manifests : [];
  for (const m of doc.kind === 'index' ? await Promise.all(children.map((c) => content.readManifest(c.digest))) : [doc.manifest]) {
    manifests.push(m);
    blobs.push(m.config, ...m.layers);
  }
  blobs.push(...children, manifest);
  const seen = new Set<Digest>();
  return { blobs: blobs.filter((d) => !seen.has(d.digest) && seen.add(d.digest)), manifests };
}

function* entries(content: ContentStore, manifest: Descriptor, { blobs, manifests: docs }: { blobs: Descriptor[]; manifests: Manifest[] }, names: readonly string[], o: ArchiveOptions): Generator<TarInput> {
  const mtime = o.mtime ?? 0;
  const file = (path: string, data: string): TarInput => {
    const buf = Buffer.from(data);
    return { entry: { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: buf.length, mtime }, body: () => Readable.from([buf]) };
  };
  const dir = (path: string): TarInput => ({ entry: { path, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime } });
  const blob = (d: Descriptor): TarInput => ({
    entry: { path: blobPath(d.digest), type: 'file', mode: 0o644, uid: 0, gid: 0, size: d.size, mtime },
    body: () => content.read(d.digest),
  });
  yield dir('blobs');
  yield dir('blobs/sha256');
  for (const d of blobs) yield blob(d);
  yield file(INDEX_FILE, indexDocument(indexEntries(manifest, names)));
  yield file(LAYOUT_FILE, LAYOUT_MARKER);
  if (o.docker) {
    yield file('manifest.json', JSON.stringify(docs.map((doc) => ({ Config: blobPath(doc.config.digest), RepoTags: names.map(familiarName), Layers: doc.layers.map((l) => blobPath(l.digest)) }))));
  }
}

/** The index entries: the image once per name, with containerd's and OCI's name annotations. */
function indexEntries(manifest: Descriptor, names: readonly string[]): Descriptor[] {
  return names.length
    ? names.map((n) => ({ ...manifest, annotations: { ...manifest.annotations, [ContainerdNameAnnotation]: n, [RefNameAnnotation]: n.slice(n.lastIndexOf(':') + 1) } }))
    : [manifest];
}

/** The archive as a tar stream, once every blob is here (lazily imported layers are fetched first). */
export async function imageArchive(content: ContentStore, manifest: Descriptor, names: readonly string[], o: ArchiveOptions = {}): Promise<Readable> {
  const image = await imageBlobs(content, manifest);
  for (const d of image.blobs) await content.ensure(d.digest);
  return writeTar(entries(content, manifest, image, names, o));
}

/** The same layout as a directory (`type=oci,tar=false`): blobs already there are kept, index.json is replaced. */
export async function writeLayoutDir(content: ContentStore, manifest: Descriptor, names: readonly string[], dir: string): Promise<void> {
  const { blobs } = await imageBlobs(content, manifest);
  const layout = new OciLayout(dir);
  for (const d of blobs) {
    await content.ensure(d.digest);
    await layout.putBlob(d.digest, () => content.read(d.digest));
  }
  await layout.writeIndex(indexEntries(manifest, names));
}
