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
    if (type === 'docker' && req.multiPlatform) throw new UsageError('--output type=docker holds one platform: docker load reads no image index', 'write the platforms as one OCI archive (type=oci), or build each platform with its own type=docker output');
    return {
      type,
      remote: false,
      async export(image, ctx) {
        // The entry in the layout's index.json carries manifest-descriptor annotations for one platform,
        // index-descriptor ones for several (their manifests' entries in the index carry the former),
        // as BuildKit's image writer does.
        const extra = image.platforms ? req.annotations?.indexDescriptor : req.annotations?.manifestDescriptor;
        const out = await archivedManifest(ctx.parts, image.manifest, dist, ctx.progress);
        const manifest = extra ? { ...out, annotations: { ...extra } } : out;
        if (!tar) await writeLayoutDir(ctx.parts.content, manifest, names, dest);
        else await writeOutput(dest, await imageArchive(ctx.parts.content, manifest, names, { mtime: ctx.sourceDateEpoch ?? 0, docker: type === 'docker' }), ctx);
        return { 'containerimage.digest': out.digest, dest };
      },
    };
  };
}

export const ociArchiveExporter = archiveExporter('oci');
export const dockerArchiveExporter = archiveExporter('docker');
