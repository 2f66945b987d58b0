// Typed progress events: the builder emits them, cmd/ renders them. Nothing below cmd/ prints.
import type { SourceLocation } from './graph.js';

export type ProgressEvent =
  | { type: 'vertex-start'; id: string; name: string; time: number }
  | { type: 'vertex-cached'; id: string; name: string }
  | { type: 'vertex-done'; id: string; time: number; duration: number }
  | { type: 'vertex-error'; id: string; message: string; duration: number }
  | { type: 'log'; id: string; stream: 'stdout' | 'stderr'; data: Buffer; time: number }
  | { type: 'warning'; rule?: string; message: string; location?: SourceLocation }
  /** Byte progress of one blob moving to or from a registry, under the step `id`. */
  | { type: 'transfer'; id: string; digest: string; current: number; total: number; state: 'running' | 'done' | 'exists' | 'mounted' };

export type ProgressSink = (e: ProgressEvent) => void;

/** Runs `fn` as a progress step: start, then done or error, with durations. */
export async function step<T>(sink: ProgressSink, id: string, name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  sink({ type: 'vertex-start', id, name, time: start });
  try {
    const r = await fn();
    sink({ type: 'vertex-done', id, time: Date.now(), duration: Date.now() - start });
    return r;
  } catch (e) {
    sink({ type: 'vertex-error', id, message: (e as Error).message, duration: Date.now() - start });
    throw e;
  }
}
