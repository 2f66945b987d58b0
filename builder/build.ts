// A build request, run: read the Dockerfile and ignore file, run the frontend, solve the graph, write
// the image, hand it to each exporter. `check` runs the frontend alone.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { dockerignoreCandidates } from '../common/dockerignore.js';
import { TsbuildError, UsageError } from '../common/errors.js';
import { hostPlatform, type Descriptor, type Digest, type Platform } from '../common/oci.js';
import { formatPlatform, normalizePlatform } from '../common/platform.js';
import { familiarName } from '../snapshotter/reference.js';
import { imageRef } from './images.js';
import type { ManifestFormat } from '../snapshotter/registry/format.js';
import type { StoreParts } from './engine.js';
import { exportImage } from './export.js';
import { writeIndex } from './imagewriter.js';
import { cacheBound, collectGarbage } from './gc.js';
import { resolveExporters, type Annotations, type BuiltImage, type ExportContext, type Exporter, type ExportResponse, type OutputSpec } from './exporter.js';
import type { CheckResult, Frontend, FrontendInput, NamedContext, Warning } from './frontend.js';
import { namedContextLookup } from './namedcontext.js';
import type { BuildDefinition, ExecDefaults } from './graph.js';
import type { SecretSource } from './mounts.js';
import { step, type ProgressSink } from './progress.js';
import { ImageResolver } from './resolver.js';
import { MissExplainer } from './missreason.js';
import { Solver } from './solver.js';
import { FastPath } from './fastpath.js';
import { cacheExporter, type MountSource, type RecordSource } from './remotecache/export.js';
import { checkCacheSpec, importCaches, type CacheSpec } from './remotecache/import.js';
import { cacheMountLayers, cacheMountSeeder, usedCacheMounts } from './remotecache/cachemounts.js';

export interface BuildRequest {
  /** The build context directory. */
  context: string;
  /** The Dockerfile (default CONTEXT/Dockerfile). */
  dockerfile?: string;
  /** Which of the engine's frontends reads it (default "dockerfile"). */
  frontend?: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  /** Names for the image in the local store (and the registry, with push). */
  tags: readonly string[];
  /** Push every tag after the build. */
  push?: boolean;
  /** Manifest format of pushed images. */
  format?: ManifestFormat;
  /** Extra outputs (--output type=…,k=v): see exporter.ts for the types. */
  outputs?: readonly OutputSpec[];
  /** --cache-from sources (type=registry,ref=R | type=local,src=DIR), consulted in order. */
  cacheFrom?: readonly CacheSpec[];
  /** --cache-to destinations (type=registry,ref=R | type=local,dest=DIR; mode=min|max). */
  cacheTo?: readonly CacheSpec[];
  noCache?: boolean;
  /** Resolve base images against their registry even when stored locally (--pull). */
  pull?: boolean;
  secrets?: ReadonlyMap<string, SecretSource>;
  /** ssh agent sockets by id (--ssh). */
  ssh?: ReadonlyMap<string, string>;
  /** Entitlements (--allow): security.insecure, network.host. */
  allow?: readonly string[];
  signal?: AbortSignal;
  /** Where outputs with dest=- write. */
  stdout?: NodeJS.WritableStream;
  /** --label: set on the image config over the Dockerfile's LABELs. */
  labels?: ReadonlyMap<string, string>;
  /** --platform: the platforms to build for (default this machine's); several make an image index. */
  platforms?: readonly Platform[];
  /** --build-context NAME=…: named contexts for FROM, --from and stages of that name. */
  namedContexts?: ReadonlyMap<string, NamedContext>;
  /** --annotation, by level. */
  annotations?: Annotations;
  /** --network, --add-host, --shm-size, --ulimit: settings of every RUN. */
  exec?: ExecDefaults;
}

export interface BuildResult {
  manifest: Descriptor;
  configDigest: Digest;
  /** The image id: the config digest (compression never changes it), or a multi-platform image's index digest (as `images` shows). */
  id: Digest;
  /** The tags, as users write them (app:1, not docker.io/library/app:1). */
  names: string[];
  /** What each exporter reported (BuildKit's exporter response), in output order. */
  exports: ExportResponse[];
}

const ENTITLEMENTS = ['security.insecure', 'network.host'];

interface BuildInputs {
  contextDir: string;
  dockerfilePath: string;
  dockerfile: string;
  filename: string;
  dockerignore?: string;
}

