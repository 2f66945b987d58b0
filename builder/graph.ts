// The op graph (LLB-like): what the frontend emits and the solver runs. Each vertex's definition
// fully determines its output, so its cache key can be computed from the definition and its inputs.
import type { SourceLocation } from '../common/errors.js';
import type { FileMode } from '../common/filemode.js';
import type { Digest, ImageConfig, Platform } from '../common/oci.js';

export type { SourceLocation };

/** A resolved base image: name for display, manifest digest for the cache key. */
export interface ImageSource {
  type: 'image';
  ref: string;
  /** Where the image comes from: the local store, or an OCI layout directory. */
  origin: { kind: 'store' } | { kind: 'oci-layout'; dir: string; tag?: string };
  manifestDigest: Digest;
  /**
   * The chain ID of the image's diff IDs, its cache key as BuildKit's (cacheKeyFromConfig): the same
   * image compressed otherwise (pushed, archived, pulled from a mirror) keeps it. Absent without layers.
   */
  layersKey?: Digest;
  platform: Platform;
}

export interface ContextSource {
  type: 'context';
  name: string;
  /** A named context's directory (--build-context NAME=DIR); the build context's own when absent. */
  dir?: string;
  /** .dockerignore patterns (moby patternmatcher syntax). */
  excludes: string[];
}

/** A file downloaded over HTTP(S) (ADD URL), verified against `checksum` when given. */
export interface HttpSource {
  type: 'http';
  url: string;
  /** The name the downloaded file gets (the URL's last path segment, as BuildKit names it). */
  filename: string;
  checksum?: Digest;
}

/** A git repository (ADD https://host/repo.git#ref:subdir). */
export interface GitSource {
  type: 'git';
  remote: string;
  ref?: string;
  subdir?: string;
  keepGitDir: boolean;
}

export type Source = { type: 'scratch' } | ImageSource | ContextSource | HttpSource | GitSource;

export interface SourceOp {
  kind: 'source';
  source: Source;
}

/** RUN --mount (and inline files BuildKit mounts itself, such as heredoc scripts). */
export type ExecMount =
  /** A read-only file with this content (a heredoc script at /dev/pipes/NAME). */
  | { type: 'file'; target: string; data: string; mode: number }
  /** A copy of `source` from input `from` (writes, if allowed, are thrown away). */
  | { type: 'bind'; target: string; from: number; source: string; readonly: boolean }
  /** A directory kept across builds, keyed by id; never part of cache keys or layers. */
  | { type: 'cache'; target: string; id: string; sharing: 'shared' | 'private' | 'locked'; readonly: boolean; mode: number; uid: number; gid: number; from?: number; source?: string }
  | { type: 'tmpfs'; target: string; size?: number }
  /** A secret given to the build (--secret), as a file or an environment variable; never in keys or layers. */
  | { type: 'secret'; id: string; target?: string; env?: string; required: boolean; mode: number; uid: number; gid: number }
  /** SSH agent forwarding: not available yet, so only SSH_AUTH_SOCK is set (an error when required). */
  | { type: 'ssh'; id: string; target: string; required: boolean };

/** --add-host: an /etc/hosts line of every RUN. */
export interface ExtraHost {
  host: string;
  ip: string;
}

/** --ulimit, by docker's names (nofile, nproc, core, ...); -1 is unlimited. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** Build-wide settings of every RUN (buildx's --network, --add-host, --shm-size, --ulimit); part of each exec's definition, as in BuildKit. */
export interface ExecDefaults {
  /** RUN --network overrides it per step. */
  network?: 'default' | 'none' | 'host';
  extraHosts?: readonly ExtraHost[];
  /** Bytes of the /dev/shm tmpfs (default 64 MiB). */
  shmSize?: number;
  ulimits?: readonly Ulimit[];
}

export interface ExecOp {
  kind: 'exec';
  args: string[];
  env: string[];
  cwd: string;
  /** USER as written (name or uid, optionally :group), resolved in the rootfs at run time. */
  user: string;
  network: 'default' | 'none' | 'host';
  hostname: string;
  extraHosts?: ExtraHost[];
  ulimits?: Ulimit[];
  mounts?: ExecMount[];
  /** `RUN --security=insecure`: all capabilities; needs the build to allow it. */
  insecure?: boolean;
}

export interface Chown {
  user: string;
  group?: string;
}

export interface CopyAction {
  type: 'copy';
  /** Index into the vertex's inputs of the tree to copy from (0 is the rootfs being written). */
  from: number;
  /** Source paths (may contain globs), relative to the source root. */
  src: string[];
  /** Absolute destination; a trailing '/' means "into this directory". */
  dest: string;
  chown?: Chown;
  /** --chmod, parsed: octal, or symbolic (applied to each entry's own mode). */
  chmod?: FileMode;
  /** Patterns for paths not to copy (--exclude). */
  excludes?: string[];
  /** Files written from heredocs (`COPY <<EOF /dest`): used instead of `from`/`src`. */
  inline?: Array<{ name: string; data: string }>;
  /** ADD: unpack local tar archives into the destination. */
  unpack?: boolean;
  /** --parents: keep each source's directories under dest (a `./` in the source marks where they start). */
  parents?: boolean;
}

export interface MkdirAction {
  type: 'mkdir';
  path: string;
  mode: number;
  parents: boolean;
  chown?: Chown;
}

export type FileAction = CopyAction | MkdirAction;

export interface FileOp {
  kind: 'file';
  actions: FileAction[];
}

export type Op = SourceOp | ExecOp | FileOp;

export interface Vertex {
  /** Unique within the graph; stable across runs for the same Dockerfile. */
  id: string;
  op: Op;
  /** inputs[0] is the rootfs for exec and file ops. */
  inputs: Vertex[];
  /** Progress label, e.g. `[build 2/4] RUN make`. */
  name: string;
  location?: SourceLocation;
  /**
   * Exec vertices: the platform of the binaries they run, for the emulation check. Not part of the
   * cache key: the rootfs input (a platform's own base image) already is.
   */
  platform?: Platform;
  /** The names of an exec's environment variables that come from ARG: cache-miss explanations call them build args. */
  argNames?: readonly string[];
}

/** What a build produces: the final stage's filesystem vertex and its image config. */
export interface BuildDefinition {
  root: Vertex;
  /** The image config without rootfs/history layers: the exporter fills those. */
  config: ImageConfig;
  /**
   * History entries of the stage's own instructions, in order. `vertex` is the step that may add a
   * layer; entries without one are metadata-only (empty_layer).
   */
  history: Array<{ createdBy: string; vertex?: Vertex }>;
  /** The base image the final stage starts from (to inherit its history). */
  baseHistory?: ImageConfig['history'];
}
