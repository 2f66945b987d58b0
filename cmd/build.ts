// `tsbuild build`: reads the Dockerfile and context, runs the frontend, solves, exports.
// The only place frontend and builder meet.
import { existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkDockerfile, convertDockerfile } from '../frontend/convert.js';
import { formatCheckOutput } from '../frontend/format.js';
import { lintViolation } from '../frontend/checks/rules.js';
import { dockerignoreCandidates } from '../frontend/dockerignore.js';
import { exportImage } from '../builder/export.js';
import { step, type ProgressSink } from '../builder/progress.js';
import { ImageResolver } from '../builder/resolver.js';
import { Solver } from '../builder/solver.js';
import { ContentStore } from '../snapshotter/content.js';
import { ImageStore } from '../snapshotter/images.js';
import { writeOciArchive } from '../snapshotter/ociarchive.js';
import { hostPlatform, type Descriptor, type Digest } from '../common/oci.js';
import { familiarName, normalizeReference, InvalidReferenceError } from '../snapshotter/reference.js';
import { Snapshots } from '../snapshotter/snapshots.js';
import { Store } from '../snapshotter/store.js';
import { UsageError } from './errors.js';
import { openRegistries, pushManifest, type RegistryFlags } from './registry.js';
import type { ManifestFormat } from '../snapshotter/registry/format.js';
import { BlobSources } from '../snapshotter/registry/sources.js';
import type { SecretSource } from '../builder/mounts.js';

export interface BuildOptions {
  context: string;
  file?: string;
  tags: string[];
  buildArgs: Map<string, string>;
  target?: string;
  noCache: boolean;
  outputs: Output[];
  root?: string;
  signal?: AbortSignal;
  /** Push every tag after the build. */
  push?: boolean;
  /** Resolve base images against their registry even when stored locally. */
  pull?: boolean;
  format?: ManifestFormat;
  registry?: RegistryFlags;
  /** --secret id=…,src=FILE|env=VAR */
  secrets?: string[];
  /** --allow entitlements (security.insecure) */
  allow?: string[];
  /** --ssh ID[=SOCKET] */
  ssh?: string[];
}

/** `default` (from $SSH_AUTH_SOCK) or `id=/path/to/agent.sock`; key files are not supported. */
export function parseSsh(spec: string): [string, string] {
  const eq = spec.indexOf('=');
  const id = eq < 0 ? spec : spec.slice(0, eq);
  const socket = eq < 0 ? process.env.SSH_AUTH_SOCK : spec.slice(eq + 1);
  if (!id) throw new UsageError(`--ssh "${spec}" needs an id`, 'e.g. --ssh default or --ssh default=$SSH_AUTH_SOCK');
  if (!socket) throw new UsageError(`--ssh ${id}: no agent socket (SSH_AUTH_SOCK is not set)`, 'start ssh-agent, or pass --ssh ID=/path/to/agent.sock');
  let isSocket = false;
  try {
    isSocket = statSync(socket).isSocket();
  } catch {
    // reported below
  }
  if (!isSocket) throw new UsageError(`--ssh ${id}: ${socket} is not an ssh agent socket`, 'tsbuild forwards agent sockets; load keys into ssh-agent instead of passing key files');
  return [id, socket];
}

/** `id=npmrc,src=$HOME/.npmrc` or `id=token,env=TOKEN` (docker's --secret syntax). */
export function parseSecret(spec: string): [string, SecretSource] {
  const fields = new Map(spec.split(',').map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
  }));
  const id = fields.get('id');
  const src = fields.get('src') ?? fields.get('source');
  const env = fields.get('env');
  if (!id) throw new UsageError(`--secret "${spec}" needs an id`, 'e.g. --secret id=npmrc,src=$HOME/.npmrc or --secret id=token,env=TOKEN');
  if (src) {
    if (!existsSync(src)) throw new UsageError(`--secret ${id}: file ${src} does not exist`);
    return [id, { file: path.resolve(src) }];
  }
  const name = env ?? id;
  if (process.env[name] === undefined) throw new UsageError(`--secret ${id}: environment variable ${name} is not set`);
  return [id, { env: name }];
}

export type Output = { type: 'image' } | { type: 'oci'; dest: string };

export interface BuildResult {
  manifest: Descriptor;
  configDigest: Digest;
  names: string[];
  /** Dockerfile text, for error reports. */
  dockerfile: string;
}

/** `type=oci,dest=out.tar` → Output. */
export function parseOutput(spec: string): Output {
  const fields = new Map(spec.split(',').map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
  }));
  const type = fields.get('type') ?? (spec.includes('=') ? undefined : 'local');
  if (type === 'oci') {
    const dest = fields.get('dest');
    if (!dest) throw new UsageError('--output type=oci needs dest=FILE', 'e.g. --output type=oci,dest=image.tar');
    return { type: 'oci', dest };
  }
  if (type === 'image') return { type: 'image' };
  throw new UsageError(`unsupported --output "${spec}"`, 'supported: type=image (default), type=oci,dest=FILE');
}

function sourceDateEpoch(buildArgs: Map<string, string>): number | undefined {
  const v = buildArgs.get('SOURCE_DATE_EPOCH') ?? process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`invalid SOURCE_DATE_EPOCH "${v}"`, 'use whole seconds since 1970');
  return Number(v);
}

