// Typed progress events: the builder emits them, cmd/ renders them. Nothing below cmd/ prints.
import { asTsbuildError, TsbuildError, type ErrorJSON, type SourceLocation } from '../common/errors.js';
import type { Warning } from './frontend.js';

export type ProgressEvent =
  /** The Dockerfile as read, once per build, so renderers can show the lines warnings and errors point at. */
  | { type: 'source'; file: string; text: string }
  | { type: 'vertex-start'; id: string; name: string; time: number }
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
export async function step<T>(sink: ProgressSink, id: string, name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  sink({ type: 'vertex-start', id, name, time: start });
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
