// The local images as commands see them: list (data for `tsbuild images`), inspect, tag, untag.
import { TsbuildError, UsageError } from '../common/errors.js';
import type { Descriptor, ImageConfig, Platform } from '../common/oci.js';
import { formatPlatform } from '../common/platform.js';
import { familiarName, InvalidReferenceError, normalizeReference } from '../snapshotter/reference.js';
import type { StoreParts } from './engine.js';
import { ImageResolver } from './resolver.js';

export interface ImageSummary {
  /** As users write it: app:1, registry.example/team/app:2. */
  name: string;
  manifest: Descriptor;
  configDigest: string;
  created?: string;
  /** Sum of the layers' (compressed) sizes (of every platform, for an index). */
  size: number;
  /** A multi-platform image (an index): its platforms, e.g. linux/amd64. configDigest is then the index's digest. */
  platforms?: string[];
}

/** A user-given image name, fully qualified; TSB_REFERENCE_INVALID with `hint` (what this argument takes) when it is not valid. */
export function imageRef(name: string, hint = 'references look like [registry/]name[:tag] or name@sha256:…'): string {
  try {
    return normalizeReference(name);
  } catch (e) {
    if (e instanceof InvalidReferenceError) throw new TsbuildError('TSB_REFERENCE_INVALID', e.message, { hint, cause: e });
    throw e;
  }
}

export async function listImages(parts: StoreParts): Promise<ImageSummary[]> {
  const out: ImageSummary[] = [];
  for (const img of await parts.images.list()) {
    const doc = await parts.content.readImageDocument(img.descriptor.digest);
    if (doc.kind === 'index') {
      const children = await Promise.all(doc.index.manifests.map((m) => parts.content.readManifest(m.digest)));
      const created = (await Promise.all(children.map((m) => parts.content.readImageConfig(m.config.digest)))).map((c) => c.created ?? '').sort().at(-1);
      out.push({
        name: familiarName(img.name),
        manifest: img.descriptor,
        configDigest: img.descriptor.digest,
        ...(created ? { created } : {}),
        size: children.reduce((a, m) => a + m.layers.reduce((b, l) => b + l.size, 0), 0),
        platforms: doc.index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')),
      });
      continue;
    }
    const manifest = doc.manifest;
    const config = await parts.content.readImageConfig(manifest.config.digest);
    out.push({
      name: familiarName(img.name),
      manifest: img.descriptor,
      configDigest: manifest.config.digest,
      ...(config.created !== undefined ? { created: config.created } : {}),
      size: manifest.layers.reduce((a, l) => a + l.size, 0),
    });
  }
  return out;
}

/** The image config of a local image; of a multi-platform one, for `platform` (default this machine's). */
export async function inspectImage(parts: StoreParts, name: string, platform?: Platform): Promise<ImageConfig> {
  const resolver = new ImageResolver(parts.content, parts.images, platform);
  const r = await resolver.resolve(name);
  return (await resolver.manifest(r.source.manifestDigest)).config;
}

/** The manifest a local name points at; a usage error naming `tsbuild images` when there is none. */
export async function storedImage(parts: StoreParts, name: string): Promise<Descriptor> {
  const desc = await parts.images.resolve(imageRef(name));
  if (!desc) throw new UsageError(`No such image: ${name}`, 'see `tsbuild images`');
  return desc;
}

export async function tagImage(parts: StoreParts, source: string, target: string): Promise<void> {
  const full = imageRef(target);
  await parts.images.tag(full, await storedImage(parts, source));
}

/** Removes each name; fails on the first that is not there. */
export async function untagImages(parts: StoreParts, names: readonly string[]): Promise<void> {
  for (const n of names) {
    if (!(await parts.images.untag(imageRef(n)))) throw new UsageError(`No such image: ${n}`, 'see `tsbuild images`');
  }
}