/** The Dockerfile (via -f or CONTEXT/Dockerfile) and the ignore file that applies to it. */
async function readInputs(req: Pick<BuildRequest, 'context' | 'dockerfile'>, sink: ProgressSink): Promise<BuildInputs> {
  const contextDir = path.resolve(req.context);
  if (!(await stat(contextDir).then((s) => s.isDirectory(), () => false))) {
    throw new UsageError(`build context "${req.context}" is not a directory`, 'pass the directory holding your Dockerfile and files, e.g. `tsbuild -t app .`');
  }
  const dockerfilePath = path.resolve(req.dockerfile ?? path.join(contextDir, 'Dockerfile'));
  const filename = req.dockerfile ? path.relative(process.cwd(), dockerfilePath) || req.dockerfile : 'Dockerfile';
  const dockerfile = await readFile(dockerfilePath, 'utf8').catch(() => {
    throw new UsageError(`failed to read dockerfile: ${dockerfilePath}: no such file`, req.dockerfile ? 'check the -f path' : 'put a Dockerfile in the context directory or pass -f FILE');
  });
  sink({ type: 'source', file: filename, text: dockerfile });
  let dockerignore: string | undefined;
  for (const candidate of dockerignoreCandidates(dockerfilePath, contextDir)) {
    dockerignore = await readFile(candidate, 'utf8').catch(() => undefined);
    if (dockerignore !== undefined) break;
  }
  return { contextDir, dockerfilePath, dockerfile, filename, ...(dockerignore !== undefined ? { dockerignore } : {}) };
}

/** SOURCE_DATE_EPOCH (a build arg first, else the environment), for reproducible times. */
export function sourceDateEpoch(buildArgs: ReadonlyMap<string, string> = new Map()): number | undefined {
  const v = buildArgs.get('SOURCE_DATE_EPOCH') ?? process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`invalid SOURCE_DATE_EPOCH "${v}"`, 'use whole seconds since 1970');
  return Number(v);
}

function frontendFor(parts: { frontend(name: string): Frontend | undefined }, name = 'dockerfile'): Frontend {
  const f = parts.frontend(name);
  if (!f) throw new UsageError(`unknown frontend "${name}"`, 'tsbuild builds Dockerfiles (frontend "dockerfile")');
  return f;
}

/** One image resolver per platform (each picks its platform's manifest from an index), made when first asked. */
function resolversFor(parts: StoreParts, req: Pick<BuildRequest, 'pull'>, sink: ProgressSink): (p: Platform) => ImageResolver {
  const made = new Map<string, ImageResolver>();
  return (p) => {
    const key = formatPlatform(normalizePlatform(p));
    let r = made.get(key);
    if (!r) {
      r = new ImageResolver(parts.content, parts.images, p, { registries: parts.registries(), sources: parts.sources, progress: sink, always: req.pull ?? false, lazyLayers: true });
      made.set(key, r);
    }
    return r;
  };
}

/** The frontend's input for one target platform; `multi`: one of several built together. */
function frontendInput(inputs: BuildInputs, req: BuildRequest, resolvers: (p: Platform) => ImageResolver, platform: Platform, multi = false, fast?: FastPath): FrontendInput {
  const named = namedContextLookup(req.namedContexts ?? new Map());
  return {
    dockerfile: inputs.dockerfile,
    filename: inputs.filename,
    ...(inputs.dockerignore !== undefined ? { dockerignore: inputs.dockerignore } : {}),
    buildArgs: req.buildArgs,
    ...(req.target !== undefined ? { target: req.target } : {}),
    platform,
    buildPlatform: hostPlatform(),
    ...(multi ? { multiPlatform: true } : {}),
    ...(req.exec ? { exec: req.exec } : {}),
    ...(named ? { namedContext: named } : {}),
    resolveImage: async (ref, p) => {
      const r = await resolvers(p ?? platform).resolve(ref);
      fast?.noteImage(ref, p ?? platform, r.source);
      return r;
    },
  };
}

type Parts = StoreParts & { frontend(name: string): Frontend | undefined };

