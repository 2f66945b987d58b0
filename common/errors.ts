// The one error model (DESIGN §7), on undici's pattern: every failure tsbuild raises on purpose is a
// TsbuildError with a stable code (docs/errors.md lists them), a kind, a hint, a cause and, for
// Dockerfile mistakes, a source location. cmd/ renders them; user errors never show a stack.

export interface SourceLocation {
  file: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
}

/** user: the input or the environment is wrong and the hint says what to do; internal: a bug in tsbuild. */
export type ErrorKind = 'user' | 'internal';

/** The stable codes, with what each means. Adding one means documenting it in docs/errors.md (a test checks). */
export const ErrorCodes = {
  TSB_USAGE: 'a command-line flag or argument is invalid',
  TSB_CANCELLED: 'the build was cancelled (Ctrl-C, SIGTERM)',
  TSB_DOCKERFILE_SYNTAX: 'the Dockerfile does not parse',
  TSB_DOCKERFILE_INVALID: 'the Dockerfile parses but an instruction is invalid (unknown stage, bad flag value...)',
  TSB_CHECK_FAILED: 'build checks found problems and the Dockerfile asks for them to fail the build (# check=error=true)',
  TSB_CONTEXT: 'the build context or a COPY/ADD source is missing or not usable',
  TSB_RUN_FAILED: 'a RUN step exited with a non-zero code or was killed',
  TSB_CONTAINER_START: 'a RUN step could not start (command not found, mount failed...)',
  TSB_MOUNT: 'a RUN --mount cannot be set up (missing secret or ssh agent, bad source)',
  TSB_USER_UNKNOWN: 'a USER or --chown name is not in the image\'s passwd or group file',
  TSB_ENTITLEMENT: 'the step needs an entitlement that was not granted (--allow)',
  TSB_FILE_OP: 'a COPY/ADD/WORKDIR cannot be applied to the image\'s filesystem',
  TSB_ARCHIVE_INVALID: 'an archive (ADD of a tar, an image layer) is malformed, truncated or cannot be unpacked',
  TSB_ARCHIVE_UNSAFE: 'an archive (ADD of a tar, an image layer) tries to write outside its target (a path, symlink or hardlink that escapes)',
  TSB_REMOTE: 'fetching a URL or git repository (ADD, --build-context) failed',
  TSB_IMAGE_NOT_FOUND: 'an image is neither in the local store nor in its registry',
  TSB_IMAGE_INVALID: 'a manifest, index or image config is malformed',
  TSB_DIGEST_MISMATCH: 'content does not match its digest',
  TSB_REFERENCE_INVALID: 'an image reference (-t, FROM, push/pull argument) is not a valid name',
  TSB_STORE_CORRUPT: 'the local store lacks or has damaged content an image needs',
  TSB_REGISTRY: 'a registry refused a request or is not reachable',
  TSB_REGISTRY_AUTH: 'a registry refused the credentials',
  TSB_COMPRESSION_UNAVAILABLE: 'a layer compression (zstd) needs a program that is not installed',
  TSB_CACHE_INVALID: 'a --cache-from source is missing or is not a tsbuild cache (a warning and a cold build unless strict=true)',
  TSB_STORE_BUSY: 'another tsbuild process holds the store for longer than the operation waits',
  TSB_PLATFORM: 'a platform is malformed, or RUN for it cannot run here (no emulator registered with binfmt_misc)',
  TSB_ROOTLESS: 'rootless mode cannot start (user namespaces off, no newuidmap) or a file owner is outside the mapped ids',
  TSB_INTERNAL: 'a bug in tsbuild',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ErrorOptions {
  hint?: string;
  location?: SourceLocation;
  cause?: unknown;
  kind?: ErrorKind;
}

/** What --progress=json and other machine readers get of an error. */
export interface ErrorJSON {
  code: ErrorCode;
  kind: ErrorKind;
  message: string;
  hint?: string;
  location?: SourceLocation;
}

export class TsbuildError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly hint?: string;
  readonly location?: SourceLocation;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.kind = opts.kind ?? (code === 'TSB_INTERNAL' ? 'internal' : 'user');
    if (opts.hint !== undefined) this.hint = opts.hint;
    if (opts.location !== undefined) this.location = opts.location;
  }

  toJSON(): ErrorJSON {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
      ...(this.location !== undefined ? { location: this.location } : {}),
    };
  }
}

/** Any thrown value as a TsbuildError: ours as they are, anything else as an internal error that keeps it as cause. */
export function asTsbuildError(e: unknown): TsbuildError {
  if (e instanceof TsbuildError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new TsbuildError('TSB_INTERNAL', message, { cause: e });
}

/** A bad command-line flag or argument, from cmd/ or from a request the engine validates. */
export class UsageError extends TsbuildError {
  constructor(message: string, hint?: string) {
    super('TSB_USAGE', message, hint !== undefined ? { hint } : {});
  }
}
