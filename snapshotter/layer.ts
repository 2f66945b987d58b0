// Turning a snapshot's changes into an OCI layer blob and back. A built layer is stored as the plain
// tar (the cheapest form to make: its blob digest is its diffID, one hash, no compression); it is
// compressed only when it leaves the machine (compressed.ts). Reading accepts every compression.
import { createWriteStream } from 'node:fs';
import { pipeline as pipelineCb } from 'node:stream';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream, DigestMismatchError, type ContentStore } from './content.js';
import { MediaType, type Descriptor, type Digest } from '../common/oci.js';
import { compressionOf, decompressor } from './compression.js';
import type { Store } from './store.js';

/** Bytes of layer tar queued for the file while more is made. */
const WRITE_BUFFER = 256 << 10;

/** An archive with no entries is exactly two zero blocks, which hash to this. */
const EMPTY_TAR_SIZE = 1024;
const EMPTY_TAR_DIGEST = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface LayerBlob {
  diffID: Digest;
  blob: Descriptor;
}

export interface StoreLayerOptions {
  /** Store a layer even when it holds nothing (BuildKit commits one for every RUN). */
  keepEmpty?: boolean;
}

/** Stores a layer tar uncompressed; undefined when the tar holds no entries (nothing changed). */
export async function storeLayer(store: Store, content: ContentStore, tar: Readable, opts: StoreLayerOptions = {}): Promise<LayerBlob | undefined> {
  const tmp = store.tmpPath('layer');
  const diff = new HashingStream();
  // Room for queued writes: the tar is made on this thread (synchronous reads) while the writes go
  // to the thread pool. With the default 16 KiB, each chunk waited for the last write, and a 220 MB
  // layer of many small runs spent half its time idle. 256 KiB gave as much speed as 1–4 MiB here,
  // for ~8 MB more peak RSS where 4 MiB took ~25 MB (buffers wait for a GC).
  await pipeline(tar, diff, createWriteStream(tmp, { highWaterMark: WRITE_BUFFER }));
  const digest = diff.digest();
  if (!opts.keepEmpty && diff.size === EMPTY_TAR_SIZE && digest === EMPTY_TAR_DIGEST) {
    await unlink(tmp);
    return undefined;
  }
  if (await content.has(digest)) await unlink(tmp);
  else await content.adopt(tmp, digest);
  return { diffID: digest, blob: { mediaType: MediaType.ociLayer, digest, size: diff.size } };
}

/** Opens a stored layer blob (any compression) as an uncompressed tar stream, checking its diffID as it is read. */
export function openLayer(content: ContentStore, blob: Descriptor, expectedDiffID?: Digest): { tar: Readable; verify: () => void } {
  const hasher = new HashingStream();
  const raw = content.read(blob.digest);
  const compression = compressionOf(blob.mediaType) ?? 'uncompressed';
  const done = (): void => {}; // errors reach the consumer through the returned stream
  const tar = compression === 'uncompressed' ? pipelineCb(raw, hasher, done) : pipelineCb(raw, decompressor(compression), hasher, done);
  return {
    tar,
    verify: () => {
      const got = hasher.digest();
      if (expectedDiffID && got !== expectedDiffID) throw new DigestMismatchError(expectedDiffID, got);
    },
  };
}
