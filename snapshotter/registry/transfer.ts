// Pull and push of whole images between a registry and the content store: blobs in parallel,
// byte progress per blob, manifests last on push (a registry must have every blob first).
import { createReadStream } from 'node:fs';
import type { ContentStore } from '../content.js';
import { hostPlatform, platformMatches, type Descriptor, type Digest, type ImageConfig, type Platform } from '../../common/oci.js';
import { parseImageDocument } from '../../common/ociparse.js';
import type { Reference } from '../reference.js';
import { RegistryError } from './errors.js';
import { convertManifest, type ManifestFormat } from './format.js';
import type { Registries } from './registries.js';
import type { BlobSources } from './sources.js';

export interface TransferEvent {
  digest: Digest;
  size: number;
  /** Bytes moved so far (may go back down when a transfer restarts). */
  current: number;
  state: 'running' | 'done' | 'exists' | 'mounted';
}

export type TransferFn = (e: TransferEvent) => void;

/** How many blobs move at once. */
const PARALLEL = 3;

async function parallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}


export interface PulledImage {
  /** The platform's manifest, as stored in the content store. */
  manifest: Descriptor;
  config: ImageConfig;
}

export async function pullImage(
  registries: Registries,
  content: ContentStore,
  sources: BlobSources,
  ref: Reference,
  /** lazyLayers: fetch the manifest and config only; layers are recorded in `sources` and fetched when read. */
  opts: { platform?: Platform; onTransfer?: TransferFn; lazyLayers?: boolean } = {},
): Promise<PulledImage> {
  const platform = opts.platform ?? hostPlatform();
  const repo = registries.repository(ref);
  let fetched = await repo.getManifest(ref.digest ?? ref.tag ?? 'latest');
  const where = (digest: string): string => `manifest ${digest} of ${ref.domain}/${ref.path}`;
  let doc = parseImageDocument(fetched.bytes, where(fetched.digest));
  if (doc.kind === 'index') {
    await content.putBytes(fetched.bytes);
    const { manifests } = doc.index;
    const entry = manifests.find((m) => platformMatches(m.platform, platform));
    if (!entry) {
      const have = manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}` : '?')).join(', ');
      throw new RegistryError(`${ref.domain}/${ref.path} has no image for ${platform.os}/${platform.architecture} (it has: ${have})`, ref.domain);
    }
    fetched = await repo.getManifest(entry.digest);
    doc = parseImageDocument(fetched.bytes, where(fetched.digest));
    if (doc.kind === 'index') throw new RegistryError(`${ref.domain}/${ref.path}: the index entry for ${platform.os}/${platform.architecture} is another index`, ref.domain);
  }
  const manifest = doc.manifest;
  const blobs = opts.lazyLayers ? [manifest.config] : [manifest.config, ...manifest.layers];
  if (opts.lazyLayers) for (const l of manifest.layers) sources.add(ref.domain, ref.path, l.digest);
  await parallel(blobs, PARALLEL, async (d) => {
    if (await content.has(d.digest)) {
      opts.onTransfer?.({ digest: d.digest, size: d.size, current: d.size, state: 'exists' });
    } else {
      let current = 0;
      await repo.fetchBlob(d, content, (n) => {
        current += n;
        opts.onTransfer?.({ digest: d.digest, size: d.size, current, state: 'running' });
      });
      opts.onTransfer?.({ digest: d.digest, size: d.size, current: d.size, state: 'done' });
    }
    sources.add(ref.domain, ref.path, d.digest);
  });
  // The manifest goes in last: a manifest in the store means its blobs are there too.
  await content.putBytes(fetched.bytes);
  await sources.save();
  return {
    manifest: { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length },
    config: await content.readImageConfig(manifest.config.digest),
  };
}

/** Pushes a stored image manifest (and its blobs) to `ref`; returns the pushed manifest's digest. */
export async function pushImage(
  registries: Registries,
  content: ContentStore,
  sources: BlobSources,
  manifest: Descriptor,
  ref: Reference,
  opts: { format?: ManifestFormat; onTransfer?: TransferFn } = {},
): Promise<Digest> {
  const original = await content.readBytes(manifest.digest);
  const parsed = parseImageDocument(original, `manifest ${manifest.digest}`);
  if (parsed.kind === 'index') throw new RegistryError('pushing image indexes is not supported yet', ref.domain);
  const doc = parsed.manifest;
  const converted = convertManifest(doc, opts.format ?? 'oci');
  const out = converted ?? doc;
  const repo = registries.repository(ref);
  await parallel([out.config, ...out.layers], PARALLEL, async (d) => {
    let current = 0;
    const how = await repo.pushBlob(d, (start, end) => createReadStream(content.path(d.digest), start === undefined ? {} : { start, end }), {
      mountFrom: sources.reposOn(ref.domain, d.digest),
      beforeUpload: () => content.ensure(d.digest),
      onProgress: (n) => {
        current += n;
        opts.onTransfer?.({ digest: d.digest, size: d.size, current, state: 'running' });
      },
    });
    opts.onTransfer?.({ digest: d.digest, size: d.size, current: d.size, state: how === 'uploaded' ? 'done' : how });
    sources.add(ref.domain, ref.path, d.digest);
  });
  // Unconverted manifests keep their exact bytes, so the pushed digest is the local one.
  const bytes = converted ? Buffer.from(JSON.stringify(converted)) : original;
  const digest = await repo.putManifest(ref.tag ?? ref.digest ?? 'latest', bytes, out.mediaType);
  if (converted) await content.putBytes(bytes);
  await sources.save();
  return digest;
}