export async function build(parts: Parts, req: BuildRequest, sink: ProgressSink): Promise<BuildResult> {
  const names = req.tags.map((t) => imageRef(t, 'tags look like name[:tag], e.g. -t app:1 or -t registry.example/team/app:1'));
  if (req.push && names.length === 0) throw new UsageError('--push needs a name to push to', 'add -t registry.example/team/app:tag');
  for (const a of req.allow ?? []) {
    if (!ENTITLEMENTS.includes(a)) throw new UsageError(`unknown entitlement "${a}"`, `tsbuild knows ${ENTITLEMENTS.join(' and ')}`);
  }
  const epoch = sourceDateEpoch(req.buildArgs);
  checkAnnotations(req.annotations, (req.platforms?.length ?? 0) > 1);
  const cacheLimit = cacheBound(parts.store); // a bad setting fails here, not after the build
  const exporters = resolveExporters({ names, push: req.push ?? false, format: req.format ?? 'oci', outputs: req.outputs ?? [], ...(req.annotations ? { annotations: req.annotations } : {}), ...((req.platforms?.length ?? 0) > 1 ? { multiPlatform: true } : {}) });
  for (const spec of req.cacheFrom ?? []) checkCacheSpec(spec, 'from');
  // The cache exporters need the solver's records, known once it has run.
  const solved: { records?: RecordSource; mounts?: MountSource } = {};
  const inline = (req.cacheTo ?? []).some((spec) => spec.type === 'inline');
  const cacheExporters = (req.cacheTo ?? []).filter((spec) => spec.type !== 'inline').map((spec) => cacheExporter(spec, (mode) => solved.records!(mode), () => solved.mounts!()));
  for (const spec of req.cacheTo ?? []) if (spec.type === 'inline') checkCacheSpec(spec, 'to');
  const frontend = frontendFor(parts, req.frontend);
  const inputs = await readInputs(req, sink);
  const definitionStep = `[internal] load build definition from ${path.basename(inputs.dockerfilePath)}`;
  const fast = FastPath.for(parts, { ...inputs, definitionStep }, names, req);
  const unchanged = await fast?.unchanged(sink);
  if (unchanged) return { manifest: unchanged.manifest, configDigest: unchanged.configDigest, id: unchanged.configDigest, names: names.map(familiarName), exports: unchanged.exports };
  const resolvers = resolversFor(parts, req, sink);
  const imported = req.cacheFrom?.length && !req.noCache ? await importCaches(parts, parts.lazy, req.cacheFrom, sink) : undefined;
  // One graph per target platform (--platform a,b), walked from the same Dockerfile.
  const platforms = req.platforms?.length ? req.platforms : [hostPlatform()];
  const multi = platforms.length > 1;
  if (multi && inline) throw new UsageError('--cache-to type=inline: the cache of a multi-platform build does not fit in one image config', 'export it with --cache-to type=registry,ref=… or type=local,dest=…');
  const results = await step(sink, 'definition', definitionStep, () => Promise.all(platforms.map((p) => frontend.build(frontendInput(inputs, req, resolvers, p, multi, fast)))));
  const definitions = results.map((r) => withLabels(r.definition, req.labels));
  const warnings = uniqueWarnings(results.flatMap((r) => r.warnings));
  for (const w of warnings) sink({ type: 'warning', warning: w });
  const violation = results.find((r) => r.violation !== undefined)?.violation;
  if (violation) throw new TsbuildError('TSB_CHECK_FAILED', violation, { hint: 'fix the warnings above, or skip rules with # check=skip=<Rule>' });
  const explain = await MissExplainer.open(parts.store, { contextDir: inputs.contextDir, dockerfilePath: inputs.dockerfilePath, ...(req.target !== undefined ? { target: req.target } : {}) }, { noCache: req.noCache ?? false });
  const solver = new Solver({
    store: parts.store,
    content: parts.content,
    snapshots: parts.snapshots,
    resolver: resolvers(hostPlatform()),
    contextDir: inputs.contextDir,
    progress: sink,
    noCache: req.noCache ?? false,
    ...(req.signal ? { signal: req.signal } : {}),
    ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
    secrets: req.secrets ?? new Map(),
    allowInsecure: (req.allow ?? []).includes('security.insecure'),
    sshAgents: req.ssh ?? new Map(),
    ...(imported ? { imported, seedCacheMount: cacheMountSeeder(parts.content, imported) } : {}),
    explain,
    ...(fast ? { contextDeps: fast.deps } : {}),
  });
  const chains = await solver.solveAll(definitions.map((d) => d.root));
  solved.records = (mode) => solver.exportRecords(definitions.map((d) => d.root), mode);
  solved.mounts = () => cacheMountLayers(parts, usedCacheMounts(definitions.map((d) => d.root)), imported, sink);
  const ctx: ExportContext = { parts, progress: sink, ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}), ...(req.stdout ? { stdout: req.stdout } : {}) };
  const local = exporters.filter((e) => !e.remote);
  const image = await step(sink, 'export', 'exporting to image', async () => {
    const inlineCache = inline ? await solver.exportRecords([definitions[0]!.root], 'min') : undefined;
    const images: BuiltImage[] = [];
    for (const [i, definition] of definitions.entries()) {
      const img = await exportImage(parts.content, solver, definition, chains[i]!, { ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}), ...(inlineCache ? { inlineCache } : {}), ...(req.annotations?.manifest ? { annotations: req.annotations.manifest } : {}) });
      images.push({ ...img, names, layers: chains[i]! });
    }
    const built = multi ? await indexImage(parts.content, images, req.annotations) : images[0]!;
    return { ...built, exports: await runExporters(local, built, ctx) };
  });
  // Remote exporters report their own steps (one per pushed name).
  const remote = await runExporters([...exporters.filter((e) => e.remote), ...cacheExporters], image, ctx);
  await collectGarbage(parts, await solver.settle(), cacheLimit);
  await fast?.record({ definition: definitions[0]!, warnings, records: await solver.records([definitions[0]!.root], 'max'), manifest: image.manifest, configDigest: image.configDescriptor.digest, exports: image.exports });
  return { manifest: image.manifest, configDigest: image.configDescriptor.digest, id: multi ? image.manifest.digest : image.configDescriptor.digest, names: names.map(familiarName), exports: [...image.exports, ...remote] };
}