/** `build --check`: lint only; prints BuildKit's check report; exit code 1 when anything was found. */
export async function check(o: Pick<BuildOptions, 'context' | 'file' | 'buildArgs' | 'target'>): Promise<{ text: string; exitCode: number }> {
  const { dockerfile, filename, dockerignore } = await readInputs(o);
  const result = checkDockerfile({ dockerfile, filename, dockerignore, buildArgs: o.buildArgs, target: o.target });
  const out = formatCheckOutput(result, dockerfile);
  const violation = lintViolation(result);
  return { text: violation ? `${out.text}\nERROR: ${violation}\n` : out.text, exitCode: out.exitCode };
}

/** The Dockerfile (via -f or CONTEXT/Dockerfile) and the ignore file that applies to it. */
async function readInputs(o: Pick<BuildOptions, 'context' | 'file'>): Promise<{ contextDir: string; dockerfilePath: string; dockerfile: string; filename: string; dockerignore?: string }> {
  const contextDir = path.resolve(o.context);
  if (!(await stat(contextDir).then((s) => s.isDirectory(), () => false))) {
    throw new UsageError(`build context "${o.context}" is not a directory`, 'pass the directory holding your Dockerfile and files, e.g. `tsbuild -t app .`');
  }
  const dockerfilePath = path.resolve(o.file ? o.file : path.join(contextDir, 'Dockerfile'));
  const filename = o.file ? path.relative(process.cwd(), dockerfilePath) || o.file : 'Dockerfile';
  const dockerfile = await readFile(dockerfilePath, 'utf8').catch(() => {
    throw new UsageError(`failed to read dockerfile: ${dockerfilePath}: no such file`, o.file ? 'check the -f path' : 'put a Dockerfile in the context directory or pass -f FILE');
  });
  let dockerignore: string | undefined;
  for (const candidate of dockerignoreCandidates(dockerfilePath, contextDir)) {
    dockerignore = await readFile(candidate, 'utf8').catch(() => undefined);
    if (dockerignore !== undefined) break;
  }
  return { contextDir, dockerfilePath, dockerfile, filename, dockerignore };
}

export async function build(o: BuildOptions, progress: ProgressSink, dockerfileText: { value?: string } = {}): Promise<BuildResult> {
  const names = o.tags.map((t) => {
    try {
      return normalizeReference(t);
    } catch (e) {
      if (e instanceof InvalidReferenceError) throw new UsageError(e.message, 'tags look like name[:tag], e.g. -t app:1 or -t registry.example/team/app:1');
      throw e;
    }
  });
  if (o.push && names.length === 0) throw new UsageError('--push needs a name to push to', 'add -t registry.example/team/app:tag');
  const { contextDir, dockerfilePath, dockerfile, filename, dockerignore } = await readInputs(o);
  dockerfileText.value = dockerfile;
  const epoch = sourceDateEpoch(o.buildArgs);
  for (const a of o.allow ?? []) {
    if (a !== 'security.insecure' && a !== 'network.host') throw new UsageError(`unknown entitlement "${a}"`, 'tsbuild knows security.insecure and network.host');
  }

  const store = Store.open(o.root);
  const registries = openRegistries(o.registry ?? { insecureRegistries: [] });
  try {
    const content = new ContentStore(store);
    const images = new ImageStore(store);
    const snapshots = new Snapshots(store, content);
    const sources = new BlobSources(store);
    const resolver = new ImageResolver(content, images, undefined, { registries, sources, progress, always: o.pull });
    const { definition, warnings, violation } = await step(progress, 'definition', `[internal] load build definition from ${path.basename(dockerfilePath)}`, () =>
      convertDockerfile({
        dockerfile,
        filename,
        dockerignore,
        buildArgs: o.buildArgs,
        target: o.target,
        platform: hostPlatform(),
        resolveImage: (ref) => resolver.resolve(ref),
      }),
    );
    for (const w of warnings) progress({ type: 'warning', rule: w.rule, message: w.message, location: w.location });
    if (violation) throw new UsageError(violation, 'fix the warnings above, or skip rules with # check=skip=<Rule>');
    const solver = new Solver({
      store,
      content,
      snapshots,
      resolver,
      contextDir,
      progress,
      noCache: o.noCache,
      signal: o.signal,
      sourceDateEpoch: epoch,
      secrets: new Map((o.secrets ?? []).map(parseSecret)),
      allowInsecure: (o.allow ?? []).includes('security.insecure'),
      sshAgents: new Map((o.ssh ?? []).map(parseSsh)),
    });
    const chain = await solver.solve(definition.root);
    const image = await step(progress, 'export', 'exporting to image', async () => {
      const img = await exportImage(content, solver, definition, chain, { sourceDateEpoch: epoch });
      for (const name of names) await images.tag(name, img.manifest, img.config.created);
      for (const out of o.outputs) {
        if (out.type === 'oci') await writeOciArchive(content, img.manifest, names, path.resolve(out.dest), epoch ?? 0);
      }
      return img;
    });
    if (o.push) {
      for (const name of names) await pushManifest({ content, registries, sources, progress }, image.manifest, name, o.format ?? 'oci');
    }
    return { manifest: image.manifest, configDigest: image.configDescriptor.digest, names: names.map(familiarName), dockerfile };
  } finally {
    await registries.close();
    await store.close();
  }
}

