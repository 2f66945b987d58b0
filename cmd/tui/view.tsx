// How --progress=tty looks, in buildx's manner: a header with the elapsed time, a row per step with
// its state, the last output lines and transfer bars of running steps, fitted to the terminal; and
// the report left on the screen when the build ends (every step, cache hits, the slowest steps).
import { Box, Text } from 'ink';
import { megabytes, seconds, transferOutcome } from '../progress.js';
import { layout } from './layout.js';
import { liveOrder, summarize, type BuildState, type StepState, type TransferState } from './state.js';

/** Output lines shown under a running step, at most. */
export const LIVE_LINES = 6;
const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
const SPINNER_MS = 100;

/** Colour only where allowed (NO_COLOR): the words say the state either way. */
interface Paint {
  (color: string): { color?: string };
  dim: { dimColor?: boolean };
}

function paint(enabled: boolean): Paint {
  return Object.assign((color: string) => (enabled ? { color } : {}), { dim: enabled ? { dimColor: true } : {} });
}

function Header({ state, now, final, p }: { state: BuildState; now: number; final: boolean; p: Paint }) {
  const steps = [...state.steps.values()];
  const finished = steps.filter((s) => s.status !== 'running' && s.status !== 'waiting').length;
  const failed = steps.some((s) => s.status !== 'done' && s.status !== 'cached');
  return (
    <Text bold>
      [+] Building {seconds(now - state.started)} ({finished}/{steps.length}){final ? <Text {...p(failed ? 'red' : 'green')}>{failed ? ' FAILED' : ' FINISHED'}</Text> : null}
    </Text>
  );
}

/** The state column; a step still running or waiting when the build ended was cancelled. */
function status(s: StepState, now: number, final: boolean): { text: string; color: string } {
  switch (s.status) {
    case 'waiting':
      return final ? { text: 'CANCELED', color: 'yellow' } : { text: 'WAITING', color: 'gray' };
    case 'cached':
      return { text: 'CACHED', color: 'blue' };
    case 'done':
      return { text: `DONE ${seconds(s.duration ?? 0)}`, color: 'green' };
    case 'error':
      return { text: `ERROR ${seconds(s.duration ?? 0)}`, color: 'red' };
    case 'running':
      return final ? { text: 'CANCELED', color: 'yellow' } : { text: seconds(now - (s.started ?? now)), color: 'cyan' };
  }
}

function StepRow({ step, now, final, p }: { step: StepState; now: number; final: boolean; p: Paint }) {
  const st = status(step, now, final);
  const mark = step.status === 'running' && !final ? SPINNER[Math.floor(now / SPINNER_MS) % SPINNER.length] : '=>';
  return (
    <Box>
      <Box flexGrow={1} flexShrink={1}>
        <Text wrap="truncate-end">
          <Text {...p(st.color)}>{mark}</Text> {step.name}
        </Text>
      </Box>
      <Box flexShrink={0} marginLeft={1}>
        <Text {...p(st.color)}>{st.text}</Text>
      </Box>
    </Box>
  );
}

/** Why the step runs, under its row (the row itself is often cut at the terminal's width). */
function MissRow({ step, p }: { step: StepState; p: Paint }) {
  return step.cacheMiss ? (
    <Text wrap="truncate-end" {...p('yellow')}>
      {'   '}cache miss: {step.cacheMiss}
    </Text>
  ) : null;
}

function bar(t: TransferState, width: number): string {
  const filled = t.total > 0 ? Math.min(width, Math.round((width * t.current) / t.total)) : 0;
  return `[${'='.repeat(filled)}${' '.repeat(width - filled)}]`;
}

/** Average speed since the blob's first event; none until it has moved for a moment. */
function speed(t: TransferState): string {
  const ms = t.at - t.since;
  return ms < 200 ? '' : ` ${megabytes((t.current * 1000) / ms)}/s`;
}

function TransferRow({ t, columns, p }: { t: TransferState; columns: number; p: Paint }) {
  const digest = t.digest.replace(/^sha256:/, '').slice(0, 12);
  const text = t.state === 'running' ? `${bar(t, Math.max(10, Math.min(30, columns - 60)))} ${megabytes(t.current)} / ${megabytes(t.total)}${speed(t)}` : transferOutcome({ state: t.state, total: t.total });
  return (
    <Text wrap="truncate-end" {...p.dim}>
      {'   '}
      {digest} {text}
    </Text>
  );
}

export interface LiveProps {
  state: BuildState;
  now: number;
  columns: number;
  rows: number;
  color: boolean;
}

/** The frame redrawn while the build runs. */
export function LiveView({ state, now, columns, rows, color }: LiveProps) {
  const p = paint(color);
  const { hidden, placed } = layout(liveOrder(state), rows, LIVE_LINES);
  return (
    <Box flexDirection="column">
      <Header state={state} now={now} final={false} p={p} />
      {hidden > 0 ? <Text {...p.dim}>{'=>'} … {hidden} more finished</Text> : null}
      {placed.map(({ step, transfers, lines }) => (
        <Box key={step.id} flexDirection="column">
          <StepRow step={step} now={now} final={false} p={p} />
          <MissRow step={step} p={p} />
          {transfers.map((t) => (
            <TransferRow key={t.digest} t={t} columns={columns} p={p} />
          ))}
          {lines.map((l, i) => (
            <Text key={i} wrap="truncate-end" {...p.dim}>
              {'   '}
              {l}
            </Text>
          ))}
        </Box>
      ))}
    </Box>
  );
}

/** What stays on the screen after the build: every step, then cache hits and the slowest steps. */
export function Report({ state, now, color }: { state: BuildState; now: number; color: boolean }) {
  const p = paint(color);
  const sum = summarize(state);
  return (
    <Box flexDirection="column">
      <Header state={state} now={now} final p={p} />
      {[...state.steps.values()].map((step) => (
        <Box key={step.id} flexDirection="column">
          <StepRow step={step} now={now} final p={p} />
          <MissRow step={step} p={p} />
        </Box>
      ))}
      {sum.steps > 0 ? (
        <Text>
          cache hits: {sum.cached}/{sum.steps} steps
        </Text>
      ) : null}
      {sum.slowest.length > 0 ? <Text>slowest steps:</Text> : null}
      {sum.slowest.map((s) => (
        <Text key={s.id} wrap="truncate-end">
          {`${seconds(s.duration ?? 0).padStart(8)}  ${s.name}`}
        </Text>
      ))}
    </Box>
  );
}
