// `--output type=oci,dest=FILE[,name=N]`: the image as an OCI image layout in a tar archive.
import path from 'node:path';
import { UsageError } from '../../common/errors.js';
import { writeOciArchive } from '../../snapshotter/ociarchive.js';
import { checkAttrs, outputNames, type Exporter, type ExporterFactory } from '../exporter.js';

export const ociArchiveExporter: ExporterFactory = (attrs, req): Exporter => {
  checkAttrs('oci', attrs, ['dest', 'name']);
  if (!attrs.dest) throw new UsageError('--output type=oci needs dest=FILE', 'e.g. --output type=oci,dest=image.tar');
  const dest = path.resolve(attrs.dest);
  const names = outputNames(attrs, req);
  return {
    type: 'oci',
    remote: false,
    async export(image, ctx) {
      await writeOciArchive(ctx.parts.content, image.manifest, [...names], dest, ctx.sourceDateEpoch ?? 0);
      return { 'containerimage.digest': image.manifest.digest, dest };
    },
  };
};
