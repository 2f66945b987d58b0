// Turning a snapshot's changes into an OCI layer blob and back. The tar streams through two hashes
// at once: the diffID (uncompressed) and the blob digest (compressed), in a single pass.
import { createWriteStream } from 'node:fs';
import { pipeline as pipelineCb } from 'node:stream';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { HashingStream, DigestMismatchError, type ContentStore } from './content.js';
import { MediaType, type Descriptor, type Digest } from '../common/oci.js';
import type { Store } from './store.js';

/** An archive with no entries is exactly two zero blocks, which hash to this. */
const EMPTY_TAR_SIZE = 1024;
const EMPTY_TAR_DIGEST = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface LayerBlob {
  diffID: Digest;
  blob: Descriptor;
}

export interface CompressOptions {
  /** gzip level 0-9; BuildKit uses 6. */
  level?: number;
  /** Store a layer even when it holds nothing (BuildKit commits one for every RUN). */
  keepEmpty?: boolean;
}

/** Compresses and stores a layer tar; undefined when the tar holds no entries (nothing changed). */
export async function storeLayer(store: Store, content: ContentStore, tar: Readable, opts: CompressOptions = {}): Promise<LayerBlob | undefined> {
  const tmp = store.tmpPath('layer');
  const diff = new HashingStream();
  const blob = new HashingStream();
  await pipeline(tar, diff, createGzip({ level: opts.level ?? 6 }), blob, createWriteStream(tmp));
  if (!opts.keepEmpty && diff.size === EMPTY_TAR_SIZE && diff.digest() === EMPTY_TAR_DIGEST) {
    await unlink(tmp);
    return undefined;
  }
  const digest = blob.digest();
  if (await content.has(digest)) await unlink(tmp);
  else await content.adopt(tmp, digest);
  return { diffID: diff.digest(), blob: { mediaType: MediaType.ociLayerGzip, digest, size: blob.size } };
}


/** Opens a stored layer blob as an uncompressed tar stream, checking its diffID as it is read. */
export function openLayer(content: ContentStore, blob: Descriptor, expectedDiffID?: Digest): { tar: Readable; verify: () => void } {
  const hasher = new HashingStream();
  const raw = content.read(blob.digest);
  // OCI `…tar+gzip` and Docker `…tar.gzip` both end in gzip.
  const compressed = blob.mediaType.endsWith('gzip');
  const done = (): void => {}; // errors reach the consumer through the returned stream
  const tar = compressed ? pipelineCb(raw, createGunzip(), hasher, done) : pipelineCb(raw, hasher, done);
  return {
    tar,
    verify: () => {
      const got = hasher.digest();
      if (expectedDiffID && got !== expectedDiffID) throw new DigestMismatchError(expectedDiffID, got);
    },
  };
}
