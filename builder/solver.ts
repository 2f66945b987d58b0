// The solver: walks the graph from the target, computes each vertex's cache key from its
// definition and its inputs' keys, reuses cached results, and runs the rest. Independent branches
// run concurrently; vertices with equal keys run once; vertices the target does not reach are
// never visited.
import type { ContextSource, ExecOp, FileOp, Vertex } from './graph.js';
import { checkout } from './git.js';
import { BuildCache, StepCache, type CacheRecord, type KeyedRecord } from './cache.js';
import { cacheKey } from './cachekey.js';
import { checksumSources } from './contenthash.js';
import type { ContextDeps } from './contextdeps.js';
import { CopyBase, copiesContext, copyShape } from './copybase.js';
import { execKeyDefinition, runExec } from './exec.js';
import { runFileOp, withExcludes } from './fileexec.js';
import type { CacheMountSeeder, SecretSource } from './mounts.js';
import type { MissExplainer } from './missreason.js';
import { step, StepError, type CacheMiss, type ProgressSink } from './progress.js';
import { TsbuildError } from '../common/errors.js';
import type { ImportedCache } from './remotecache/import.js';
import type { ExportRecord } from './remotecache/format.js';
import type { ImageResolver } from './resolver.js';
import type { ContentStore } from '../snapshotter/content.js';
import type { Digest } from '../common/oci.js';
import { isSealed, layerChain, type LayerChain, type SealedChain, type Snapshots } from '../snapshotter/snapshots.js';
import type { Store } from '../snapshotter/store.js';
import { DirTree, ViewTree, type SourceTree } from '../snapshotter/tree.js';
import { MergedView } from '../snapshotter/view.js';
import { ExternalInputs } from './external.js';

export interface SolverOptions {
  store: Store;
  content: ContentStore;
  snapshots: Snapshots;
  resolver: ImageResolver;
  contextDir: string;
  progress: ProgressSink;
  noCache?: boolean;
  signal?: AbortSignal;
  sourceDateEpoch?: number;
  /** --secret id=…: what RUN --mount=type=secret can read. */
  secrets?: ReadonlyMap<string, SecretSource>;
  /** --ssh ID=SOCKET */
  sshAgents?: ReadonlyMap<string, string>;
  /** --allow security.insecure */
  allowInsecure?: boolean;
  /** Records read from --cache-from, consulted after the local cache. */
  imported?: ImportedCache;
  /** Cache mount contents read from --cache-from, unpacked when a RUN first mounts one. */
  seedCacheMount?: CacheMountSeeder;
  /** Learns what each key is made of, and says why a step missed the cache (builder/missreason.ts). */
  explain?: MissExplainer;
  /** Notes the context paths the keys read (for the no-change fast path). */
  contextDeps?: ContextDeps;
}

/** What a vertex yields: a filesystem (layer chain), or the build context (read in place). */
/** `image`: the base image a chain comes from, named in errors about its layers. */
export type Result = { kind: 'chain'; chain: LayerChain; image?: string } | { kind: 'context'; tree: DirTree };

export interface VertexOutcome {
  addedLayer: boolean;
  created: string;
  cached: boolean;
}

/** A root and its rootfs inputs down to the base: the steps whose layers the root's image holds. */
function* imageSteps(root: Vertex): Generator<Vertex> {
  for (let v: Vertex | undefined = root; v && v.op.kind !== 'source'; v = v.inputs[0]) yield v;
}

/** Whether the graph reads the build context (the build then shows BuildKit's context-loading step). */
export function reachesContext(v: Vertex, seen = new Set<Vertex>()): boolean {
  if (seen.has(v)) return false;
  seen.add(v);
  if (v.op.kind === 'source' && v.op.source.type === 'context') return true;
  return v.inputs.some((i) => reachesContext(i, seen));
}

