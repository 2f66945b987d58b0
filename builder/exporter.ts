// Exporters: where a built image goes, behind one interface (BuildKit's exporter package). A build
// request's outputs are `type` + attributes, as buildx's --output spells them; each type has a
// factory here that checks its attributes. A new output (docker archive, local dir, cache) adds a
// factory and nothing in cmd/.
import { UsageError } from '../common/errors.js';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Descriptor, Digest, ImageConfig, Platform } from '../common/oci.js';
import type { ManifestFormat } from '../snapshotter/registry/format.js';
import type { StoreParts } from './engine.js';
import { imageRef } from './images.js';
import { imageStoreExporter } from './exporters/imagestore.js';
import { dockerArchiveExporter, ociArchiveExporter } from './exporters/archive.js';
import { localExporter, tarExporter } from './exporters/filesystem.js';
import { registryExporter } from './exporters/registry.js';
import { COMPRESSION_ATTRS } from './distribution.js';
import type { ProgressSink } from './progress.js';

/** One --output: `type=oci,dest=out.tar` is { type: 'oci', attrs: { dest: 'out.tar' } }. */
export interface OutputSpec {
  type: string;
  attrs: Readonly<Record<string, string>>;
}

export interface BuiltImage {
  manifest: Descriptor;
  config: ImageConfig;
  configDescriptor: Descriptor;
  /** The layers, bottom first, with their diff IDs (their snapshots may not be unpacked yet). */
  layers: ReadonlyArray<{ blob: Descriptor; diffID: Digest }>;
  /** The request's tags, fully qualified (docker.io/library/app:1). */
  names: readonly string[];
  /**
   * A multi-platform build: each platform's image, in --platform order. `manifest` is then their
   * index, config and configDescriptor the first platform's, and layers every platform's.
   */
  platforms?: readonly PlatformImage[];
}

export interface PlatformImage {
  platform: Platform;
  manifest: Descriptor;
  config: ImageConfig;
  configDescriptor: Descriptor;
  layers: ReadonlyArray<{ blob: Descriptor; diffID: Digest }>;
}

export interface ExportContext {
  parts: StoreParts;
  progress: ProgressSink;
  sourceDateEpoch?: number;
  /** Where `dest=-` writes (cmd/ passes its standard output). */
  stdout?: NodeJS.WritableStream;
}

/** Streams an output to a file (complete or not at all: temp file, then rename) or to `-`, the request's stdout. */
export async function writeOutput(dest: string, data: Readable, ctx: ExportContext): Promise<void> {
  if (dest === '-') {
    if (!ctx.stdout) throw new UsageError('dest=- needs a standard output to write to');
    await pipeline(data, ctx.stdout, { end: false });
    return;
  }
  const file = path.resolve(dest);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await pipeline(data, createWriteStream(tmp));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** What an exporter reports, as BuildKit's exporter response (e.g. containerimage.digest). */
export type ExportResponse = Record<string, string>;

export interface Exporter {
  readonly type: string;
  /** Leaves the machine: runs after the local export step, with progress steps of its own. */
  readonly remote: boolean;
  export(image: BuiltImage, ctx: ExportContext): Promise<ExportResponse>;
}

/** --annotation values by where buildx puts them (`manifest:` is the default). */
export interface Annotations {
  manifest?: Readonly<Record<string, string>>;
  index?: Readonly<Record<string, string>>;
  /** On the manifest's descriptor: its entry in an OCI layout's index.json (type=oci and type=docker archives). */
  manifestDescriptor?: Readonly<Record<string, string>>;
  indexDescriptor?: Readonly<Record<string, string>>;
}

/** What every factory gets besides the output's own attributes. */
export interface ExportRequest {
  names: readonly string[];
  format: ManifestFormat;
  annotations?: Annotations;
  /** Several --platform values: the image is an index. */
  multiPlatform?: boolean;
}

export type ExporterFactory = (attrs: Readonly<Record<string, string>>, req: ExportRequest) => Exporter;

const factories: Readonly<Record<string, ExporterFactory>> = {
  image: imageStoreExporter,
  registry: registryExporter,
  oci: ociArchiveExporter,
  docker: dockerArchiveExporter,
  local: localExporter,
  tar: tarExporter,
};

/** Fails with a usage error naming the attributes a type of `flag` takes when `attrs` has others. */
export function checkAttrs(type: string, attrs: Readonly<Record<string, string>>, known: readonly string[], flag = '--output'): void {
  const unknown = Object.keys(attrs).filter((k) => !known.includes(k));
  if (unknown.length) throw new UsageError(`${flag} type=${type} does not take ${unknown.join(', ')}`, `it takes ${known.join(', ') || 'no attributes'}`);
}

/**
 * The exporters of a request: the local image store for the tags (always, as docker build loads its
 * result), a registry push when asked, then each --output.
 */
export function resolveExporters(req: ExportRequest & { push: boolean; outputs: readonly OutputSpec[] }): Exporter[] {
  const out: Exporter[] = [];
  if (!req.outputs.some((o) => o.type === 'image')) out.push(imageStoreExporter({}, req));
  if (req.push && !req.outputs.some((o) => o.type === 'registry' || (o.type === 'image' && o.attrs.push === 'true'))) out.push(registryExporter({}, req));
  for (const o of req.outputs) {
    const factory = factories[o.type];
    if (!factory) throw new UsageError(`unsupported --output type "${o.type}"`, `supported: ${Object.keys(factories).map((t) => `type=${t}`).join(', ')}`);
    out.push(factory(o.attrs, req));
    if (o.type === 'image' && o.attrs.push === 'true') out.push(registryExporter(pick(o.attrs, ['name', ...COMPRESSION_ATTRS]), req));
  }
  return out;
}

function pick(attrs: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(attrs).filter(([k]) => keys.includes(k)));
}

/** An output's `name=` (one reference), else the request's tags. */
export function outputNames(attrs: Readonly<Record<string, string>>, req: ExportRequest): readonly string[] {
  return attrs.name === undefined ? req.names : [imageRef(attrs.name, 'name= takes one image reference, e.g. name=registry.example/app:1')];
}
