// Content store: blobs addressed by sha256 under blobs/sha256/. Writes are streamed through the hash
// into a temp file and renamed into place, so a blob path, once present, is always complete.
import { TsbuildError } from '../common/errors.js';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Store } from './store.js';
import type { Digest, ImageConfig, Manifest } from '../common/oci.js';
import { parseImageConfig, parseImageDocument, parseManifest, type ImageDocument } from '../common/ociparse.js';

export class DigestMismatchError extends TsbuildError {
  constructor(readonly expected: Digest, readonly actual: Digest) {
    super('TSB_DIGEST_MISMATCH', `content digest mismatch: expected ${expected}, got ${actual}`);
  }
}

export class BlobNotFoundError extends TsbuildError {
  constructor(readonly digest: Digest) {
    super('TSB_STORE_CORRUPT', `blob ${digest} is not in the content store`, { hint: 'the store lost a blob an image needs: remove the image (tsbuild rmi) and pull or build it again' });
  }
}

/** A pass-through stream that counts and hashes what flows through it. */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  private result: Digest | undefined;
  size = 0;
  constructor() {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    cb();
  }
  /** Valid once the stream has ended; may be called repeatedly. */
  digest(): Digest {
    this.result ??= `sha256:${this.hash.digest('hex')}`;
    return this.result;
  }
}

/** Brings a blob the store knows of but does not hold (a lazily imported cache layer) into it. */
export type BlobFetcher = (digest: Digest) => Promise<void>;

export class ContentStore {
  /** Set by whoever knows where missing blobs live (the engine's lazy blobs). */
  fetcher?: BlobFetcher;
  /** Fetches under way: two steps that need the same blob at once (two stages on one base) download it once. */
  private readonly fetching = new Map<Digest, Promise<void>>();

  constructor(private readonly store: Store) {}

  /** Makes sure the blob is here, fetching it if it is known elsewhere; BlobNotFoundError if not. */
  async ensure(digest: Digest): Promise<void> {
    if (await this.has(digest)) return;
    const fetcher = this.fetcher;
    if (fetcher) {
      let pending = this.fetching.get(digest);
      if (!pending) {
        pending = fetcher(digest).finally(() => this.fetching.delete(digest));
        this.fetching.set(digest, pending);
      }
      await pending;
    }
    if (!(await this.has(digest))) throw new BlobNotFoundError(digest);
  }

  path(digest: Digest): string {
    return path.join(this.store.blobsDir, digest.slice('sha256:'.length));
  }

  async has(digest: Digest): Promise<boolean> {
    return stat(this.path(digest)).then(() => true, () => false);
  }

  async size(digest: Digest): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  /** Streams a blob in; if `expected` is given and differs, nothing is stored. */
  async put(input: Readable, expected?: Digest): Promise<{ digest: Digest; size: number }> {
    const tmp = this.store.tmpPath('blob');
    const hasher = new HashingStream();
    await pipeline(input, hasher, createWriteStream(tmp));
    const digest = hasher.digest();
    if (expected && expected !== digest) {
      await unlink(tmp);
      throw new DigestMismatchError(expected, digest);
    }
    await rename(tmp, this.path(digest));
    return { digest, size: hasher.size };
  }

  async putBytes(data: string | Buffer): Promise<{ digest: Digest; size: number }> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest: Digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
    if (!(await this.has(digest))) await this.store.writeFileAtomic(this.path(digest), buf);
    return { digest, size: buf.length };
  }

  /** Adopts a file already written under the store's tmp dir, whose digest the caller computed. */
  async adopt(tmpFile: string, digest: Digest): Promise<void> {
    await rename(tmpFile, this.path(digest));
  }

  /** The blob's bytes (a byte range with start/end, inclusive). The blob must be here: see ensure(). */
  read(digest: Digest, range: { start?: number; end?: number } = {}): Readable {
    return createReadStream(this.path(digest), range);
  }

  async readBytes(digest: Digest): Promise<Buffer> {
    await this.ensure(digest);
    try {
      return await readFile(this.path(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(digest);
      throw e;
    }
  }

  /** A manifest or index, validated (a malformed one fails naming its digest and field). */
  async readImageDocument(digest: Digest): Promise<ImageDocument> {
    return parseImageDocument(await this.readBytes(digest), `image manifest ${digest}`);
  }

  async readManifest(digest: Digest): Promise<Manifest> {
    return parseManifest(await this.readBytes(digest), `image manifest ${digest}`);
  }

  async readImageConfig(digest: Digest): Promise<ImageConfig> {
    return parseImageConfig(await this.readBytes(digest), `image config ${digest}`);
  }
}
