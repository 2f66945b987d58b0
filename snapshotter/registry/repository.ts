// One repository of a registry: manifests and blobs, per the distribution spec. Everything pulled
// is checked against its digest (the exact bytes received, never re-serialised); uploads check the
// registry first and mount from a sibling repository when they can.
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { DigestMismatchError, type ContentStore } from '../content.js';
import { MediaType, type Descriptor, type Digest } from '../../common/oci.js';
import { describeErrorBody, RegistryError } from './errors.js';
import { responseHeader, retryDelay, type RegistryResponse, type RegistryTransport } from './transport.js';

export const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest].join(', ');

/** Blobs up to this size go in one PUT; larger ones in PATCH chunks of CHUNK_SIZE. */
export const MONOLITHIC_LIMIT = 16 << 20;
export const CHUNK_SIZE = 16 << 20;
/** Whole-blob attempts (download or upload session) after the transport's own retries. */
const BLOB_ATTEMPTS = 4;

export type ProgressFn = (bytes: number) => void;

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

function digestOf(bytes: Buffer): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `source` with byte progress. pipeline(), not pipe(): an error in the source (a reset
 *  connection, a vanished file) must fail the consumer instead of leaving it waiting forever. */
function counted(source: Readable, onProgress?: ProgressFn): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onProgress?.(chunk.length);
      cb(null, chunk);
    },
  });
  return pipeline(source, counter, () => {});
}

export class Repository {
  constructor(readonly transport: RegistryTransport, readonly name: string) {}

  private get host(): string {
    return this.transport.host;
  }

  private scope(actions: 'pull' | 'pull,push'): string {
    return `repository:${this.name}:${actions}`;
  }

  private async fail(res: RegistryResponse, what: string): Promise<never> {
    const { code, text } = describeErrorBody(await res.body.text());
    throw new RegistryError(`${what}: ${res.status} ${text}`.trim(), this.host, res.status, code);
  }

