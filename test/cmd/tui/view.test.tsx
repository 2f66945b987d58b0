/** @jsxRuntime automatic */
// (tsx applies tsconfig.json, and its jsx setting, only to the folders it includes, which test/ is not.)
// The TTY view's frames, rendered with ink-testing-library (100 columns, no colour as its output is
// no terminal) and ink's renderToString for other widths. Colour and NO_COLOR: test/e2e/tty.test.ts.
import test from 'ava';
import { renderToString } from 'ink';
import { render } from 'ink-testing-library';
import type { ProgressEvent } from '../../../builder/engine.js';
import { LiveView, Report } from '../../../cmd/tui/view.js';
import { done, fold, log, start } from './events.js';

const events: ProgressEvent[] = [
  start('definition', '[internal] load build definition from Dockerfile', 0),
  done('definition', 10),
  { type: 'vertex-cached', id: 'v1', name: '[1/3] FROM busybox:latest' },
  start('v2', '[2/3] RUN make all', 1000),
  ...Array.from({ length: 20 }, (_, i) => log('v2', `compiling ${i}\n`)),
  start('v3', '[3/3] RUN curl -o /x https://example.invalid/x', 2000),
  { type: 'transfer', id: 'v3', digest: 'sha256:0123456789abcdef0123', current: 2_500_000, total: 10_000_000, state: 'running' },
];

test('live: header with elapsed time, a row per step with its state, the last lines and transfer bars of running steps', (t) => {
  const { lastFrame, unmount } = render(<LiveView state={fold(events)} now={4000} columns={100} rows={30} color={false} />);
  const frame = lastFrame()!;
  unmount();
  const lines = frame.split('\n');
  t.is(lines[0], '[+] Building 4.0s (2/4)');
  t.regex(frame, /=> \[internal\] load build definition from Dockerfile +DONE 0\.0s/);
  t.regex(frame, /=> \[1\/3\] FROM busybox:latest +CACHED/);
  t.regex(frame, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \[2\/3\] RUN make all +3\.0s/);
  // The last LIVE_LINES lines of output, indented under their step.
  t.deepEqual(lines.filter((l) => l.startsWith('   compiling')), ['   compiling 14', '   compiling 15', '   compiling 16', '   compiling 17', '   compiling 18', '   compiling 19']);
  t.regex(frame, / {3}0123456789ab \[=+ +\] 2\.5MB \/ 10\.0MB/);
  t.true(lines.every((l) => l.length <= 100), 'no line is wider than the terminal');
});

test('live: a narrow terminal cuts step names and output, keeping the state column', (t) => {
  const lines = renderToString(<LiveView state={fold(events)} now={4000} columns={40} rows={30} color={false} />, { columns: 40 }).split('\n');
  t.true(lines.every((l) => l.length <= 40), lines.join('\n'));
  t.regex(lines.find((l) => l.includes('[1/3]'))!, /^=> \[1\/3\] FROM busybox:latest +CACHED$/);
  t.regex(lines.find((l) => l.includes('[3/3]'))!, /… +2\.0s$/);
});

test('report: every step with its final state, the cache hits and the slowest steps; steps cut short show as CANCELED', (t) => {
  const failed = fold([...events, done('v2', 3000), { type: 'vertex-error', id: 'v3', message: 'cancelled', duration: 1500, error: { code: 'TSB_CANCELLED', kind: 'user', message: 'build cancelled' } }, start('v4', '[internal] load metadata for other', 3000)]);
  const { lastFrame, unmount } = render(<Report state={failed} now={5000} color={false} />);
  const frame = lastFrame()!;
  unmount();
  t.is(frame.split('\n')[0], '[+] Building 5.0s (4/5) FAILED');
  t.regex(frame, /=> \[2\/3\] RUN make all +DONE 3\.0s/);
  t.regex(frame, /=> \[3\/3\] RUN curl .* +ERROR 1\.5s/);
  t.regex(frame, /=> \[internal\] load metadata for other +CANCELED/);
  t.regex(frame, /cache hits: 1\/3 steps/);
  t.regex(frame, /slowest steps:\n +3\.0s {2}\[2\/3\] RUN make all\n +1\.5s {2}\[3\/3\] RUN curl/);
  t.false(frame.includes('compiling'), 'the report leaves output to the error report');
});

test('report of a build that went well says FINISHED', (t) => {
  const { lastFrame, unmount } = render(<Report state={fold(events.slice(0, 3))} now={100} color={false} />);
  t.teardown(unmount);
  t.is(lastFrame()!.split('\n')[0], '[+] Building 0.1s (2/2) FINISHED');
});

test('a step queued behind its inputs shows WAITING, then runs; a cache miss is explained under its row', (t) => {
  const queued: ProgressEvent[] = [
    start('v2', '[a 2/2] RUN sleep 2', 1000),
    { type: 'vertex-queued', id: 'v5', name: '[stage-4 2/4] COPY --from=a /a /out/a', time: 1000 },
    { type: 'vertex-start', id: 'v3', name: '[b 2/2] RUN sleep 2 && echo b2', time: 1000, cacheMiss: { reasons: [{ kind: 'instruction' }] } },
  ];
  const live = render(<LiveView state={fold(queued)} now={2000} columns={100} rows={30} color={false} />);
  const frame = live.lastFrame()!;
  live.unmount();
  t.regex(frame, /^\[\+\] Building 2\.0s \(0\/3\)$/m, 'a waiting step is not finished');
  t.regex(frame, /=> \[stage-4 2\/4\] COPY --from=a \/a \/out\/a +WAITING/);
  t.regex(frame, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \[b 2\/2\] RUN sleep 2 && echo b2 +1\.0s\n {3}cache miss: the instruction changed/);
  const later = fold([...queued, start('v5', '[stage-4 2/4] COPY --from=a /a /out/a', 3000)]);
  t.is(later.steps.get('v5')!.status, 'running');
  const report = render(<Report state={fold([...queued, done('v3', 2000)])} now={5000} color={false} />);
  const end = report.lastFrame()!;
  report.unmount();
  t.regex(end, /=> \[b 2\/2\] RUN sleep 2 && echo b2 +DONE 2\.0s\n {3}cache miss: the instruction changed/);
  t.regex(end, /=> \[stage-4 2\/4\] COPY --from=a \/a \/out\/a +CANCELED/, 'still waiting when the build ended');
});
