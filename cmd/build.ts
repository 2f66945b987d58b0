// `tsbuild build`: flags → a build request for the engine, and the flag parsers that take files and
// sockets from the user (--secret, --ssh, --output). No build logic lives here.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../common/errors.js';
import type { BuildResult, OutputSpec, SecretSource } from '../builder/engine.js';

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

/** `k=v,k2=v2` → map (a bare `k` maps to ''). */
function fields(spec: string): Map<string, string> {
  return new Map(
    spec.split(',').map((kv) => {
      const eq = kv.indexOf('=');
      return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
}

/** `id=npmrc,src=$HOME/.npmrc` or `id=token,env=TOKEN` (docker's --secret syntax). */
export function parseSecret(spec: string): [string, SecretSource] {
  const f = fields(spec);
  const id = f.get('id');
  const src = f.get('src') ?? f.get('source');
  const env = f.get('env');
  if (!id) throw new UsageError(`--secret "${spec}" needs an id`, 'e.g. --secret id=npmrc,src=$HOME/.npmrc or --secret id=token,env=TOKEN');
  if (src) {
    if (!existsSync(src)) throw new UsageError(`--secret ${id}: file ${src} does not exist`);
    return [id, { file: path.resolve(src) }];
  }
  const name = env ?? id;
  if (process.env[name] === undefined) throw new UsageError(`--secret ${id}: environment variable ${name} is not set`);
  return [id, { env: name }];
}

/** `type=oci,dest=out.tar` → { type, attrs }; the engine checks what each type takes. A bare path is buildx's local output. */
export function parseOutput(spec: string): OutputSpec {
  const f = fields(spec);
  const type = f.get('type') ?? (spec.includes('=') ? undefined : 'local');
  if (!type) throw new UsageError(`--output "${spec}" needs a type`, 'e.g. --output type=oci,dest=image.tar');
  f.delete('type');
  if (type === 'local' && !spec.includes('=')) return { type, attrs: { dest: spec } };
  return { type, attrs: Object.fromEntries(f) };
}

/** `type=registry,ref=R,mode=max` → { type, attrs }; a bare reference means type=registry,ref=it (as buildx). */
export function parseCacheSpec(spec: string, flag: '--cache-from' | '--cache-to'): OutputSpec {
  if (!spec.includes('=')) return { type: 'registry', attrs: { ref: spec } };
  const f = fields(spec);
  const type = f.get('type');
  if (!type) throw new UsageError(`${flag} "${spec}" needs a type`, `e.g. ${flag} type=registry,ref=registry.example/app:buildcache`);
  f.delete('type');
  return { type, attrs: Object.fromEntries(f) };
}

/** --build-arg NAME=VALUE, or NAME alone to take the value from the environment (as docker). */
export function buildArgs(list: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 0) {
      const v = process.env[kv];
      if (v !== undefined) m.set(kv, v);
    } else m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** buildx flags whose only valid values here are the ones tsbuild always has: anything else is a clear error. */
export function checkBuildxFlags(a: { provenance?: string; sbom?: string; builder?: string }): void {
  if (a.builder !== undefined) throw new UsageError('tsbuild has no builders to choose from (--builder)', 'tsbuild runs each build in its own process; drop --builder');
  for (const flag of ['provenance', 'sbom'] as const) {
    const v = a[flag];
    if (v !== undefined && v !== 'false' && v !== '0') throw new UsageError(`--${flag}=${v}: tsbuild does not make attestations yet`, `pass --${flag}=false, or leave it out`);
  }
}

/** --label K=V (repeatable) → map. */
export function labels(list: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label "${kv}" needs KEY=VALUE`, 'e.g. --label org.opencontainers.image.source=https://example.org/repo');
    m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

/** --iidfile (the image id: the config digest, as docker writes it) and --metadata-file (buildx's keys). */
export async function writeBuildFiles(r: BuildResult, files: { iidfile?: string; metadataFile?: string }): Promise<void> {
  if (files.iidfile) await writeFile(files.iidfile, r.configDigest);
  if (files.metadataFile) {
    const meta: Record<string, string> = Object.assign({}, ...r.exports);
    // A pushed or archived manifest's digest (its exporter reports it) is the one users look up.
    meta['containerimage.digest'] ??= r.manifest.digest;
    meta['containerimage.config.digest'] = r.configDigest;
    await writeFile(files.metadataFile, `${JSON.stringify(meta, null, 2)}\n`);
  }
}
