// Typed progress events: the builder emits them, cmd/ renders them. Nothing below cmd/ prints.
import { asTsbuildError, TsbuildError, type ErrorJSON, type SourceLocation } from '../common/errors.js';
import type { Warning } from './frontend.js';

/** One input of a step's cache key that differs from the earlier build of the same Dockerfile and target. */
export type MissReason =
  | { kind: 'no-cache' }
  /** No step like it in the earlier build. */
  | { kind: 'new-step' }
  | { kind: 'instruction' }
  /** What the instruction inherits from the stage: WORKDIR, USER, the RUN's network, mounts… */
  | { kind: 'settings'; fields: string[] }
  /** By name only: values are never kept or shown. */
  | { kind: 'build-arg'; names: string[] }
  | { kind: 'env'; names: string[] }
  /** Context files: the first few paths (a directory ends in '/' when only its sum was kept) and how many. */
  | { kind: 'files'; paths: string[]; count: number }
  | { kind: 'base-image'; ref: string; from: string; to: string }
  | { kind: 'parent'; step: string }
  /** A downloaded file or git checkout that differs. */
  | { kind: 'source'; step: string }
  /** The same inputs as last time, whose result is gone (pruned) or was never made (the step failed). */
  | { kind: 'no-result' };

export interface CacheMiss {
  reasons: MissReason[];
}

export type ProgressEvent =
  /** The Dockerfile as read, once per build, so renderers can show the lines warnings and errors point at. */
  | { type: 'source'; file: string; text: string }
  /** A step that will run once its inputs are ready (and no other build holds it). */
  | { type: 'vertex-queued'; id: string; name: string; time: number }
  /** `cacheMiss`: why it runs, when an earlier build of the same Dockerfile and target was recorded. */
  | { type: 'vertex-start'; id: string; name: string; time: number; cacheMiss?: CacheMiss }
  | { type: 'vertex-cached'; id: string; name: string }
  | { type: 'vertex-done'; id: string; time: number; duration: number }
  | { type: 'vertex-error'; id: string; message: string; duration: number; error: ErrorJSON }
  | { type: 'log'; id: string; stream: 'stdout' | 'stderr'; data: Buffer; time: number }
  | { type: 'warning'; warning: Warning }
  /** Byte progress of one blob moving to or from a registry, under the step `id`. */
  | { type: 'transfer'; id: string; digest: string; current: number; total: number; state: 'running' | 'done' | 'exists' | 'mounted' };

export type ProgressSink = (e: ProgressEvent) => void;

/**
 * A step's failure, pointing at its Dockerfile line (BuildKit's errdefs.WithSource): the original
 * error stays the cause, and its code, kind and hint are this one's.
 */
export class StepError extends TsbuildError {
  constructor(readonly step: string, location: SourceLocation, cause: unknown) {
    const inner = asTsbuildError(cause);
    super(inner.code, inner.message, { location, cause, kind: inner.kind, ...(inner.hint !== undefined ? { hint: inner.hint } : {}) });
  }
}

/** Runs `fn` as a progress step: start, then done or error, with durations. */
export async function step<T>(sink: ProgressSink, id: string, name: string, fn: () => Promise<T>, cacheMiss?: CacheMiss): Promise<T> {
  const start = Date.now();
  sink({ type: 'vertex-start', id, name, time: start, ...(cacheMiss ? { cacheMiss } : {}) });
  try {
    const r = await fn();
    sink({ type: 'vertex-done', id, time: Date.now(), duration: Date.now() - start });
    return r;
  } catch (e) {
    const error = asTsbuildError(e).toJSON();
    sink({ type: 'vertex-error', id, message: error.message, duration: Date.now() - start, error });
    throw e;
  }
}