  async getManifest(reference: string): Promise<FetchedManifest> {
    const res = await this.transport.send({ method: 'GET', path: `/v2/${this.name}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, scopes: [this.scope('pull')] });
    if (res.status === 404) {
      await res.body.dump();
      throw new RegistryError(`${this.host}/${this.name}:${reference}: not found`, this.host, 404, 'MANIFEST_UNKNOWN', 'check the name and tag (tsbuild pull needs the image to exist in the registry)');
    }
    if (res.status !== 200) await this.fail(res, `GET manifest ${this.name}:${reference}`);
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const digest = digestOf(bytes);
    const expected = reference.startsWith('sha256:') ? reference : responseHeader(res.headers, 'docker-content-digest');
    if (expected && expected !== digest) {
      throw new RegistryError(`manifest ${this.name}:${reference} from ${this.host} does not match its digest (got ${digest}, expected ${expected})`, this.host, undefined, 'DIGEST_INVALID');
    }
    const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType;
    const mediaType = declared ?? responseHeader(res.headers, 'content-type')?.split(';')[0] ?? MediaType.ociManifest;
    return { bytes, mediaType, digest };
  }

  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.transport.send({ method: 'PUT', path: `/v2/${this.name}/manifests/${reference}`, headers: { 'content-type': mediaType }, body: () => bytes, scopes: [this.scope('pull,push')] });
    if (res.status !== 201 && res.status !== 200) await this.fail(res, `PUT manifest ${this.name}:${reference}`);
    await res.body.dump();
    const digest = digestOf(bytes);
    const got = responseHeader(res.headers, 'docker-content-digest');
    if (got && got !== digest) throw new RegistryError(`registry stored manifest ${got}, expected ${digest}`, this.host, res.status, 'DIGEST_INVALID');
    return digest;
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    const res = await this.transport.send({ method: 'HEAD', path: `/v2/${this.name}/blobs/${digest}`, scopes: [this.scope('pull,push')] });
    await res.body.dump();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw new RegistryError(`HEAD blob ${digest}: ${res.status}`, this.host, res.status);
  }

  /** Downloads a blob into the content store, verified; a corrupt or cut transfer is fetched again. */
  async fetchBlob(desc: Descriptor, content: ContentStore, onProgress?: ProgressFn): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < BLOB_ATTEMPTS; attempt++) {
      let received = 0;
      try {
        let res = await this.transport.send({ method: 'GET', path: `/v2/${this.name}/blobs/${desc.digest}`, scopes: [this.scope('pull')] });
        // Storage backends redirect; the registry's credentials stay behind (transport checks the host).
        for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 5; hops++) {
          const location = responseHeader(res.headers, 'location');
          await res.body.dump();
          if (!location) break;
          res = await this.transport.send({ method: 'GET', path: location, scopes: [this.scope('pull')] });
        }
        if (res.status !== 200) await this.fail(res, `GET blob ${desc.digest}`);
        await content.put(counted(res.body, (n) => {
          received += n;
          onProgress?.(n);
        }), desc.digest);
        return;
      } catch (e) {
        onProgress?.(-received);
        lastError = e;
        if (e instanceof RegistryError && e.status !== undefined && e.status < 500) throw e;
        await new Promise((r) => setTimeout(r, retryDelay(attempt, 200)));
      }
    }
    if (lastError instanceof DigestMismatchError) {
      throw new RegistryError(`blob ${desc.digest} from ${this.host}/${this.name} does not match its digest after ${BLOB_ATTEMPTS} attempts (got ${lastError.actual}); nothing was stored`, this.host, undefined, 'DIGEST_INVALID');
    }
    throw new RegistryError(`downloading blob ${desc.digest} from ${this.host}/${this.name} failed after ${BLOB_ATTEMPTS} attempts: ${(lastError as Error).message}`, this.host);
  }

  /**
   * Uploads a blob unless the repository has it, mounting it from `mountFrom` (another repository of
   * the same registry) when the registry allows. Returns how it got there.
   */
  async pushBlob(
    desc: Descriptor,
    open: (start?: number, end?: number) => Readable,
    opts: { mountFrom?: string[]; onProgress?: ProgressFn; beforeUpload?: () => Promise<void> } = {},
  ): Promise<'exists' | 'mounted' | 'uploaded'> {
    if (await this.hasBlob(desc.digest)) return 'exists';
    let lastError: unknown;
    for (let attempt = 0; attempt < BLOB_ATTEMPTS; attempt++) {
      const from = attempt === 0 ? opts.mountFrom?.find((r) => r !== this.name) : undefined;
      let sent = 0;
      const progress: ProgressFn = (n) => {
        sent += n;
        opts.onProgress?.(n);
      };
      try {
        const start = await this.transport.send({
          method: 'POST',
          path: `/v2/${this.name}/blobs/uploads/${from ? `?mount=${desc.digest}&from=${encodeURIComponent(from)}` : ''}`,
          headers: { 'content-length': '0' },
          scopes: from ? [this.scope('pull,push'), `repository:${from}:pull`] : [this.scope('pull,push')],
        });
        await start.body.dump();
        if (start.status === 201 && from) return 'mounted';
        if (start.status !== 202) throw new RegistryError(`starting upload of ${desc.digest}: ${start.status}`, this.host, start.status);
        // Only now are the bytes needed (a lazily imported layer is fetched here, not before).
        await opts.beforeUpload?.();
        let location = this.absolute(responseHeader(start.headers, 'location'));
        if (desc.size <= MONOLITHIC_LIMIT) {
          await this.finish(location, desc, () => counted(open(), progress), desc.size);
          return 'uploaded';
        }
        for (let offset = 0; offset < desc.size; offset += CHUNK_SIZE) {
          const end = Math.min(offset + CHUNK_SIZE, desc.size) - 1;
          const res = await this.transport.send({
            method: 'PATCH',
            path: location,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end}`, 'content-length': String(end - offset + 1) },
            body: () => counted(open(offset, end), progress),
            scopes: [this.scope('pull,push')],
            retry: false,
          });
          await res.body.dump();
          if (res.status !== 202) throw new RegistryError(`uploading ${desc.digest} bytes ${offset}-${end}: ${res.status}`, this.host, res.status);
          location = this.absolute(responseHeader(res.headers, 'location') ?? location);
        }
        await this.finish(location, desc, undefined, 0);
        return 'uploaded';
      } catch (e) {
        opts.onProgress?.(-sent);
        lastError = e;
        if (e instanceof RegistryError && e.status !== undefined && e.status < 500 && e.status !== 404 && e.status !== 416) throw e;
        await new Promise((r) => setTimeout(r, retryDelay(attempt, 200)));
      }
    }
    throw new RegistryError(`uploading blob ${desc.digest} to ${this.host}/${this.name} failed after ${BLOB_ATTEMPTS} attempts: ${(lastError as Error).message}`, this.host);
  }

  /** Upload Locations may be relative; later requests need them absolute. */
  private absolute(location: string | undefined): string {
    if (!location) throw new RegistryError('the registry sent no upload Location', this.host);
    return /^https?:\/\//.test(location) ? location : location.startsWith('/') ? location : `/${location}`;
  }

  private async finish(location: string, desc: Descriptor, body: (() => Readable) | undefined, length: number): Promise<void> {
    const sep = location.includes('?') ? '&' : '?';
    const res = await this.transport.send({
      method: 'PUT',
      path: `${location}${sep}digest=${encodeURIComponent(desc.digest)}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
      body,
      scopes: [this.scope('pull,push')],
      retry: false,
    });
    if (res.status !== 201) await this.fail(res, `finishing upload of ${desc.digest}`);
    await res.body.dump();
  }
}
