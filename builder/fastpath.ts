// The no-change fast path: a build records what its result depended on (the request and Dockerfile,
// the base images as resolved, the cache records it used, the context paths its keys read, by stat),
// and a later build with the same request checks exactly that, without running the frontend or
// deriving a key, and answers with the same image, writing nothing. Any doubt (a missing or torn
// record, a changed stat, a moved tag, a pruned record or blob) means the normal path, which then
// records anew. Builds that must look outside the machine (--pull, ADD of URLs or git, remote caches)
// or write elsewhere (--output, --push) never take it.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostPlatform, type Descriptor, type Digest, type Platform } from '../common/oci.js';
import { BuildCache } from './cache.js';
import { ContextDeps, unchangedContext } from './contextdeps.js';
import type { StoreParts } from './engine.js';
import type { ExportResponse } from './exporter.js';
import type { Warning } from './frontend.js';
import type { BuildDefinition, ImageSource, Vertex } from './graph.js';
import type { BuildRequest } from './build.js';
import type { ProgressSink } from './progress.js';
import { ImageResolver } from './resolver.js';
import { reachesContext } from './solver.js';

const FORMAT = 1;

/** What of a build request the fast path looks at. */
export type FastPathRequest = Pick<
  BuildRequest,
  'buildArgs' | 'target' | 'frontend' | 'noCache' | 'pull' | 'push' | 'outputs' | 'cacheFrom' | 'cacheTo' | 'secrets' | 'ssh' | 'allow' | 'labels' | 'platforms' | 'namedContexts' | 'annotations' | 'exec'
>;

export interface FastPathInputs {
  contextDir: string;
  dockerfilePath: string;
  dockerfile: string;
  dockerignore?: string;
  /** The progress name of the definition step, e.g. "[internal] load build definition from Dockerfile". */
  definitionStep: string;
}

/** What the fast path answers with: build.ts makes its BuildResult of it. */
export interface Unchanged {
  manifest: Descriptor;
  configDigest: Digest;
  exports: ExportResponse[];
}

interface Header {
  identity: string;
  /** FROM names as the frontend resolved them (for a platform), and to what. */
  images: Array<[string, Platform, ImageSource]>;
  /** Cache records the result is made of: key, created, chain (length and top diff ID). */
  records: Array<[Digest, string, string]>;
  manifest: Descriptor;
  configDigest: Digest;
  /** The request's tags, qualified. */
  names: string[];
  exports: ExportResponse[];
  warnings: Warning[];
  readsContext: boolean;
  /** The vertex-cached events of a fully cached build, in the solver's order. */
  cached: Array<{ id: string; name: string }>;
}

/**
 * Which code made a record: the running bundle's file (its name carries a content hash, which covers the
 * chunks it imports by name). From source (tsx), this file's own stat only.
 */
function codeIdentity(): string {
  const file = fileURLToPath(import.meta.url);
  try {
    const st = statSync(file);
    return `${path.basename(file)}:${st.size}:${st.mtimeMs}`;
  } catch {
    return path.basename(file);
  }
}

