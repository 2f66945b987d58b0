// The op graph (LLB-like): what the frontend emits and the solver runs. Each vertex's definition
// fully determines its output, so its cache key can be computed from the definition and its inputs.
import type { Digest, ImageConfig, Platform } from '../snapshotter/oci.js';

export interface SourceLocation {
  file: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
}

/** A resolved base image: name for display, manifest digest for the cache key. */
export interface ImageSource {
  type: 'image';
  ref: string;
  /** Where the image comes from: the local store, or an OCI layout directory. */
  origin: { kind: 'store' } | { kind: 'oci-layout'; dir: string; tag?: string };
  manifestDigest: Digest;
  platform: Platform;
}

export interface ContextSource {
  type: 'context';
  name: string;
  /** .dockerignore patterns (moby patternmatcher syntax). */
  excludes: string[];
}

export type Source = { type: 'scratch' } | ImageSource | ContextSource;

export interface SourceOp {
  kind: 'source';
  source: Source;
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
  /** Octal mode as a number. */
  chmod?: number;
  /** Patterns for paths not to copy. */
  excludes?: string[];
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