/**
 * A single-platform build makes no image index: index and index-descriptor annotations have
 * nothing to go on, an error as in BuildKit's image writer.
 */
function checkAnnotations(a: Annotations | undefined, multi: boolean): void {
  if (multi) return;
  for (const [level, values] of [['index', a?.index], ['index-descriptor', a?.indexDescriptor]] as const) {
    if (values && Object.keys(values).length) {
      throw new UsageError(`--annotation ${level}:…: index annotations not supported for single platform export (tsbuild builds one platform and no attestations, so there is no image index)`, 'annotate the manifest (manifest:KEY=VALUE, the default), or its entry in an OCI layout\'s index.json (manifest-descriptor:KEY=VALUE with --output type=oci)');
    }
  }
}

/** The images of a multi-platform build as one: their index (BuiltImage.platforms). */
async function indexImage(content: StoreParts['content'], images: readonly BuiltImage[], annotations?: Annotations): Promise<BuiltImage> {
  const manifest = await writeIndex(content, images, annotations?.index, annotations?.manifestDescriptor);
  const platforms = images.map((img) => ({ ...img, platform: { os: img.config.os, architecture: img.config.architecture, ...(img.config.variant ? { variant: img.config.variant } : {}) } }));
  return { ...images[0]!, manifest, layers: images.flatMap((i) => i.layers), platforms };
}

/** The warnings of every platform's walk, each once (most are the same for every platform). */
function uniqueWarnings(ws: readonly Warning[]): Warning[] {
  const seen = new Set<string>();
  return ws.filter((w) => {
    const k = JSON.stringify([w.rule, w.message, w.location]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The definition with --label values over the image config's own labels (they add no history, as in BuildKit). */
function withLabels(def: BuildDefinition, labels: ReadonlyMap<string, string> | undefined): BuildDefinition {
  if (!labels?.size) return def;
  const rc = def.config.config;
  return { ...def, config: { ...def.config, config: { ...rc, Labels: { ...(rc.Labels ?? {}), ...Object.fromEntries(labels) } } } };
}

async function runExporters(exporters: readonly Exporter[], image: BuiltImage, ctx: ExportContext): Promise<ExportResponse[]> {
  const out: ExportResponse[] = [];
  for (const e of exporters) out.push(await e.export(image, ctx));
  return out;
}

/** `build --check`: the frontend's walk without solving; its warnings and, with error=true, the violation. */
export async function check(parts: Parts, req: Pick<BuildRequest, 'context' | 'dockerfile' | 'frontend' | 'buildArgs' | 'target' | 'pull' | 'namedContexts'>, sink: ProgressSink): Promise<CheckResult> {
  const inputs = await readInputs(req, sink);
  return frontendFor(parts, req.frontend).check(frontendInput(inputs, { ...req, tags: [] }, resolversFor(parts, req, sink), hostPlatform()));
}