export class Solver {
  private readonly cache: StepCache;
  private readonly keys = new Map<Vertex, Promise<Digest>>();
  private readonly results = new Map<Digest, Promise<Result>>();
  private readonly reported = new Set<string>();
  /** COPYs of the context: what identifies the same COPY on the same parent (incremental COPY). */
  private readonly copyShapes = new Map<Vertex, string>();
  /** Per vertex: did it add a layer, and when was that layer made (for history). */
  readonly outcomes = new Map<Vertex, VertexOutcome>();
  /**
   * The steps whose layers the build's images hold (each root and its rootfs inputs down to the
   * base): their layers are made at commit. Any other step's layer is committed pending, and made
   * only if an export needs it (a build stage's layers usually never are).
   */
  private readonly inImages = new Set<Vertex>();

  /** What the build reads from outside the store, each once. */
  private readonly external: ExternalInputs;

  constructor(private readonly o: SolverOptions) {
    this.cache = new StepCache(new BuildCache(o.store, o.snapshots, o.content), o.imported);
    this.external = new ExternalInputs(o);
  }

  async solve(root: Vertex): Promise<SealedChain> {
    return (await this.solveAll([root]))[0]!;
  }

  /**
   * Several graphs at once (one per platform of a multi-platform build), in parallel: vertices with
   * equal keys in them (a FROM --platform=$BUILDPLATFORM stage) run once.
   */
  async solveAll(roots: readonly Vertex[]): Promise<SealedChain[]> {
    for (const root of roots) for (const v of imageSteps(root)) this.inImages.add(v);
    // Every key (so every context checksum) is known before anything runs: show that phase as
    // BuildKit's context-loading step when the build reads the context.
    try {
      if (roots.some((r) => reachesContext(r))) await step(this.o.progress, 'context', '[internal] load build context', () => Promise.all(roots.map((r) => this.key(r))));
      const chains = await Promise.all(
        roots.map(async (root) => {
          const r = await this.result(root);
          if (r.kind !== 'chain') throw new Error('the build target is not a filesystem');
          // Layers cached pending by a build with another target are made now.
          return this.o.snapshots.seal(r.chain);
        }),
      );
      await this.external.saveStats();
      return chains;
    } finally {
      // Failed builds too: the steps that did complete are what the next build compares with.
      await this.o.explain?.save(this.o.store, this.outcomes.keys());
    }
  }

  /** The cache key: definition + input keys (+ content checksums of context selections). */
  key(v: Vertex): Promise<Digest> {
    let k = this.keys.get(v);
    if (!k) {
      k = this.computeKey(v);
      this.keys.set(v, k);
    }
    return k;
  }

  private async computeKey(v: Vertex): Promise<Digest> {
    const op = v.op;
    if (op.kind === 'source') {
      const s = op.source;
      if (s.type === 'image') return cacheKey({ source: 'image', digest: s.layersKey ?? s.manifestDigest, platform: s.platform }, []);
      // A named context is keyed by its name (as BuildKit's local://NAME), never its path; content checksums do the rest.
      if (s.type === 'context') return cacheKey({ source: 'context', excludes: s.excludes, ...(s.dir !== undefined ? { name: s.name } : {}) }, []);
      if (s.type === 'git') {
        // The commit, not the ref: a moved branch is a new key.
        return cacheKey({ source: 'git', remote: s.remote, commit: await this.external.gitCommit(s), subdir: s.subdir, keepGitDir: s.keepGitDir }, []);
      }
      if (s.type === 'http') {
        // Without a checksum, only the content says whether a cached result still fits.
        const file = await this.external.download(s);
        return cacheKey({ source: 'http', url: s.url, digest: file.digest, name: file.name }, []);
      }
      return cacheKey({ source: 'scratch' }, []);
    }
    const inputKeys = await Promise.all(v.inputs.map((i) => this.key(i)));
    const extra: Record<string, string> = {};
    if (op.kind === 'exec') {
      // A context bind mount contributes the checksum of what it exposes; caches and secrets do not.
      for (const [n, m] of (op.mounts ?? []).entries()) {
        if (m.type !== 'bind') continue;
        const input = v.inputs[m.from];
        if (input?.op.kind === 'source' && input.op.source.type === 'context') {
          extra[`mount${n}`] = await this.contextSum(v, `mount${n}`, input.op.source, this.external.keyedContext(input.op.source), [m.source]);
        }
      }
    }
    if (op.kind === 'file') {
      // A context input contributes the checksum of exactly what each copy selects. (Heredoc
      // content is in the definition; HTTP and git sources carry their digest or commit in their key.)
      for (const [n, a] of op.actions.entries()) {
        if (a.type !== 'copy' || a.inline) continue;
        const input = v.inputs[a.from]!;
        if (input.op.kind === 'source' && input.op.source.type === 'context') {
          extra[`copy${n}`] = await this.contextSum(v, `copy${n}`, input.op.source, withExcludes(this.external.keyedContext(input.op.source), a.excludes), a.src);
        }
      }
    }
    const definition = op.kind === 'exec' ? execKeyDefinition(op) : op;
    if (op.kind === 'file' && copiesContext(op, (i) => this.contextInput(v, i) !== undefined)) this.copyShapes.set(v, copyShape(op, inputKeys));
    this.o.explain?.keyed(v, definition, inputKeys, extra);
    return cacheKey(definition, inputKeys, extra);
  }

