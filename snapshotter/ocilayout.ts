// An OCI image layout directory (the image-layout spec): the `oci-layout` marker, index.json and
// blobs/sha256/<hex>, read for FROM oci-layout://DIR and written for --output type=oci,tar=false
// (ociarchive.ts writes the same documents as a tar). What becomes of an index already there is the
// caller's choice: an image output replaces it, a local cache export (builder/remotecache, not yet
// moved here) keeps the other tags. The store root is a layout too; its index is images.ts's.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaType, type Descriptor, type Digest, type Index } from '../common/oci.js';
import { parseIndex } from '../common/ociparse.js';

export const LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';

/** The `oci-layout` marker's content. */
export const LAYOUT_MARKER = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/** index.json's content for these manifests. */
export function indexDocument(manifests: readonly Descriptor[]): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests });
}

/** A blob's path inside a layout (also as a tar entry and in docker save's manifest.json). */
export function blobPath(digest: Digest): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

export class OciLayout {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  get indexFile(): string {
    return path.join(this.dir, INDEX_FILE);
  }

  blobFile(digest: Digest): string {
    return path.join(this.dir, blobPath(digest));
  }

  /** index.json, validated; a missing or unreadable file rejects with the fs error. */
  async index(): Promise<Index> {
    return parseIndex(await readFile(this.indexFile), this.indexFile);
  }

  openBlob(digest: Digest): Readable {
    return createReadStream(this.blobFile(digest));
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return stat(this.blobFile(digest)).then(() => true, () => false);
  }

  /** Writes a blob unless the layout has it (content-addressed: the same digest is the same bytes). */
  async putBlob(digest: Digest, body: () => Readable | Buffer | string): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const file = this.blobFile(digest);
    await mkdir(path.dirname(file), { recursive: true });
    const b = body();
    await pipeline(typeof b === 'string' || Buffer.isBuffer(b) ? Readable.from([b]) : b, createWriteStream(`${file}.tmp`));
    await rename(`${file}.tmp`, file);
  }

  /** The marker and index.json, each replaced whole: a reader never sees half an index. */
  async writeIndex(manifests: readonly Descriptor[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const [name, data] of [[LAYOUT_FILE, LAYOUT_MARKER], [INDEX_FILE, indexDocument(manifests)]] as const) {
      const file = path.join(this.dir, name);
      await writeFile(`${file}.tmp`, data);
      await rename(`${file}.tmp`, file);
    }
  }
}
