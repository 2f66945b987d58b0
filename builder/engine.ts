// The engine: opens a store and everything on it once, and runs every command against it (build,
// check, images, tag, pull, push, run, import, prune, du). cmd/ maps flags to calls of this class and
// renders what comes back; it never opens a store itself. One engine per process, closed at the end.
import { BlobSources } from '../snapshotter/registry/sources.js';
import { CompressedForms } from '../snapshotter/compressed.js';
import { ContentStore } from '../snapshotter/content.js';
import { ImageStore } from '../snapshotter/images.js';
import { Registries } from '../snapshotter/registry/registries.js';
import { Snapshots } from '../snapshotter/snapshots.js';
import { Store } from '../snapshotter/store.js';
import type { Platform, RunConfig } from '../common/oci.js';
import type { ManifestFormat } from '../snapshotter/registry/format.js';
import { build, check, type BuildRequest, type BuildResult } from './build.js';
import type { CheckResult, Frontend } from './frontend.js';
import { LazyBlobs } from './lazyblobs.js';
import { inspectImage, listImages, tagImage, untagImages, type ImageSummary } from './images.js';
import { importImage } from './import.js';
import type { ProgressSink } from './progress.js';
import { diskUsage, type PruneOptions, type SpaceReport } from './prune.js';
import { pruneBuildCache } from './gc.js';
import { fsck, type FsckReport } from './fsck.js';
import { runImage, type RunRequest } from './run.js';
import { pullImage, pushStoredImage } from './transfer.js';

export type { BuildRequest, BuildResult, CheckResult, FsckReport, PruneOptions, ImageSummary, ManifestFormat, RunRequest, SpaceReport };
export type { Annotations, OutputSpec } from './exporter.js';
export type { ExecDefaults, ExtraHost, Ulimit } from './graph.js';
export type { SecretSource } from './mounts.js';
export type { ProgressEvent, ProgressSink } from './progress.js';
export type { FilesContext, Frontend, NamedContext, Warning } from './frontend.js';
export { login, loginHost, logout } from './transfer.js';

export interface RegistrySettings {
  /** Hosts allowed plain HTTP or unverified TLS (--insecure-registry). */
  insecureRegistries?: readonly string[];
  /** A PEM file of an extra CA to trust (--registry-ca). */
  caFile?: string;
}

export interface EngineOptions {
  /** The store directory (default: $TSBUILD_ROOT, /var/lib/tsbuild for root). */
  root?: string;
  registry?: RegistrySettings;
  /** Frontends by name; a build request names one ("dockerfile" by default). */
  frontends?: Readonly<Record<string, Frontend>>;
  /** Cancels registry traffic and running steps. */
  signal?: AbortSignal;
}

/** What the engine's commands share: the store and the stores on it, opened once. */
export interface StoreParts {
  readonly store: Store;
  readonly content: ContentStore;
  readonly images: ImageStore;
  readonly snapshots: Snapshots;
  readonly sources: BlobSources;
  /** Compressed forms of layers, made when they first leave the machine. */
  readonly compressed: CompressedForms;
  /** The registry client, made on first use (its HTTP library loads only when a registry is contacted). */
  registries(): Registries;
  /** Where blobs the store knows of but does not hold come from. */
  readonly lazy: LazyBlobs;
  readonly signal?: AbortSignal;
}

export class Engine implements StoreParts {
  readonly store: Store;
  readonly content: ContentStore;
  readonly images: ImageStore;
  readonly snapshots: Snapshots;
  readonly sources: BlobSources;
  readonly compressed: CompressedForms;
  readonly lazy: LazyBlobs;
  readonly signal?: AbortSignal;
  private registryClient?: Registries;

  private constructor(readonly options: EngineOptions) {
    this.store = Store.open(options.root);
    this.content = new ContentStore(this.store);
    this.images = new ImageStore(this.store);
    this.snapshots = new Snapshots(this.store, this.content);
    this.sources = new BlobSources(this.store);
    this.compressed = new CompressedForms(this.store, this.content);
    this.lazy = new LazyBlobs(this.content, this.sources, () => this.registries());
    if (options.signal) this.signal = options.signal;
  }

  static open(options: EngineOptions = {}): Engine {
    return new Engine(options);
  }

  registries(): Registries {
    this.registryClient ??= new Registries({
      insecureRegistries: this.options.registry?.insecureRegistries ?? [],
      ...(this.options.registry?.caFile !== undefined ? { caFile: this.options.registry.caFile } : {}),
      ...(this.signal ? { signal: this.signal } : {}),
    });
    return this.registryClient;
  }

  frontend(name: string): Frontend | undefined {
    return this.options.frontends?.[name];
  }

  build(req: BuildRequest, sink: ProgressSink): Promise<BuildResult> {
    return build(this, req, sink);
  }

  check(req: Pick<BuildRequest, 'context' | 'dockerfile' | 'frontend' | 'buildArgs' | 'target' | 'pull' | 'namedContexts'>, sink: ProgressSink): Promise<CheckResult> {
    return check(this, req, sink);
  }

  listImages(): Promise<ImageSummary[]> {
    return listImages(this);
  }

  inspect(name: string, platform?: Platform) {
    return inspectImage(this, name, platform);
  }

  tag(source: string, target: string): Promise<void> {
    return tagImage(this, source, target);
  }

  untag(names: readonly string[]): Promise<void> {
    return untagImages(this, names);
  }

  pull(name: string, sink: ProgressSink) {
    return pullImage(this, name, sink);
  }

  push(image: string, dest: string | undefined, format: ManifestFormat, sink: ProgressSink) {
    return pushStoredImage(this, image, dest, format, sink);
  }

  run(req: RunRequest): Promise<number> {
    return runImage(this, req);
  }

  importImage(source: string, name: string, config: RunConfig) {
    return importImage(this, source, name, config);
  }

  prune(opts: PruneOptions = {}): Promise<number> {
    return pruneBuildCache(this, opts);
  }

  /** Checks every blob, image, snapshot and cache record; with repair, removes what is damaged and what depends on it. */
  fsck(opts: { repair?: boolean } = {}): Promise<FsckReport> {
    return fsck(this, opts);
  }

  diskUsage(): Promise<SpaceReport> {
    return diskUsage(this);
  }

  async close(): Promise<void> {
    try {
      await this.registryClient?.close();
    } finally {
      await this.store.close();
    }
  }
}
