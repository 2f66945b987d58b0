// Validating parsers for the OCI documents tsbuild reads (manifests, indexes, image configs): a
// document that matches its digest can still be malformed, and must fail here, naming the digest
// and the field, rather than deep inside whoever reads it. Docker schema2 documents have the same
// shape and pass too.
import { TsbuildError } from './errors.js';
import { isDigest, MediaType, type Descriptor, type Digest, type ImageConfig, type Index, type Manifest, type Platform } from './oci.js';

export class ImageFormatError extends TsbuildError {
  constructor(where: string, what: string) {
    super('TSB_IMAGE_INVALID', `${where}: ${what}`, { hint: 'the image is malformed: rebuild it, or pull it again from a registry that serves valid images' });
  }
}

const MANIFEST_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.dockerManifest];
const INDEX_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList];

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJSON(bytes: Buffer | string, where: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (e) {
    throw new ImageFormatError(where, `not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw new ImageFormatError(where, 'not a JSON object');
  return v;
}

function stringMap(v: unknown, where: string, field: string): void {
  if (v === undefined) return;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new ImageFormatError(where, `${field} must be an object of strings`);
}

function stringList(v: unknown, where: string, field: string, nullable = false): void {
  if (v === undefined || (nullable && v === null)) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ImageFormatError(where, `${field} must be a list of strings`);
}

function digest(v: unknown, where: string, field: string): Digest {
  if (typeof v !== 'string') throw new ImageFormatError(where, `${field} is missing`);
  if (!isDigest(v)) throw new ImageFormatError(where, `${field} "${v.slice(0, 80)}" is not a sha256 digest`);
  return v;
}

function platform(v: unknown, where: string, field: string): Platform | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || typeof v.architecture !== 'string' || typeof v.os !== 'string') throw new ImageFormatError(where, `${field} needs architecture and os`);
  if (v.variant !== undefined && typeof v.variant !== 'string') throw new ImageFormatError(where, `${field}.variant must be a string`);
  return v as unknown as Platform;
}

export function parseDescriptor(v: unknown, where: string, field: string): Descriptor {
  if (!isObject(v)) throw new ImageFormatError(where, `${field} must be a descriptor object`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw new ImageFormatError(where, `${field}.mediaType is missing`);
  digest(v.digest, where, `${field}.digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new ImageFormatError(where, `${field}.size must be a non-negative integer`);
  stringMap(v.annotations, where, `${field}.annotations`);
  platform(v.platform, where, `${field}.platform`);
  return v as unknown as Descriptor;
}

function schemaVersion(doc: Json, where: string): void {
  if (doc.schemaVersion !== 2) throw new ImageFormatError(where, `schemaVersion ${JSON.stringify(doc.schemaVersion)} is not supported (want 2)`);
}

export function parseManifest(bytes: Buffer | string, where: string): Manifest {
  const doc = parseJSON(bytes, where);
  schemaVersion(doc, where);
  if (doc.mediaType !== undefined && !MANIFEST_TYPES.includes(doc.mediaType as string)) throw new ImageFormatError(where, `mediaType ${JSON.stringify(doc.mediaType)} is not an image manifest`);
  parseDescriptor(doc.config, where, 'config');
  if (!Array.isArray(doc.layers)) throw new ImageFormatError(where, 'layers must be a list');
  doc.layers.forEach((l, i) => parseDescriptor(l, where, `layers[${i}]`));
  stringMap(doc.annotations, where, 'annotations');
  return doc as unknown as Manifest;
}

export function parseIndex(bytes: Buffer | string, where: string): Index {
  const doc = parseJSON(bytes, where);
  schemaVersion(doc, where);
  if (doc.mediaType !== undefined && !INDEX_TYPES.includes(doc.mediaType as string)) throw new ImageFormatError(where, `mediaType ${JSON.stringify(doc.mediaType)} is not an image index`);
  if (!Array.isArray(doc.manifests)) throw new ImageFormatError(where, 'manifests must be a list');
  doc.manifests.forEach((m, i) => parseDescriptor(m, where, `manifests[${i}]`));
  stringMap(doc.annotations, where, 'annotations');
  return doc as unknown as Index;
}

export type ImageDocument = { kind: 'manifest'; manifest: Manifest } | { kind: 'index'; index: Index };

/** A manifest or an index, told apart by mediaType, else by shape (mediaType is optional in OCI). */
export function parseImageDocument(bytes: Buffer | string, where: string): ImageDocument {
  const doc = parseJSON(bytes, where);
  const type = doc.mediaType;
  const isIndex = typeof type === 'string' ? INDEX_TYPES.includes(type) : Array.isArray(doc.manifests) && doc.config === undefined;
  return isIndex ? { kind: 'index', index: parseIndex(bytes, where) } : { kind: 'manifest', manifest: parseManifest(bytes, where) };
}

export function parseImageConfig(bytes: Buffer | string, where: string): ImageConfig {
  const doc = parseJSON(bytes, where);
  if (typeof doc.architecture !== 'string' || typeof doc.os !== 'string') throw new ImageFormatError(where, 'architecture and os must be strings');
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) throw new ImageFormatError(where, 'rootfs must be {type: "layers", diff_ids: [...]}');
  rootfs.diff_ids.forEach((d, i) => digest(d, where, `rootfs.diff_ids[${i}]`));
  if (doc.history !== undefined && (!Array.isArray(doc.history) || doc.history.some((h) => !isObject(h)))) throw new ImageFormatError(where, 'history must be a list of objects');
  // Images with no runtime settings omit "config"; tsbuild always has one.
  const rc = doc.config ?? {};
  if (!isObject(rc)) throw new ImageFormatError(where, 'config must be an object');
  stringList(rc.Env, where, 'config.Env');
  stringList(rc.Cmd, where, 'config.Cmd', true);
  stringList(rc.Entrypoint, where, 'config.Entrypoint', true);
  stringList(rc.Shell, where, 'config.Shell');
  stringMap(rc.Labels, where, 'config.Labels');
  for (const f of ['User', 'WorkingDir', 'StopSignal'] as const) {
    if (rc[f] !== undefined && typeof rc[f] !== 'string') throw new ImageFormatError(where, `config.${f} must be a string`);
  }
  for (const f of ['ExposedPorts', 'Volumes'] as const) {
    if (rc[f] !== undefined && rc[f] !== null && !isObject(rc[f])) throw new ImageFormatError(where, `config.${f} must be an object`);
  }
  return { ...(doc as unknown as ImageConfig), config: rc as ImageConfig['config'] };
}