function sortedEntries<V>(m: ReadonlyMap<string, V> | undefined): Array<[string, V]> {
  return [...(m ?? new Map<string, V>()).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A build's fast path: the record to check before solving, and what to record after. */
export class FastPath {
  readonly deps: ContextDeps;
  private readonly images = new Map<string, [string, Platform, ImageSource]>();
  private readonly identity: string;
  private readonly file: string;

  private constructor(private readonly parts: StoreParts, private readonly inputs: FastPathInputs, private readonly names: readonly string[], req: FastPathRequest) {
    this.deps = new ContextDeps(inputs.contextDir);
    this.identity = createHash('sha256')
      .update(
        JSON.stringify({
          format: FORMAT,
          code: codeIdentity(),
          context: inputs.contextDir,
          dockerfilePath: inputs.dockerfilePath,
          dockerfile: inputs.dockerfile,
          dockerignore: inputs.dockerignore ?? null,
          frontend: req.frontend ?? 'dockerfile',
          buildArgs: sortedEntries(req.buildArgs),
          target: req.target ?? null,
          labels: sortedEntries(req.labels),
          names,
          platform: hostPlatform(),
          platforms: req.platforms ?? [],
          annotations: req.annotations ?? null,
          exec: req.exec ?? null,
          epoch: process.env.SOURCE_DATE_EPOCH ?? null,
          secrets: sortedEntries(req.secrets),
          ssh: sortedEntries(req.ssh),
          allow: [...(req.allow ?? [])].sort(),
        }),
      )
      .digest('hex');
    // One record per context, Dockerfile, target and tags: a changed argument replaces it.
    const slot = createHash('sha256').update(JSON.stringify([inputs.contextDir, inputs.dockerfilePath, req.target ?? null, names])).digest('hex').slice(0, 32);
    this.file = path.join(parts.store.cacheDir, 'fastpath', `${slot}.bin`);
  }

  /** The fast path of a request that may take it; undefined for one that must not. */
  static for(parts: StoreParts, inputs: FastPathInputs, names: readonly string[], req: FastPathRequest): FastPath | undefined {
    const elsewhere = req.push || req.outputs?.length || req.cacheFrom?.length || req.cacheTo?.length;
    // Named contexts are other directories (or images) whose reads this does not record; several
    // platforms make an index of several graphs.
    const wider = req.namedContexts?.size || (req.platforms?.length ?? 0) > 1;
    if (req.noCache || req.pull || elsewhere || wider) return undefined;
    return new FastPath(parts, inputs, names, req);
  }

  /** The frontend's image resolution, noted. */
  noteImage(ref: string, platform: Platform, source: ImageSource): void {
    this.images.set(JSON.stringify([ref, platform]), [ref, platform, source]);
  }

  /** The recorded result if everything it depended on is unchanged (then its progress is replayed). */
  async unchanged(sink: ProgressSink): Promise<Unchanged | undefined> {
    const h = await this.check().catch(() => undefined);
    if (!h) return undefined;
    const now = Date.now();
    sink({ type: 'vertex-start', id: 'definition', name: this.inputs.definitionStep, time: now });
    sink({ type: 'vertex-done', id: 'definition', time: now, duration: 0 });
    for (const warning of h.warnings) sink({ type: 'warning', warning });
    if (h.readsContext) {
      sink({ type: 'vertex-start', id: 'context', name: '[internal] load build context', time: now });
      sink({ type: 'vertex-done', id: 'context', time: now, duration: 0 });
    }
    for (const v of h.cached) sink({ type: 'vertex-cached', id: v.id, name: v.name });
    sink({ type: 'vertex-start', id: 'export', name: 'exporting to image', time: now });
    sink({ type: 'vertex-done', id: 'export', time: now, duration: 0 });
    return { manifest: h.manifest, configDigest: h.configDigest, exports: h.exports };
  }

  private async check(): Promise<Header | undefined> {
    const buf = await readFile(this.file).catch(() => undefined);
    if (!buf || buf.length < 4) return undefined;
    const headLen = buf.readUInt32LE(0);
    const h = JSON.parse(buf.toString('utf8', 4, 4 + headLen)) as Header;
    if (h.identity !== this.identity) return undefined;
    const { content, images, snapshots, store } = this.parts;
    // Base images, resolved as the frontend would, but only locally (a build that pulls is not this one).
    for (const [ref, platform, source] of h.images) {
      if (JSON.stringify((await new ImageResolver(content, images, platform).resolve(ref)).source) !== JSON.stringify(source)) return undefined;
    }
    // The records the normal path would hit, still whole (their snapshots and blobs present).
    const cache = new BuildCache(store, snapshots, content);
    for (const [key, created, top] of h.records) {
      const rec = await cache.get(key);
      if (!rec || rec.created !== created || chainSummary(rec.chain) !== top) return undefined;
    }
    if (!(await content.has(h.manifest.digest)) || !(await content.has(h.configDigest))) return undefined;
    // Each tag already names the image: nothing to write.
    for (const name of this.names) if ((await images.resolve(name))?.digest !== h.manifest.digest) return undefined;
    if (!unchangedContext(this.inputs.contextDir, buf.subarray(4 + headLen))) return undefined;
    // As a build that hits them: their last use (for prune's LRU order) is refreshed when it is stale.
    await cache.touchUsed();
    return h;
  }

  /** Records a finished build, when what it depended on can be checked this way later. */
  async record(r: { definition: BuildDefinition; warnings: readonly Warning[]; records: ReadonlyArray<{ key: Digest; created: string; chain: ReadonlyArray<{ chainID: Digest }> }>; manifest: Descriptor; configDigest: Digest; exports: ExportResponse[] }): Promise<void> {
    const root = r.definition.root;
    if (root.op.kind === 'source' || outsideSources(root) || !this.deps.trustworthy) return;
    if ([...this.images.values()].some(([, , s]) => s.origin.kind !== 'store')) return;
    const h: Header = {
      identity: this.identity,
      images: [...this.images.values()],
      records: r.records.map((rec) => [rec.key, rec.created, chainSummary(rec.chain)]),
      manifest: r.manifest,
      configDigest: r.configDigest,
      names: [...this.names],
      exports: r.exports,
      warnings: [...r.warnings],
      readsContext: reachesContext(root),
      cached: cachedOrder(root),
    };
    const head = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(head.length, 0);
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await this.parts.store.writeFileAtomic(this.file, Buffer.concat([len, head, this.deps.encode()]));
  }
}

/** The chain ID, not the diff ID: a pending layer has none yet, and its chain ID stays when it is sealed. */
function chainSummary(chain: ReadonlyArray<{ chainID: Digest }>): string {
  return `${chain.length}:${chain.at(-1)?.chainID ?? ''}`;
}

function walk(root: Vertex, visit: (v: Vertex) => void): void {
  const seen = new Set<Vertex>();
  const go = (v: Vertex): void => {
    if (seen.has(v)) return;
    seen.add(v);
    visit(v);
    for (const i of v.inputs) go(i);
  };
  go(root);
}

/** Whether the graph reads URLs or git repositories: only fetching them says whether they changed. */
function outsideSources(root: Vertex): boolean {
  let found = false;
  walk(root, (v) => {
    if (v.op.kind === 'source' && (v.op.source.type === 'http' || v.op.source.type === 'git')) found = true;
  });
  return found;
}

/** The order in which the solver reports a fully cached graph (Solver.markCached): inputs first, base images once. */
function cachedOrder(root: Vertex): Array<{ id: string; name: string }> {
  const out: Array<{ id: string; name: string }> = [];
  const reported = new Set<string>();
  const visit = (v: Vertex): void => {
    if (reported.has(v.id)) return;
    reported.add(v.id);
    for (const input of v.inputs) {
      if (input.op.kind !== 'source') visit(input);
      else if (input.op.source.type === 'image' && !reported.has(input.id)) {
        reported.add(input.id);
        out.push({ id: input.id, name: input.name });
      }
    }
    out.push({ id: v.id, name: v.name });
  };
  visit(root);
  return out;
}