  /** The context source input `i` of v reads, if it is one. */
  private contextInput(v: Vertex, i: number): ContextSource | undefined {
    const u = v.inputs[i];
    return u?.op.kind === 'source' && u.op.source.type === 'context' ? u.op.source : undefined;
  }

  /** The checksum of what a step selects from the context (its entries, for the explainer, noted in the same walk). */
  private async contextSum(v: Vertex, part: string, source: ContextSource, tree: SourceTree, sources: readonly string[]): Promise<string> {
    return checksumSources(tree, sources, await this.external.stats(source), this.o.explain?.entrySink(v, part));
  }

  private result(v: Vertex): Promise<Result> {
    return this.key(v).then((key) => {
      let r = this.results.get(key);
      if (!r) {
        r = this.compute(v, key);
        this.results.set(key, r);
      }
      // An identical vertex elsewhere in the graph shares the result and is shown once.
      return r;
    });
  }

  private async compute(v: Vertex, key: Digest): Promise<Result> {
    const op = v.op;
    if (op.kind === 'source') {
      if (op.source.type === 'context') return { kind: 'context', tree: this.external.context(op.source) };
      if (op.source.type === 'scratch') return { kind: 'chain', chain: [] };
      if (op.source.type === 'http') {
        const file = await this.external.download(op.source);
        return { kind: 'context', tree: new DirTree(file.dir) };
      }
      if (op.source.type === 'git') {
        const src = op.source;
        const dir = await this.step(v, undefined, async () => checkout(src, await this.external.gitCommit(src), this.o.store.tmpPath('git'), this.o.signal));
        return { kind: 'context', tree: new DirTree(dir) };
      }
      const { manifestDigest, ref } = op.source;
      return this.step(v, undefined, async () => {
        // The chain only: its snapshots are made when a step needs them (materialize), so a build
        // whose steps are all cached never downloads or unpacks the base.
        const { manifest, config } = await this.o.resolver.manifest(manifestDigest);
        const diffIDs = config.rootfs.diff_ids;
        if (manifest.layers.length !== diffIDs.length) throw new TsbuildError('TSB_IMAGE_INVALID', `image ${manifestDigest} has ${manifest.layers.length} layers but ${diffIDs.length} diff_ids`);
        return { kind: 'chain', chain: layerChain(manifest.layers.map((blob, i) => ({ blob, diffID: diffIDs[i]! }))), image: ref } as Result;
      });
    }

    if (!this.o.noCache) {
      const rec = await this.cache.lookup(key);
      if (rec) {
        await this.markCached(v, rec);
        return { kind: 'chain', chain: rec.chain };
      }
    }
    this.o.progress({ type: 'vertex-queued', id: v.id, name: v.name, time: Date.now() });
    const inputs = await Promise.all(v.inputs.map((i) => this.result(i)));
    const rootfs = inputs[0];
    if (rootfs?.kind !== 'chain') throw new Error(`${v.name}: input 0 must be a filesystem`);
    // A result found in an imported cache, or a base image, has no snapshots yet: this step needs
    // them now. A layer that cannot be fetched or unpacked is reported at the instruction that
    // named the image (its FROM, COPY --from or RUN --mount from=), or that made the result.
    for (const [i, r] of inputs.entries()) if (r.kind === 'chain') await located(v.inputs[i]!, () => this.materialize(r.chain, r.image));
    // Another tsbuild on this store may be running the same step: wait for it and take its result,
    // as a daemon would share the work. Only the step itself is held, never its inputs, so the
    // per-key locks cannot wait on each other in a cycle.
    const release = (await this.o.store.lock(`step-${key.slice(7, 39)}`, { timeoutMs: 7 * 24 * 3600_000 }))!;
    try {
      if (!this.o.noCache) {
        const rec = await this.cache.local(key);
        if (rec) {
          await this.markCached(v, rec);
          return { kind: 'chain', chain: rec.chain };
        }
      }
      return await this.execute(v, key, op, rootfs.chain, inputs);
    } finally {
      await release();
    }
  }

