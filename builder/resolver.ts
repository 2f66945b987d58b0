// Resolves base image names to a manifest in the content store: the local image store by name,
// or an OCI layout directory (`oci-layout://DIR[:TAG|@DIGEST]`) whose blobs are imported, verified.
import { TsbuildError } from '../common/errors.js';
import type { ImageSource } from './graph.js';
import type { ContentStore } from '../snapshotter/content.js';
import type { ImageStore } from '../snapshotter/images.js';
import { OciLayout } from '../snapshotter/ocilayout.js';
import { RefNameAnnotation } from '../snapshotter/images.js';
import { hostPlatform, isDigest, platformMatches, type Descriptor, type Digest, type ImageConfig, type Manifest, type Platform } from '../common/oci.js';
import { InvalidReferenceError, normalizeReference, familiarName, parseReference, formatReference } from '../snapshotter/reference.js';
import type { Registries } from '../snapshotter/registry/registries.js';
import type { BlobSources } from '../snapshotter/registry/sources.js';
import { pullImage } from '../snapshotter/registry/transfer.js';
import { chainIDOf } from '../snapshotter/snapshots.js';
import { RegistryError } from '../snapshotter/registry/errors.js';
import { step, type ProgressSink } from './progress.js';

/** Where images not in the local store come from. */
export interface PullSource {
  registries: Registries;
  sources: BlobSources;
  progress?: ProgressSink;
  /** Resolve tags against the registry even when the image is in the local store (`--pull`). */
  always?: boolean;
  /** A build pulls only manifests and configs; layers come when a step needs them (or never, when cached). */
  lazyLayers?: boolean;
}

export class ImageNotFoundError extends TsbuildError {
  constructor(readonly ref: string, hint?: string, reason = 'image not found', cause?: unknown) {
    super('TSB_IMAGE_NOT_FOUND', `failed to resolve source metadata for ${ref}: ${reason}`, { ...(hint !== undefined ? { hint } : {}), cause });
  }
}

export interface ResolvedImage {
  source: ImageSource;
  config: ImageConfig;
}


export class ImageResolver {
  private readonly pulled = new Map<string, Promise<Descriptor>>();

  constructor(
    private readonly content: ContentStore,
    private readonly images: ImageStore,
    private readonly platform: Platform = hostPlatform(),
    private readonly remote?: PullSource,
  ) {}

  async resolve(ref: string): Promise<ResolvedImage> {
    if (ref.startsWith('oci-layout://')) return this.fromLayout(ref);
    let name: string;
    try {
      name = normalizeReference(ref);
    } catch (e) {
      if (e instanceof InvalidReferenceError) throw new ImageNotFoundError(ref, e.message);
      throw e;
    }
    let desc = this.remote?.always ? undefined : await this.images.resolve(name);
    if (!desc && this.remote) {
      try {
        desc = await this.pull(name);
      } catch (e) {
        if (!(e instanceof RegistryError)) throw e;
        const local = this.remote.always ? '' : ` It is not in the local store either (see \`tsbuild images\`).`;
        throw new ImageNotFoundError(name, `${e.hint ? `${e.hint}.` : ''}${local}`.trim() || undefined, `image not found: ${e.message}`);
      }
    }
    if (!desc) {
      throw new ImageNotFoundError(ref, `no image named ${familiarName(name)} in the local store (see \`tsbuild images\`); build or import it first, e.g. FROM oci-layout://DIR:TAG`);
    }
    const { manifestDigest, config } = await this.pickManifest(desc);
    return { source: { type: 'image', ref: familiarName(name), origin: { kind: 'store' }, manifestDigest, ...layersKey(config), platform: this.platform }, config };
  }

  /** Pulls `name` into the store and tags it there; each name is pulled once per build. */
  pull(name: string): Promise<Descriptor> {
    let p = this.pulled.get(name);
    if (!p) {
      p = this.pullOnce(name);
      this.pulled.set(name, p);
    }
    return p;
  }

  private async pullOnce(name: string): Promise<Descriptor> {
    const remote = this.remote!;
    const progress = remote.progress ?? (() => {});
    const id = `pull:${name}`;
    const ref = parseReference(name);
    return step(progress, id, `[internal] load metadata for ${formatReference(ref)}`, async () => {
      const img = await pullImage(remote.registries, this.content, remote.sources, ref, {
        platform: this.platform,
        lazyLayers: remote.lazyLayers ?? false,
        onTransfer: (t) => progress({ type: 'transfer', id, digest: t.digest, current: t.current, total: t.size, state: t.state }),
      });
      // A pull by digest is kept under its digest; by tag, under the tag. A multi-platform image's
      // name goes on its index, so each platform finds its own manifest there.
      const desc = img.index ?? img.manifest;
      await this.images.tag(name, desc);
      return desc;
    });
  }

