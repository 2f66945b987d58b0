// The TTY view's model: progress events folded into one state per step. Pure (events and the clock
// in, a new state out), so it is tested without a terminal; the view draws snapshots of it.
import type { ProgressEvent } from '../../builder/engine.js';
import { cacheMissText } from '../cachemiss.js';

/** Output lines kept per step: the view shows only the last few, and memory stays flat however much a step prints. */
export const KEPT_LINES = 10;
/** Longer lines are cut: no terminal shows them whole, and output without newlines must not grow memory. */
const MAX_LINE = 1024;

/** waiting: queued behind its inputs (or another build running the same step). */
export type StepStatus = 'waiting' | 'running' | 'cached' | 'done' | 'error';
export type TransferStatus = Extract<ProgressEvent, { type: 'transfer' }>['state'];

export interface TransferState {
  digest: string;
  current: number;
  total: number;
  state: TransferStatus;
  /** When its first and its latest event arrived (ms), for the speed. */
  since: number;
  at: number;
}

export interface StepState {
  id: string;
  /** As the events give it, e.g. `[build 2/4] RUN make`. */
  name: string;
  status: StepStatus;
  /** Epoch ms; a cached step never starts. */
  started?: number;
  duration?: number;
  /** The last KEPT_LINES complete output lines, as a terminal would show them. */
  lines: readonly string[];
  /** The output after the last newline (a progress bar redrawn with \r, a prompt). */
  partial: string;
  transfers: readonly TransferState[];
  error?: string;
  /** Why it missed the cache, in words, when an earlier build was recorded. */
  cacheMiss?: string;
}

export interface BuildState {
  started: number;
  /** In the order the steps first appeared. */
  steps: ReadonlyMap<string, StepState>;
}

export function initialState(now: number): BuildState {
  return { started: now, steps: new Map() };
}

// Escape sequences (CSI, OSC, two-byte) and the control characters left after tabs are expanded.
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|[\x00-\x1f\x7f]/g;

/** What a terminal shows of a line: the text after its last carriage return, without escapes. */
function visible(raw: string): string {
  const line = raw.replace(/\r+$/, '');
  return line.slice(line.lastIndexOf('\r') + 1).replaceAll('\t', '    ').replace(CONTROL, '').slice(0, MAX_LINE);
}

function appendOutput(s: StepState, text: string): StepState {
  const parts = (s.partial + text).split('\n');
  const rest = parts.pop() ?? '';
  // A trailing \r may be the first half of \r\n, or a redraw of the line: keep it for the next chunk.
  const partial = visible(rest) + (rest.endsWith('\r') ? '\r' : '');
  if (parts.length === 0) return { ...s, partial };
  return { ...s, partial, lines: [...s.lines, ...parts.slice(-KEPT_LINES).map(visible)].slice(-KEPT_LINES) };
}

/** Ends a step: what it printed without a final newline becomes its last line. */
function finish(s: StepState, status: StepStatus, duration: number): StepState {
  const ended = s.partial.replace(/\r$/, '') ? appendOutput(s, '\n') : { ...s, partial: '' };
  return { ...ended, status, duration };
}

/** The step an event is about; events for a step never started (not expected) make a running one. */
function stepOf(state: BuildState, id: string, now: number): StepState {
  return state.steps.get(id) ?? { id, name: id, status: 'running', started: now, lines: [], partial: '', transfers: [] };
}

function withStep(state: BuildState, s: StepState): BuildState {
  return { ...state, steps: new Map(state.steps).set(s.id, s) };
}

export function reduce(state: BuildState, e: ProgressEvent, now: number): BuildState {
  switch (e.type) {
    case 'vertex-queued':
      return withStep(state, { ...stepOf(state, e.id, now), name: e.name, status: 'waiting' });
    case 'vertex-start': {
      const s: StepState = { ...stepOf(state, e.id, now), name: e.name, status: 'running', started: e.time, ...(e.cacheMiss ? { cacheMiss: cacheMissText(e.cacheMiss) } : {}) };
      // A step that waited takes its place when it starts: the steps stay in the order they ran.
      if (state.steps.get(e.id)?.status !== 'waiting') return withStep(state, s);
      const steps = new Map(state.steps);
      steps.delete(e.id);
      return { ...state, steps: steps.set(e.id, s) };
    }
    case 'vertex-cached':
      return withStep(state, { ...stepOf(state, e.id, now), name: e.name, status: 'cached' });
    case 'vertex-done':
      return withStep(state, finish(stepOf(state, e.id, now), 'done', e.duration));
    case 'vertex-error':
      return withStep(state, { ...finish(stepOf(state, e.id, now), 'error', e.duration), error: e.message });
    case 'log':
      return withStep(state, appendOutput(stepOf(state, e.id, now), e.data.toString('utf8')));
    case 'transfer': {
      const s = stepOf(state, e.id, now);
      const old = s.transfers.find((t) => t.digest === e.digest);
      const t: TransferState = { digest: e.digest, current: e.current, total: e.total, state: e.state, since: old?.since ?? now, at: now };
      return withStep(state, { ...s, transfers: old ? s.transfers.map((x) => (x === old ? t : x)) : [...s.transfers, t] });
    }
    case 'source':
    case 'warning':
      return state;
  }
}

/** The order of the live view: steps in the order they ran, then those waiting in the Dockerfile's (by vertex id, v1 v2 …). */
export function liveOrder(state: BuildState): StepState[] {
  const steps = [...state.steps.values()];
  const n = (s: StepState): number => Number(/^v(\d+)$/.exec(s.id)?.[1] ?? Infinity);
  return [...steps.filter((s) => s.status !== 'waiting'), ...steps.filter((s) => s.status === 'waiting').sort((a, b) => n(a) - n(b))];
}

/** A step's last `n` output lines, the unfinished one included. */
export function tail(s: StepState, n: number): string[] {
  if (n <= 0) return [];
  const partial = s.partial.replace(/\r$/, '');
  return (partial ? [...s.lines, partial] : [...s.lines]).slice(-n);
}

/** Steps of the Dockerfile (`[1/4] FROM …`), not tsbuild's own (`[internal] …`, exporting). */
function isBuildStep(s: StepState): boolean {
  return s.name.startsWith('[') && !s.name.startsWith('[internal]');
}

export interface Summary {
  /** Dockerfile steps reused from the cache, of all that were reached. */
  cached: number;
  steps: number;
  /** The longest-running steps that ran, longest first (none that would show as 0.0s). */
  slowest: StepState[];
}

export function summarize(state: BuildState, slowest = 3): Summary {
  const build = [...state.steps.values()].filter(isBuildStep);
  const ran = build.filter((s) => s.duration !== undefined && s.duration >= 50 && s.status !== 'cached');
  return {
    cached: build.filter((s) => s.status === 'cached').length,
    steps: build.length,
    slowest: ran.sort((a, b) => b.duration! - a.duration!).slice(0, slowest),
  };
}