  /** Runs one RUN or file step on its rootfs and records the layer it made. */
  private execute(v: Vertex, key: Digest, op: ExecOp | FileOp, rootfs: LayerChain, inputs: Result[]): Promise<Result> {
    return this.step(v, this.o.explain?.explain(v), async () => {
      const active = await this.o.snapshots.prepare();
      let base: CopyBase | undefined;
      try {
        if (op.kind === 'exec') {
          if (v.platform) this.external.emulation(v.platform);
          const trees = inputs.map((r) => this.tree(r));
          await runExec(op, rootfs, active, this.o.snapshots, {
            id: v.id,
            name: v.name,
            progress: this.o.progress,
            signal: this.o.signal,
            mounts: { store: this.o.store, trees, secrets: this.o.secrets ?? new Map(), sshAgents: this.o.sshAgents, ...(this.o.seedCacheMount ? { seedCacheMount: this.o.seedCacheMount } : {}) },
            allowInsecure: this.o.allowInsecure,
            masker: await this.external.masker(),
          });
        } else {
          base = await this.copyBase(v, op, rootfs);
          await runFileOp(op, rootfs, inputs.map((r) => this.tree(r)), active.upper, this.o, base);
          await base?.copied(active.dir);
        }
      } catch (e) {
        await this.o.snapshots.discard(active);
        throw e;
      }
      // Every step makes a layer, even an empty one, as BuildKit does.
      const chain = await this.o.snapshots.commit(active, rootfs, { sourceDateEpoch: this.o.sourceDateEpoch, keepEmpty: true, ...(base ? { indexed: { from: base.earlierLayer } } : { pending: !this.inImages.has(v) }) });
      if (base && chain.length > rootfs.length) await base.save(this.o.store, chain.at(-1)!.chainID);
      const rec: CacheRecord = { chain, addedLayer: chain.length > rootfs.length, created: new Date().toISOString() };
      await this.cache.put(key, rec);
      this.outcomes.set(v, { addedLayer: rec.addedLayer, created: rec.created, cached: false });
      return { kind: 'chain', chain } as Result;
    });
  }

  /** What an input offers to read from: the context, or a filesystem's merged view. */
  private tree(r: Result): SourceTree {
    return r.kind === 'context' ? r.tree : new ViewTree(new MergedView(this.o.snapshots.lowerDirs(r.chain)));
  }

  /**
   * Incremental COPY: for a COPY of one context, the earlier snapshot of the same COPY on the same
   * parent to link unchanged files from (none with --no-cache, which still records this one).
   */
  private async copyBase(v: Vertex, op: FileOp, rootfs: LayerChain): Promise<CopyBase | undefined> {
    const shape = this.copyShapes.get(v);
    const froms = new Set(op.actions.flatMap((a) => (a.type === 'copy' ? [a.from] : [])));
    const source = froms.size === 1 ? this.contextInput(v, [...froms][0]!) : undefined;
    if (shape === undefined || !source) return undefined;
    return CopyBase.open({ store: this.o.store, snapshots: this.o.snapshots, shape, parent: rootfs.at(-1)?.chainID, stats: await this.external.stats(source), reuse: !this.o.noCache });
  }

