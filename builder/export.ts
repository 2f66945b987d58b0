// Turns a solved build into an image: config (with history as BuildKit writes it) and an OCI
// manifest over the layer chain, both stored in the content store.
import type { BuildDefinition } from './graph.js';
import type { Solver } from './solver.js';
import type { ContentStore } from '../snapshotter/content.js';
import { MediaType, type Descriptor, type HistoryEntry, type ImageConfig, type Manifest } from '../common/oci.js';
import type { LayerChain } from '../snapshotter/snapshots.js';

export interface ExportedImage {
  manifest: Descriptor;
  config: ImageConfig;
  configDescriptor: Descriptor;
}

const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** Docker and OCI gzip layers are the same bytes; an OCI manifest must use OCI types only. */
function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
  if (mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return MediaType.ociLayer;
  return mediaType;
}

export async function exportImage(
  content: ContentStore,
  solver: Solver,
  def: BuildDefinition,
  chain: LayerChain,
  opts: { sourceDateEpoch?: number } = {},
): Promise<ExportedImage> {
  const epoch = opts.sourceDateEpoch !== undefined ? new Date(opts.sourceDateEpoch * 1000).toISOString().replace('.000Z', 'Z') : undefined;
  const base = def.baseHistory ?? [];
  let last = epoch ?? base.at(-1)?.created ?? new Date(0).toISOString();
  const history: HistoryEntry[] = base.map((h) => ({ ...h }));
  for (const item of def.history) {
    const outcome = item.vertex ? await solver.outcome(item.vertex) : undefined;
    // Metadata-only steps take the time of the step before them, so a cached rebuild is identical.
    const created = epoch ?? outcome?.created ?? last;
    last = created;
    const entry: HistoryEntry = { created, created_by: item.createdBy, comment: HISTORY_COMMENT };
    if (!outcome?.addedLayer) entry.empty_layer = true;
    history.push(entry);
  }
  const config: ImageConfig = {
    ...(def.config.author ? { author: def.config.author } : {}),
    architecture: def.config.architecture,
    os: def.config.os,
    ...(def.config.variant ? { variant: def.config.variant } : {}),
    created: last,
    config: def.config.config,
    rootfs: { type: 'layers', diff_ids: chain.map((l) => l.diffID) },
    history,
  };
  const configBlob = await content.putBytes(JSON.stringify(config));
  const configDescriptor: Descriptor = { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers: chain.map((l) => ({ mediaType: ociLayerType(l.blob.mediaType), digest: l.blob.digest, size: l.blob.size })),
  };
  const m = await content.putBytes(JSON.stringify(manifest));
  return { manifest: { mediaType: MediaType.ociManifest, digest: m.digest, size: m.size }, config, configDescriptor };
}
