// Renders builder progress events: plain lines in BuildKit's style, one JSON object per line, or the
// TTY view (cmd/tui/, loaded only when chosen: ink and react cost start-up time every other command).
import type { ProgressSink, Warning } from '../builder/engine.js';
import { cacheMissText } from './cachemiss.js';
import { initialState, reduce, type BuildState } from './tui/state.js';
import { formatBuildWarnings } from './warnings.js';

export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface Renderer {
  sink: ProgressSink;
  /** Flushes partial log lines and prints collected warnings (the TTY view first finishes loading). */
  close(): void | Promise<void>;
}

/** What happened before the TTY view was loaded: it starts from there. */
export interface EarlyProgress {
  state: BuildState;
  warnings: Warning[];
}

/**
 * The version of --progress=json's lines (docs/progress.schema.json), in each line. It goes up when a
 * field changes meaning or goes away; added fields and event types keep it.
 */
export const JSON_PROGRESS_VERSION = 1;

/** One --progress=json line; `type` stays the first key, as readers that match a line's start expect. */
export function jsonLine(value: { type: string; [field: string]: unknown }): string {
  return `${JSON.stringify({ ...value, version: JSON_PROGRESS_VERSION })}\n`;
}

export async function createRenderer(mode: ProgressMode, out: NodeJS.WriteStream = process.stderr): Promise<Renderer> {
  if (mode === 'tty') return deferredTty(out);
  if (mode === 'json') return jsonRenderer(out);
  if (mode === 'quiet') return { sink: () => {}, close: () => {} };
  return plainRenderer(out);
}

/**
 * The TTY view loads (ink and React: a tenth of a second and more of compiling) while the build
 * starts, instead of before: until then events fold into the view's state, so memory stays flat
 * however much a step prints meanwhile.
 */
function deferredTty(out: NodeJS.WriteStream): Renderer {
  const early: EarlyProgress = { state: initialState(Date.now()), warnings: [] };
  let view: Renderer | undefined;
  const loaded = import('./tui/renderer.js').then((m) => {
    view = m.ttyRenderer(out, early);
  });
  return {
    sink: (e) => {
      if (view) view.sink(e);
      else if (e.type === 'warning') early.warnings.push(e.warning);
      else early.state = reduce(early.state, e, Date.now());
    },
    close: async () => {
      await loaded;
      view!.close();
    },
  };
}

function jsonRenderer(out: NodeJS.WritableStream): Renderer {
  // Running transfers report every chunk: keep one event per blob per 200 ms.
  const lastTransfer = new Map<string, number>();
  return {
    sink: (e) => {
      // The Dockerfile's text is for excerpts (cmd/main.ts keeps it), not a stream event.
      if (e.type === 'source') return;
      if (e.type === 'transfer' && e.state === 'running') {
        const now = Date.now();
        if (now - (lastTransfer.get(e.digest) ?? 0) < 200) return;
        lastTransfer.set(e.digest, now);
      }
      if (e.type === 'log') out.write(jsonLine({ ...e, data: e.data.toString('utf8') }));
      else if (e.type === 'vertex-start' && e.cacheMiss) out.write(jsonLine({ ...e, cacheMiss: { ...e.cacheMiss, text: cacheMissText(e.cacheMiss) } }));
      else out.write(jsonLine(e));
    },
    close: () => {},
  };
}

export function megabytes(n: number): string {
  return n < 1e6 ? `${(n / 1e3).toFixed(1)}kB` : `${(n / 1e6).toFixed(1)}MB`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** How a blob that stopped moving ended, e.g. `1.2MB done`. */
export function transferOutcome(t: { state: 'done' | 'exists' | 'mounted'; total: number }): string {
  return t.state === 'done' ? `${megabytes(t.total)} done` : t.state === 'exists' ? 'already exists' : 'mounted from another repository';
}

function plainRenderer(out: NodeJS.WritableStream): Renderer {
  const numbers = new Map<string, number>();
  const starts = new Map<string, number>();
  const partial = new Map<string, string>();
  const warnings: Warning[] = [];
  const num = (id: string): number => {
    let n = numbers.get(id);
    if (n === undefined) {
      n = numbers.size + 1;
      numbers.set(id, n);
    }
    return n;
  };
  const logLine = (id: string, line: string): void => {
    const t = ((Date.now() - (starts.get(id) ?? Date.now())) / 1000).toFixed(3);
    out.write(`#${num(id)} ${t} ${line}\n`);
  };
  const flush = (id: string): void => {
    const rest = partial.get(id);
    if (rest) logLine(id, rest);
    partial.delete(id);
  };
  return {
    sink: (e) => {
      switch (e.type) {
        case 'vertex-start':
          starts.set(e.id, e.time);
          out.write(`#${num(e.id)} ${e.name}\n`);
          if (e.cacheMiss) out.write(`#${num(e.id)} cache miss: ${cacheMissText(e.cacheMiss)}\n`);
          break;
        case 'vertex-cached':
          out.write(`#${num(e.id)} ${e.name}\n#${num(e.id)} CACHED\n\n`);
          break;
        case 'log': {
          const text = (partial.get(e.id) ?? '') + e.data.toString('utf8');
          const lines = text.split('\n');
          partial.set(e.id, lines.pop() ?? '');
          for (const l of lines) logLine(e.id, l);
          break;
        }
        case 'vertex-done':
          flush(e.id);
          out.write(`#${num(e.id)} DONE ${seconds(e.duration)}\n\n`);
          break;
        case 'vertex-error':
          flush(e.id);
          out.write(`#${num(e.id)} ERROR: ${e.message}\n\n`);
          break;
        case 'vertex-queued':
          break; // BuildKit's plain output shows a step when it starts
        case 'warning':
          warnings.push(e.warning);
          break;
        case 'transfer': {
          if (e.state === 'running') break; // plain output keeps one line per blob
          out.write(`#${num(e.id)} ${e.digest} ${transferOutcome({ state: e.state, total: e.total })}\n`);
          break;
        }
      }
    },
    close: () => {
      out.write(formatBuildWarnings(warnings));
    },
  };
}
