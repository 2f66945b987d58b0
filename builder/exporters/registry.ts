// `--push`, `--output type=registry[,name=N][,oci-mediatypes=false][,compression=…]`: the image pushed
// to each name's registry, one progress step per name, its layers compressed on the way (distribution.ts).
import { UsageError } from '../../common/errors.js';
import type { Descriptor, Digest } from '../../common/oci.js';
import { formatReference, parseReference } from '../../snapshotter/reference.js';
import type { ManifestFormat } from '../../snapshotter/registry/format.js';
import { pushImage } from '../../snapshotter/registry/transfer.js';
import type { StoreParts } from '../engine.js';
import { DEFAULT_COMPRESSION, distributableManifest, distributionAttrs, COMPRESSION_ATTRS, type LayerCompression } from '../distribution.js';
import { checkAttrs, outputNames, type Exporter, type ExporterFactory } from '../exporter.js';
import { step, type ProgressSink } from '../progress.js';

export const registryExporter: ExporterFactory = (attrs, req): Exporter => {
  checkAttrs('registry', attrs, ['name', ...COMPRESSION_ATTRS]);
  const names = outputNames(attrs, req);
  if (names.length === 0) throw new UsageError('pushing needs a name to push to', 'add -t registry.example/team/app:tag (or name= on the output)');
  const dist = distributionAttrs(attrs, '--output type=registry');
  const format: ManifestFormat = dist.format ?? (dist.layers.compression === 'zstd' ? 'oci' : req.format);
  return {
    type: 'registry',
    remote: true,
    async export(image, ctx) {
      const pushed: string[] = [];
      for (const name of names) pushed.push(await pushManifest(ctx.parts, ctx.progress, image.manifest, name, format, dist.layers));
      return { 'containerimage.digest': pushed[0]!, 'image.name': names.join(','), 'pushed.digests': pushed.join(',') };
    },
  };
};

/** Pushes a stored manifest to a registry reference, its layers compressed as `layers` says, as one progress step. */
export async function pushManifest(parts: StoreParts, progress: ProgressSink, manifest: Descriptor, dest: string, format: ManifestFormat, layers: LayerCompression = DEFAULT_COMPRESSION): Promise<Digest> {
  const ref = parseReference(dest);
  const id = `push:${dest}`;
  const out = await distributableManifest(parts, manifest, layers, progress);
  return step(progress, id, `pushing ${formatReference(ref)}`, () =>
    pushImage(parts.registries(), parts.content, parts.sources, out, ref, {
      format,
      onTransfer: (t) => progress({ type: 'transfer', id, digest: t.digest, current: t.current, total: t.size, state: t.state }),
    }),
  );
}
