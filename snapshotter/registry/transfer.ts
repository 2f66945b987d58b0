// Pull and push of whole images between a registry and the content store: blobs in parallel,
// byte progress per blob, manifests last on push (a registry must have every blob first).
import { createReadStream } from 'node:fs';
import type { ContentStore } from '../content.js';
import { hostPlatform, MediaType, platformMatches, sha256, type Descriptor, type Digest, type ImageConfig, type Index, type Platform } from '../../common/oci.js';
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
  /** A multi-platform image: its index, stored with every platform's manifest and config (the name goes on it). */
  index?: Descriptor;
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
  let index: { bytes: Buffer; descriptor: Descriptor } | undefined;
  if (doc.kind === 'index') {
    index = { bytes: fetched.bytes, descriptor: { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length } };
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
  if (index) await storeIndex(repo, content, sources, ref, doc.kind === 'manifest' ? fetched.digest : undefined, index, where);
  await sources.save();
  return {
    manifest: { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length },
    config: await content.readImageConfig(manifest.config.digest),
    ...(index ? { index: index.descriptor } : {}),
  };
}

/**
 * The index of a multi-platform image, kept whole so the name can stay on it: every other platform's
 * manifest and config are fetched too, their layers only recorded (fetched when a build, a run or a
 * push needs them). Entries that are not image manifests (nested indexes) are left out of the check.
 */
async function storeIndex(
  repo: ReturnType<Registries['repository']>,
  content: ContentStore,
  sources: BlobSources,
  ref: Reference,
  done: Digest | undefined,
  index: { bytes: Buffer; descriptor: Descriptor },
  where: (digest: string) => string,
): Promise<void> {
  const doc = parseImageDocument(index.bytes, where(index.descriptor.digest));
  if (doc.kind !== 'index') return;
  await parallel(doc.index.manifests, PARALLEL, async (entry) => {
    if (entry.digest === done || (await content.has(entry.digest))) return;
    const fetched = await repo.getManifest(entry.digest);
    const child = parseImageDocument(fetched.bytes, where(fetched.digest));
    if (child.kind !== 'manifest') return;
    if (!(await content.has(child.manifest.config.digest))) await repo.fetchBlob(child.manifest.config, content, () => {});
    for (const d of [child.manifest.config, ...child.manifest.layers]) sources.add(ref.domain, ref.path, d.digest);
    await content.putBytes(fetched.bytes);
  });
  await content.putBytes(index.bytes);
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
  if (parsed.kind === 'index') return pushIndex(registries, content, sources, parsed.index, original, ref, opts);
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
  // By digest (an index's manifests): the digest of what is pushed, converted or not.
  const digest = await repo.putManifest(ref.tag ?? (ref.digest !== undefined ? sha256(bytes) : 'latest'), bytes, out.mediaType);
  if (converted) await content.putBytes(bytes);
  await sources.save();
  return digest;
}

/**
 * A multi-platform image: each platform's manifest pushed by digest (with its blobs), then the index
 * under the tag. With --format docker the manifests are converted, so the index is rewritten to
 * name them (as a Docker manifest list); otherwise its exact bytes go, and the digest stays.
 */
async function pushIndex(
  registries: Registries,
  content: ContentStore,
  sources: BlobSources,
  index: Index,
  original: Buffer,
  ref: Reference,
  opts: { format?: ManifestFormat; onTransfer?: TransferFn },
): Promise<Digest> {
  const children: Descriptor[] = [];
  for (const m of index.manifests) {
    const { tag: _tag, ...byDigest } = ref;
    const digest = await pushImage(registries, content, sources, m, { ...byDigest, digest: m.digest }, opts);
    const mediaType = opts.format === 'docker' ? MediaType.dockerManifest : m.mediaType;
    children.push(digest === m.digest ? m : { ...m, mediaType, digest, size: (await content.readBytes(digest)).length });
  }
  const changed = children.some((c, i) => c.digest !== index.manifests[i]!.digest);
  const mediaType = changed && opts.format === 'docker' ? MediaType.dockerManifestList : (index.mediaType ?? MediaType.ociIndex);
  const bytes = changed ? Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: children, ...(opts.format !== 'docker' && index.annotations ? { annotations: index.annotations } : {}) })) : original;
  if (changed) await content.putBytes(bytes);
  return registries.repository(ref).putManifest(ref.tag ?? ref.digest ?? 'latest', bytes, mediaType);
}
