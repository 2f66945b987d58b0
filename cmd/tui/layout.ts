// What of the build fits the terminal's height: a live frame taller than the terminal cannot be
// redrawn in place (ink then clears the whole screen on every frame), so finished steps give way
// first and running steps share what is left for their output.
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

export function layout(steps: readonly StepState[], rows: number, liveLines: number): Layout {
  // Less the header, and the row below the frame where the cursor waits.
  const avail = Math.max(rows - 2, 1);
  const shown = [...steps];
  let hidden = 0;
  const used = (): number => shown.length + (hidden > 0 ? 1 : 0);
  while (used() > avail) {
    const oldest = shown.findIndex((s) => s.status !== 'running');
    if (oldest < 0) break;
    shown.splice(oldest, 1);
    hidden++;
  }
  const running = shown.filter((s) => s.status === 'running').length;
  const each = running > 0 ? Math.min(liveLines, Math.floor(Math.max(avail - used(), 0) / running)) : 0;
  return {
    hidden,
    placed: shown.map((step) => {
      if (step.status !== 'running') return { step, transfers: [], lines: [] };
      // Blobs still moving come first; finished ones only where room is left.
      const transfers = [...step.transfers.filter((t) => t.state === 'running'), ...step.transfers.filter((t) => t.state !== 'running')].slice(0, each);
      return { step, transfers, lines: tail(step, each - transfers.length) };
    }),
  };
}
