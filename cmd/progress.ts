// Renders builder progress events: plain lines in BuildKit's style, or one JSON object per line.
import type { ProgressEvent, ProgressSink } from '../builder/progress.js';
import { formatBuildWarnings } from '../frontend/format.js';

export type ProgressMode = 'plain' | 'json' | 'quiet';

export interface Renderer {
  sink: ProgressSink;
  /** Flushes partial log lines and prints collected warnings. */
  close(): void;
}

export function createRenderer(mode: ProgressMode, out: NodeJS.WritableStream = process.stderr): Renderer {
  if (mode === 'json') return jsonRenderer(out);
  if (mode === 'quiet') return { sink: () => {}, close: () => {} };
  return plainRenderer(out);
}

function jsonRenderer(out: NodeJS.WritableStream): Renderer {
  // Running transfers report every chunk: keep one event per blob per 200 ms.
  const lastTransfer = new Map<string, number>();
  return {
    sink: (e) => {
      if (e.type === 'transfer' && e.state === 'running') {
        const now = Date.now();
        if (now - (lastTransfer.get(e.digest) ?? 0) < 200) return;
        lastTransfer.set(e.digest, now);
      }
      const data = e.type === 'log' ? { ...e, data: e.data.toString('utf8') } : e;
      out.write(`${JSON.stringify(data)}\n`);
    },
    close: () => {},
  };
}

function megabytes(n: number): string {
  return n < 1e6 ? `${(n / 1e3).toFixed(1)}kB` : `${(n / 1e6).toFixed(1)}MB`;
}

function plainRenderer(out: NodeJS.WritableStream): Renderer {
  const numbers = new Map<string, number>();
  const starts = new Map<string, number>();
  const partial = new Map<string, string>();
  const warnings: Array<Extract<ProgressEvent, { type: 'warning' }>> = [];
  const num = (id: string): number => {
    let n = numbers.get(id);
    if (n === undefined) {
      n = numbers.size + 1;
      numbers.set(id, n);
    }
    return n;
  };
  const secs = (ms: number): string => (ms / 1000).toFixed(1);
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
          out.write(`#${num(e.id)} DONE ${secs(e.duration)}s\n\n`);
          break;
        case 'vertex-error':
          flush(e.id);
          out.write(`#${num(e.id)} ERROR: ${e.message}\n\n`);
          break;
        case 'warning':
          warnings.push(e);
          break;
        case 'transfer': {
          if (e.state === 'running') break; // plain output keeps one line per blob
          const what = e.state === 'done' ? `${megabytes(e.total)} done` : e.state === 'exists' ? 'already exists' : 'mounted from another repository';
          out.write(`#${num(e.id)} ${e.digest} ${what}\n`);
          break;
        }
      }
    },
    close: () => {
      out.write(formatBuildWarnings(warnings.map((w) => ({ rule: w.rule ?? 'Warning', message: w.message, location: w.location }))));
    },
  };
}
