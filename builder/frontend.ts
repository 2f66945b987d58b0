// The contract between the engine and a frontend (BuildKit's frontend.Frontend): the engine hands a
// frontend the build's inputs and an image resolver, and gets back a graph. builder/ owns the
// contract and never imports a frontend; cmd/ gives the engine the Dockerfile frontend.
import type { SourceLocation } from '../common/errors.js';
import type { ImageConfig, Platform } from '../common/oci.js';
import type { BuildDefinition, ExecDefaults, GitSource, HttpSource, ImageSource } from './graph.js';

export interface ResolvedImage {
  source: ImageSource;
  config: ImageConfig;
}

/** A named context (--build-context NAME=…) of files: a local directory, or a git repository or a file fetched as ADD fetches them. */
export type FilesContext = { kind: 'dir'; name: string; dir: string } | { kind: 'remote'; name: string; url: string; source: GitSource | HttpSource };

/** A named context: files, or an image (a registry or store reference, or oci-layout://…). */
export type NamedContext = FilesContext | { kind: 'image'; ref: string };

export interface FrontendInput {
  dockerfile: string;
  /** Name shown in error locations, e.g. "Dockerfile". */
  filename: string;
  dockerignore?: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  /** The platform the image is for (TARGETPLATFORM). */
  platform: Platform;
  /** The platform tsbuild runs on (BUILDPLATFORM; default: platform). */
  buildPlatform?: Platform;
  /** One of several platforms built together: step names then say which (`[linux/arm64 2/3] RUN …`). */
  multiPlatform?: boolean;
  /** What every RUN gets unless it says otherwise (--network, --add-host, --shm-size, --ulimit). */
  exec?: ExecDefaults;
  /**
   * The named context standing for a stage name, a FROM image or a --from value, if any (buildx's
   * --build-context): it replaces that stage, or that image, wherever it is used.
   */
  namedContext?: (name: string) => NamedContext | undefined;
  /** Resolves an image name, for `platform` (default: the target platform); throws a user-facing error if it cannot. */
  resolveImage: (ref: string, platform?: Platform) => Promise<ResolvedImage>;
}

/** A build check's finding. Texts are data here; cmd/ formats them. */
export interface Warning {
  rule: string;
  /** The formatted message (BuildKit's "detail"). */
  message: string;
  location?: SourceLocation;
  /** The rule's documentation page. */
  url?: string;
  /** The rule's one-line description (shown by BuildKit with --debug). */
  description?: string;
}

export interface FrontendResult {
  definition: BuildDefinition;
  warnings: Warning[];
  /** With `# check=error=true` and warnings: why the build must fail (after showing them). */
  violation?: string;
}

export interface CheckResult {
  warnings: Warning[];
  /** With `# check=error=true` and warnings: why the check fails. */
  violation?: string;
}

export interface Frontend {
  /** The graph of the target stage, and the build checks' warnings. Throws TsbuildErrors for bad input. */
  build(input: FrontendInput): Promise<FrontendResult>;
  /**
   * `build --check`: the same walk as build (so every error a build reports fails it too), over every
   * stage unless a target is named, without solving anything.
   */
  check(input: FrontendInput): Promise<CheckResult>;
}
