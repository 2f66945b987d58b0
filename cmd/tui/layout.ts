// What of the build fits the terminal's height: a live frame taller than the terminal cannot be
// redrawn in place (ink then clears the whole screen on every frame). Running steps and their
// output come first; the oldest finished steps give way.
import { tail, type StepState, type TransferState } from './state.js';

export interface Placed {
  step: StepState;
  transfers: readonly TransferState[];
  lines: string[];
}

export interface Layout {
  /** Finished steps left out, the oldest ones. */
  hidden: number;
  placed: Placed[];
}

/** Blobs still moving first; finished ones only where room is left. */
function transfersOf(s: StepState): TransferState[] {
  return [...s.transfers.filter((t) => t.state === 'running'), ...s.transfers.filter((t) => t.state !== 'running')];
}

export function layout(steps: readonly StepState[], rows: number, liveLines: number): Layout {
  // Less the header, and the row below the frame where the cursor waits.
  const avail = Math.max(rows - 2, 1);
  const running = steps.filter((s) => s.status === 'running');
  // The rows of output the running steps would show if there were room.
  const wanted = running.reduce((n, s) => n + Math.min(liveLines, s.transfers.length + tail(s, liveLines).length), 0);
  const shown = [...steps];
  let hidden = 0;
  // A step's row, and the row with its cache-miss explanation.
  const used = (): number => shown.reduce((n, s) => n + (s.cacheMiss ? 2 : 1), 0) + (hidden > 0 ? 1 : 0);
  while (used() + wanted > avail) {
    // Finished steps give way first, then those still waiting.
    const finished = shown.findIndex((s) => s.status !== 'running' && s.status !== 'waiting');
    const oldest = finished >= 0 ? finished : shown.findIndex((s) => s.status === 'waiting');
    if (oldest < 0) break;
    shown.splice(oldest, 1);
    hidden++;
  }
  const each = running.length > 0 ? Math.min(liveLines, Math.floor(Math.max(avail - used(), 0) / running.length)) : 0;
  return {
    hidden,
    placed: shown.map((step) => {
      if (step.status !== 'running') return { step, transfers: [], lines: [] };
      const transfers = transfersOf(step).slice(0, each);
      return { step, transfers, lines: tail(step, each - transfers.length) };
    }),
  };
}
