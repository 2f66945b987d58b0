// What a build reads from outside the store, each once per build: git commits of remote
// repositories, downloaded files, the emulation check of each foreign architecture, the secret
// values RUN output is masked with, and the context directories with their stat caches.
import type { ContextSource, GitSource, HttpSource } from './graph.js';
import { resolveCommit } from './git.js';
import { StatCache } from './statcache.js';
import type { ContextDeps } from './contextdeps.js';
import { readSecret, type SecretSource } from './mounts.js';
import { SecretMasker } from './masking.js';
import { PatternMatcher } from '../common/patterns.js';
import type { Platform } from '../common/oci.js';
import { normalizePlatform } from '../common/platform.js';
import { checkEmulation } from './emulation.js';
import { downloadFile, type RemoteFile } from './remote.js';
import type { Store } from '../snapshotter/store.js';
import { DirTree, type SourceTree } from '../snapshotter/tree.js';

export interface ExternalInputsOptions {
  store: Store;
  contextDir: string;
  signal?: AbortSignal;
  secrets?: ReadonlyMap<string, SecretSource>;
  /** Notes the context paths the keys read (for the no-change fast path). */
  contextDeps?: ContextDeps;
}

export class ExternalInputs {
  private readonly statCaches = new Map<string, Promise<StatCache>>();
  private secretMasker?: Promise<SecretMasker>;
  /** The build context's tree and each named local context's, by directory and excludes (a named context may be the same directory without the .dockerignore). */
  private readonly contextTrees = new Map<string, DirTree>();
  private readonly downloads = new Map<string, Promise<RemoteFile>>();
  private readonly emulated = new Set<string>();
  private readonly commits = new Map<string, Promise<string>>();

  constructor(private readonly o: ExternalInputsOptions) {}

  gitCommit(s: GitSource): Promise<string> {
    const k = `${s.remote}#${s.ref ?? ''}`;
    let c = this.commits.get(k);
    if (!c) {
      c = resolveCommit(s, this.o.signal);
      this.commits.set(k, c);
    }
    return c;
  }

  /** Each URL is fetched once per build. */
  download(s: HttpSource): Promise<RemoteFile> {
    let d = this.downloads.get(s.url);
    if (!d) {
      d = downloadFile(s.url, s.filename, this.o.store.tmpPath('download'), s.checksum, this.o.signal);
      this.downloads.set(s.url, d);
    }
    return d;
  }

  /** Whether this machine runs the platform's binaries (checked once per architecture; throws the TSB_PLATFORM error). */
  emulation(p: Platform): void {
    const arch = normalizePlatform(p).architecture;
    if (!this.emulated.has(arch)) {
      checkEmulation(p);
      this.emulated.add(arch);
    }
  }

  /** Masks every --secret value in RUN output, whichever step mounts it. */
  masker(): Promise<SecretMasker> {
    this.secretMasker ??= Promise.all([...(this.o.secrets ?? new Map<string, SecretSource>()).values()].map(readSecret)).then((values) => new SecretMasker(values.map((v) => v.toString('utf8'))));
    return this.secretMasker;
  }

  /** The stat cache of the context directory `source` reads (the build context, or a named one). */
  stats(source: ContextSource): Promise<StatCache> {
    const dir = source.dir ?? this.o.contextDir;
    let c = this.statCaches.get(dir);
    if (!c) {
      c = StatCache.load(this.o.store, dir);
      this.statCaches.set(dir, c);
    }
    return c;
  }

  context(source: ContextSource): DirTree {
    const dir = source.dir ?? this.o.contextDir;
    const id = [dir, ...source.excludes].join('\0');
    let tree = this.contextTrees.get(id);
    if (!tree) {
      const m = new PatternMatcher(source.excludes);
      tree = new DirTree(dir, m.empty ? undefined : { excluded: (rel) => m.matches(rel), descend: (rel) => m.mayReincludeUnder(rel) });
      this.contextTrees.set(id, tree);
    }
    return tree;
  }

  /** The context as the keys read it: noted, when the build records its dependencies (of the build context). */
  keyedContext(source: ContextSource): SourceTree {
    const tree = this.context(source);
    return this.o.contextDeps && source.dir === undefined ? this.o.contextDeps.recording(tree) : tree;
  }

  /** Writes back every stat cache the build read (after a successful solve). */
  async saveStats(): Promise<void> {
    for (const c of this.statCaches.values()) await (await c).save(this.o.store);
  }
}