  /** Ensures snapshots for every layer of a chain, fetching lazily imported blobs as needed. */
  private async materialize(chain: LayerChain, image?: string): Promise<void> {
    if (chain.length === 0 || (await this.o.snapshots.has(chain.at(-1)!.chainID))) return;
    // A pending layer exists only as its snapshot, which the cache checked: not one to unpack.
    const layers = chain.filter(isSealed);
    if (layers.length !== chain.length) throw new Error(`a pending snapshot below ${chain.at(-1)!.chainID} is gone`);
    await this.o.snapshots.importImage(layers.map((l) => l.blob), layers.map((l) => l.diffID), image);
  }

  /** Records for --cache-to: every step (max), or the steps of the final image's chain (min). */
  /** mode=min: the records of the steps of the final images (one per platform); max: every record the build saw. */
  async exportRecords(roots: readonly Vertex[], mode: 'min' | 'max'): Promise<ExportRecord[]> {
    const records = await this.records(roots, mode);
    // Exported layers need their tars: a pending one's is made now (max: a build stage's too).
    return Promise.all(records.map(async (r) => ({ ...r, chain: await this.o.snapshots.seal(r.chain) })));
  }

  /** The records of `roots`' chains (min) or every record the build saw (max), as they are (pending layers too). */
  async records(roots: readonly Vertex[], mode: 'min' | 'max'): Promise<KeyedRecord[]> {
    if (mode === 'max') return this.cache.exported();
    const keys = new Set<Digest>();
    for (const root of roots) for (const v of imageSteps(root)) keys.add(await this.key(v));
    return this.cache.exported([...keys]);
  }

  /** The build is done: the cache's last-use times are brought up to date; returns the records it made. */
  settle(): Promise<CacheRecord[]> {
    return this.cache.settle();
  }

  /** Reports a cache hit for v and, for display, first for the steps below it that hit too. */
  private async markCached(v: Vertex, rec: CacheRecord): Promise<void> {
    const key = await this.key(v);
    this.cache.note(key, rec);
    this.outcomes.set(v, { addedLayer: rec.addedLayer, created: rec.created, cached: true });
    // The same step of each platform's graph (a FROM --platform=$BUILDPLATFORM stage) shows once.
    const shown = `${key} ${v.name}`;
    if (this.reported.has(v.id) || this.reported.has(shown)) return;
    this.reported.add(v.id).add(shown);
    for (const input of v.inputs) {
      if (input.op.kind !== 'source') {
        const r = await this.cache.lookup(await this.key(input));
        if (r) await this.markCached(input, r);
      } else if (input.op.source.type === 'image' && !this.reported.has(input.id)) {
        this.reported.add(input.id);
        this.o.progress({ type: 'vertex-cached', id: input.id, name: input.name });
      }
    }
    this.o.progress({ type: 'vertex-cached', id: v.id, name: v.name });
  }

  /** Whether v added a layer and when: known for every vertex the build reached or had cached. */
  async outcome(v: Vertex): Promise<VertexOutcome | undefined> {
    const known = this.outcomes.get(v);
    if (known) return known;
    const rec = await this.cache.lookup(await this.key(v));
    return rec ? { addedLayer: rec.addedLayer, created: rec.created, cached: true } : undefined;
  }

  private async step<T>(v: Vertex, cacheMiss: CacheMiss | undefined, fn: () => Promise<T>): Promise<T> {
    this.reported.add(v.id);
    return located(v, () => step(this.o.progress, v.id, v.name, fn, cacheMiss));
  }
}

/** Runs fn for vertex v; an error it throws points at v's Dockerfile line, unless it points somewhere already. */
async function located<T>(v: Vertex, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!v.location || (e instanceof TsbuildError && e.location)) throw e;
    throw new StepError(v.name, v.location, e);
  }
}
