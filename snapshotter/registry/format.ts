// OCI and Docker schema2 manifests describe the same bytes with different media types. Converting
// rewrites only the manifest (so its digest changes); config and layer blobs are untouched.
import { TsbuildError } from '../../common/errors.js';
import { MediaType, type Descriptor, type Manifest } from '../../common/oci.js';

export type ManifestFormat = 'oci' | 'docker';

export class FormatError extends TsbuildError {
  constructor(message: string) {
    super('TSB_USAGE', message);
  }
}

const toDocker: Record<string, string> = {
  [MediaType.ociLayerGzip]: MediaType.dockerLayerGzip,
  [MediaType.ociLayer]: MediaType.dockerLayer,
  [MediaType.ociConfig]: MediaType.dockerConfig,
};
const toOci: Record<string, string> = Object.fromEntries(Object.entries(toDocker).map(([a, b]) => [b, a]));

function mapDescriptor(d: Descriptor, table: Record<string, string>, format: ManifestFormat): Descriptor {
  const mediaType = table[d.mediaType] ?? d.mediaType;
  if (format === 'docker' && !Object.values(toDocker).includes(mediaType)) {
    throw new FormatError(`a layer of type ${d.mediaType} cannot be described in a Docker manifest; push with --format oci`);
  }
  const out: Descriptor = { mediaType, digest: d.digest, size: d.size };
  if (format === 'oci' && d.annotations) out.annotations = d.annotations;
  return out;
}

export function manifestFormat(m: Manifest): ManifestFormat {
  return m.mediaType === MediaType.dockerManifest ? 'docker' : 'oci';
}

/** The manifest in the wanted format, or undefined when it already is (keep the original bytes). */
export function convertManifest(m: Manifest, format: ManifestFormat): Manifest | undefined {
  if (manifestFormat(m) === format) return undefined;
  const table = format === 'docker' ? toDocker : toOci;
  const out: Manifest = {
    schemaVersion: 2,
    mediaType: format === 'docker' ? MediaType.dockerManifest : MediaType.ociManifest,
    config: mapDescriptor(m.config, table, format),
    layers: m.layers.map((l) => mapDescriptor(l, table, format)),
  };
  if (format === 'oci' && m.annotations) out.annotations = m.annotations;
  return out;
}
