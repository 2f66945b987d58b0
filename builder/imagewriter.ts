// Writes an image's config and OCI manifest into the content store: the one place both are made,
// for built images (export.ts) and imported ones (import.ts); and the index of a multi-platform image.
import { MediaType, type Descriptor, type ImageConfig, type Index, type Manifest } from '../common/oci.js';
import type { ContentStore } from '../snapshotter/content.js';

export interface WrittenImage {
  manifest: Descriptor;
  config: ImageConfig;
  configDescriptor: Descriptor;
}

/** Docker and OCI gzip layers are the same bytes; an OCI manifest must use OCI types only. */
function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
  if (mediaType === MediaType.dockerLayer) return MediaType.ociLayer;
  return mediaType;
}

/** `annotations`: the manifest's own (--annotation manifest:K=V); they change its digest, not the image id. */
export async function writeImage(content: ContentStore, config: ImageConfig, layers: readonly Descriptor[], annotations?: Readonly<Record<string, string>>): Promise<WrittenImage> {
  const configBlob = await content.putBytes(JSON.stringify(config));
  const configDescriptor: Descriptor = { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers: layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
    ...(annotations && Object.keys(annotations).length ? { annotations: { ...annotations } } : {}),
  };
  const m = await content.putBytes(JSON.stringify(manifest));
  return { manifest: { mediaType: MediaType.ociManifest, digest: m.digest, size: m.size }, config, configDescriptor };
}

/**
 * The OCI image index of one build's platform images (in --platform order), each entry with its
 * platform as the image config says. `annotations`: --annotation index:K=V; `entries`:
 * manifest-descriptor:K=V, on each entry.
 */
export async function writeIndex(content: ContentStore, images: readonly WrittenImage[], annotations?: Readonly<Record<string, string>>, entries?: Readonly<Record<string, string>>): Promise<Descriptor> {
  const entryAnnotations = entries && Object.keys(entries).length ? { annotations: { ...entries } } : {};
  const index: Index = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: images.map(({ manifest, config }) => ({ ...manifest, ...entryAnnotations, platform: { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) } })),
    ...(annotations && Object.keys(annotations).length ? { annotations: { ...annotations } } : {}),
  };
  const d = await content.putBytes(JSON.stringify(index));
  return { mediaType: MediaType.ociIndex, digest: d.digest, size: d.size };
}