  /** Walks an index down to the manifest for our platform. */
  private async pickManifest(desc: Descriptor): Promise<{ manifestDigest: Digest; manifest: Manifest; config: ImageConfig }> {
    let d = desc;
    for (let depth = 0; depth < 4; depth++) {
      const doc = await this.content.readImageDocument(d.digest);
      if (doc.kind === 'index') {
        const { manifests } = doc.index;
        const next = manifests.find((m) => platformMatches(m.platform, this.platform)) ?? (manifests.length === 1 ? manifests[0] : undefined);
        if (!next) throw new ImageNotFoundError(d.digest, `the image has no manifest for ${this.platform.os}/${this.platform.architecture}`);
        d = next;
        continue;
      }
      const config = await this.content.readImageConfig(doc.manifest.config.digest);
      return { manifestDigest: d.digest, manifest: doc.manifest, config };
    }
    throw new ImageNotFoundError(desc.digest, 'image index nesting is too deep');
  }

  async manifest(digest: Digest): Promise<{ manifest: Manifest; config: ImageConfig }> {
    const manifest = await this.content.readManifest(digest);
    return { manifest, config: await this.content.readImageConfig(manifest.config.digest) };
  }

  private async fromLayout(ref: string): Promise<ResolvedImage> {
    const spec = ref.slice('oci-layout://'.length);
    let dir = spec;
    let tag: string | undefined;
    let digest: string | undefined;
    const at = spec.lastIndexOf('@');
    if (at > 0) {
      dir = spec.slice(0, at);
      digest = spec.slice(at + 1);
    } else {
      const colon = spec.lastIndexOf(':');
      if (colon > spec.lastIndexOf('/')) {
        dir = spec.slice(0, colon);
        tag = spec.slice(colon + 1);
      }
    }
    const layout = new OciLayout(dir);
    const dirAbs = layout.dir;
    const index = await layout.index().catch((e: unknown) => {
      if (e instanceof TsbuildError) throw e;
      throw new ImageNotFoundError(ref, `${dirAbs} is not an OCI image layout (no readable index.json)`);
    });
    const pick = index.manifests.find((m) => {
      if (digest) return m.digest === digest;
      if (tag) return m.annotations?.[RefNameAnnotation] === tag || m.annotations?.[RefNameAnnotation]?.endsWith(`:${tag}`);
      return true;
    });
    if (!pick || (!digest && !tag && index.manifests.length > 1)) {
      const tags = index.manifests.map((m) => m.annotations?.[RefNameAnnotation]).filter(Boolean);
      throw new ImageNotFoundError(ref, tags.length ? `tags in ${dirAbs}: ${tags.join(', ')}` : `${dirAbs} has no matching manifest`);
    }
    await this.importTree(layout, pick);
    const { manifestDigest, config } = await this.pickManifest(pick);
    return { source: { type: 'image', ref, origin: { kind: 'oci-layout', dir: dirAbs, tag }, manifestDigest, ...layersKey(config), platform: this.platform }, config };
  }

  /** Copies a manifest (or index) and every blob it references into the content store, verified. */
  private async importTree(layout: OciLayout, desc: Descriptor): Promise<void> {
    await this.importBlob(layout, desc.digest);
    const doc = await this.content.readImageDocument(desc.digest);
    if (doc.kind === 'index') {
      const { manifests } = doc.index;
      for (const m of manifests) if (platformMatches(m.platform, this.platform) || manifests.length === 1) await this.importTree(layout, m);
      return;
    }
    await this.importBlob(layout, doc.manifest.config.digest);
    for (const l of doc.manifest.layers) await this.importBlob(layout, l.digest);
  }

  private async importBlob(layout: OciLayout, digest: Digest): Promise<void> {
    if (!isDigest(digest)) throw new ImageNotFoundError(digest, 'only sha256 digests are supported');
    if (await this.content.has(digest)) return;
    await this.content.put(layout.openBlob(digest), digest);
  }
}

/** The chain ID of an image's layers (graph.ts ImageSource.layersKey), when it has any. */
function layersKey(config: ImageConfig): { layersKey?: Digest } {
  let chain: Digest | undefined;
  for (const d of config.rootfs.diff_ids) chain = chainIDOf(chain, d);
  return chain ? { layersKey: chain } : {};
}
