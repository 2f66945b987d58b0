// Writes an image's config and OCI manifest into the content store: the one place both are made,
// for built images (export.ts) and imported ones (import.ts).
import { MediaType, type Descriptor, type ImageConfig, type Manifest } from '../common/oci.js';
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

export async function writeImage(content: ContentStore, config: ImageConfig, layers: readonly Descriptor[]): Promise<WrittenImage> {
  const configBlob = await content.putBytes(JSON.stringify(config));
  const configDescriptor: Descriptor = { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers: layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
  };
  const m = await content.putBytes(JSON.stringify(manifest));
  return { manifest: { mediaType: MediaType.ociManifest, digest: m.digest, size: m.size }, config, configDescriptor };
}
