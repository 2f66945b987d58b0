// --progress=tty: the ink view on a terminal. Events only fold into the state; a timer redraws the
// latest state FPS times a second however fast they come. On close the live frame gives way to the
// full report, and warnings follow as the plain renderer prints them.
import { render, renderToString } from 'ink';
import type { ProgressEvent, Warning } from '../../builder/engine.js';
import { formatBuildWarnings } from '../warnings.js';
import type { EarlyProgress, Renderer } from '../progress.js';
import { initialState, reduce } from './state.js';
import { LiveView, Report } from './view.js';

const FPS = 10;

/**
 * ink restores the terminal through signal-exit, whose handler kills the process when it finds no
 * other listener for the signal; added after cmd/main.ts's handler, it would not see that one (a
 * `once`, already removed) and end the process before the build is cancelled. Moved first, it sees
 * it and leaves the signal to it; a second Ctrl-C still ends the process with the terminal restored.
 */
function signalHandlersFirst<T>(fn: () => T): T {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, process.listeners(s)]));
  const out = fn();
  for (const s of signals) {
    for (const l of process.listeners(s).filter((l) => !before.get(s)!.includes(l))) {
      process.removeListener(s, l);
      process.prependListener(s, l);
    }
  }
  return out;
}

export function ttyRenderer(out: NodeJS.WriteStream, early?: EarlyProgress): Renderer {
  let state = early?.state ?? initialState(Date.now());
  const warnings: Warning[] = [...(early?.warnings ?? [])];
  // https://no-color.org: set and not empty.
  const color = !process.env.NO_COLOR;
  const frame = () => <LiveView state={state} now={Date.now()} columns={out.columns || 80} rows={out.rows || 24} color={color} />;
  const ink = signalHandlersFirst(() => render(frame(), { stdout: out, stderr: out, exitOnCtrlC: false, patchConsole: false, maxFps: FPS }));
  const timer = setInterval(() => ink.rerender(frame()), 1000 / FPS);
  // The build keeps the process alive, not the redraws.
  timer.unref();
  return {
    sink: (e: ProgressEvent) => {
      if (e.type === 'warning') warnings.push(e.warning);
      else state = reduce(state, e, Date.now());
    },
    close: () => {
      clearInterval(timer);
      // An empty last frame erases the live one, and unmounting shows the cursor again. ink ends
      // that frame with a newline: the report starts back on its line (cursor up).
      ink.rerender(null);
      ink.unmount();
      out.write(`\x1b[1A${renderToString(<Report state={state} now={Date.now()} color={color} />, { columns: out.columns || 80 })}\n`);
      out.write(formatBuildWarnings(warnings));
    },
  };
}
