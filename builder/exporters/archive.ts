// `--output type=oci,dest=FILE|DIR|-[,tar=false][,name=N]` and `type=docker,dest=FILE|-[,name=N]`:
// the image as an OCI layout (tar or directory), or as docker save's archive (`docker load`); layers
// compressed as compression= says (gzip by default), the manifest in OCI or (oci-mediatypes=false) Docker types.
import { UsageError } from '../../common/errors.js';
import { imageArchive, writeLayoutDir } from '../../snapshotter/ociarchive.js';
import { archivedManifest, COMPRESSION_ATTRS, distributionAttrs } from '../distribution.js';
import { checkAttrs, outputNames, writeOutput, type Exporter, type ExporterFactory } from '../exporter.js';

function archiveExporter(type: 'oci' | 'docker'): ExporterFactory {
  return (attrs, req): Exporter => {
    checkAttrs(type, attrs, [...(type === 'oci' ? ['dest', 'name', 'tar'] : ['dest', 'name']), ...COMPRESSION_ATTRS]);
    const dist = distributionAttrs(attrs, `--output type=${type}`);
    if (!attrs.dest) throw new UsageError(`--output type=${type} needs dest=FILE (or dest=- for standard output)`, `e.g. --output type=${type},dest=image.tar`);
    const dest = attrs.dest;
    const tar = attrs.tar !== 'false';
    if (!tar && dest === '-') throw new UsageError('--output type=oci,tar=false needs a directory for dest');
    const names = outputNames(attrs, req);
    return {
      type,
      remote: false,
      async export(image, ctx) {
        const manifest = await archivedManifest(ctx.parts, image.manifest, dist, ctx.progress);
        if (!tar) await writeLayoutDir(ctx.parts.content, manifest, names, dest);
        else await writeOutput(dest, await imageArchive(ctx.parts.content, manifest, names, { mtime: ctx.sourceDateEpoch ?? 0, docker: type === 'docker' }), ctx);
        return { 'containerimage.digest': manifest.digest, dest };
      },
    };
  };
}

export const ociArchiveExporter = archiveExporter('oci');
export const dockerArchiveExporter = archiveExporter('docker');
