// Compressed forms of layers, made when a layer first leaves the machine and kept for the next time:
// a small record per diffID and compression (cache/compressed/<diffID>.<compression>.json) names the
// blob. A record whose blob is gone (prune) is ignored and the blob made again.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MediaType, type Descriptor, type Digest } from '../common/oci.js';
import { compressionOf, compressor, ociLayerMediaType, type Compression } from './compression.js';
import { HashingStream, type ContentStore } from './content.js';
import { openLayer } from './layer.js';
import type { Store } from './store.js';

/** How layers should leave: `force` recompresses layers that are in another compression (pulled ones). */
export interface LayerCompression {
  compression: Compression;
  level?: number;
  force: boolean;
}

export interface LayerRef {
  blob: Descriptor;
  diffID: Digest;
}

export class CompressedForms {
  private readonly dir: string;

  constructor(private readonly store: Store, private readonly content: ContentStore) {
    this.dir = path.join(store.cacheDir, 'compressed');
  }

  private file(diffID: Digest, c: Compression): string {
    return path.join(this.dir, `${diffID.slice(7)}.${c}.json`);
  }

  /** The kept form of a layer in `c`, if its blob is still here. */
  async lookup(diffID: Digest, c: Compression): Promise<Descriptor | undefined> {
    if (c === 'uncompressed' && (await this.content.has(diffID))) return { mediaType: MediaType.ociLayer, digest: diffID, size: await this.content.size(diffID) };
    try {
      const d = JSON.parse(await readFile(this.file(diffID, c), 'utf8')) as Descriptor;
      return (await this.content.has(d.digest)) ? d : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether `layer` leaves as it is (no new blob to make) under `want`. */
  keepsAsIs(layer: LayerRef, want: LayerCompression): boolean {
    const current = compressionOf(layer.blob.mediaType);
    // A type that is not a layer tar (foreign, or unknown to us) is never rewritten.
    return current === undefined || current === want.compression || (current !== 'uncompressed' && !want.force);
  }

  /** The layer's blob as it should leave: as it is, the kept form, or compressed now (and kept). */
  async distributable(layer: LayerRef, want: LayerCompression): Promise<Descriptor> {
    if (this.keepsAsIs(layer, want)) return layer.blob;
    const known = await this.lookup(layer.diffID, want.compression);
    if (known) return known;
    await this.content.ensure(layer.blob.digest);
    const tmp = this.store.tmpPath('compress');
    const blob = new HashingStream();
    try {
      const { tar, verify } = openLayer(this.content, layer.blob, layer.diffID);
      await pipeline(tar, compressor(want.compression, want.level), blob, createWriteStream(tmp));
      verify();
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    const digest = blob.digest();
    if (await this.content.has(digest)) await unlink(tmp);
    else await this.content.adopt(tmp, digest);
    const desc: Descriptor = { mediaType: ociLayerMediaType(want.compression), digest, size: blob.size };
    if (want.compression !== 'uncompressed') {
      await mkdir(this.dir, { recursive: true });
      await this.store.writeFileAtomic(this.file(layer.diffID, want.compression), JSON.stringify(desc));
    }
    return desc;
  }
}
