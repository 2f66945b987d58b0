// --progress=tty in a real terminal (tmux): what a build shows while it runs and after, on a
// resize, with NO_COLOR, and Ctrl-C: the build is cancelled (exit 130), its container killed, the
// terminal given back (cursor shown, not left in raw mode).
import test from 'ava';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { copyDir, makeContext, sharedDir, storeWithBusybox } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';
import { Terminal } from '../helpers/terminal.js';

let store: Promise<string> | undefined;
const cleanups: string[] = [];
test.after.always(() => {
  for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
});

async function context(files: Record<string, string>): Promise<string> {
  const dir = makeContext(files);
  cleanups.push(dir);
  return dir;
}

/** A terminal running `tsbuild build ARGS` (no --progress: a terminal makes auto pick tty). */
async function terminal(t: { teardown: (fn: () => void) => void }, args: string[], opts: { width?: number; height?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Terminal> {
  store ??= storeWithBusybox().then((root) => (cleanups.push(root), root));
  const term = new Terminal(['build', ...args], { width: opts.width ?? 100, height: opts.height ?? 30, env: { TSBUILD_ROOT: await store, ...opts.env } });
  t.teardown(() => term.close());
  return term;
}

const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
// Foreground colours as tmux writes them (39 is the default colour, not one).
const COLOUR = /\x1b\[(?:[\d;]*;)?(?:3[0-7]|9[0-7]|38)(?:;[\d;]*)?m/;

test('a build shows its steps live with their output, then the report; a second build shows them CACHED', async (t) => {
  const ctx = await context({ Dockerfile: 'FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick $i; sleep 0.25; done\nCOPY a /a\n', a: 'A' });
  const term = await terminal(t, ['-t', 'tty:1', ctx]);
  const live = await term.waitFor(/tick 3/);
  t.regex(live, /^\[\+\] Building \d+\.\ds \(\d\/\d\)$/m);
  t.regex(live, new RegExp(`${SPINNER.source} \\[2/3\\] RUN for i in .* +\\d+\\.\\ds\\n {3}tick 1\\n {3}tick 2\\n {3}tick 3`));
  t.false(term.cursorVisible(), 'ink hides the cursor while it draws');
  const done = await term.waitFor(/EXIT=\d+/);
  t.regex(done, /^\[\+\] Building \d+\.\ds \((\d+)\/\1\) FINISHED$/m);
  t.is(done.split('\n')[0], done.split('\n').find((l) => l.startsWith('[+]')), 'the report starts where the live view was');
  t.regex(done, /=> \[1\/3\] FROM busybox:latest +DONE \d+\.\ds/);
  t.regex(done, /=> \[2\/3\] RUN for i in .* +DONE [23]\.\ds/);
  t.regex(done, /=> \[3\/3\] COPY a \/a +DONE \d+\.\ds/);
  t.regex(done, /cache hits: 0\/3 steps\nslowest steps:\n +[23]\.\ds {2}\[2\/3\] RUN for i/);
  t.regex(done, /writing image sha256:[a-f0-9]{64} as tty:1\nEXIT=0\n/);
  t.false(SPINNER.test(done), 'no live frame is left behind');
  t.regex(term.screen({ escapes: true }), COLOUR);
  t.true(term.cursorVisible());

  const again = await terminal(t, ['-t', 'tty:1', ctx], { env: { NO_COLOR: '1' } });
  const cached = await again.waitFor(/EXIT=\d+/);
  t.regex(cached, /=> \[2\/3\] RUN for i in .* +CACHED/);
  t.regex(cached, /cache hits: 3\/3 steps/);
  t.notRegex(again.screen({ escapes: true }), COLOUR, 'NO_COLOR: no colours');
});

test('thousands of lines a second: the view keeps up and stays in its rows; it follows a resize', async (t) => {
  const ctx = await context({ Dockerfile: `FROM busybox\nRUN seq 1 300000; sleep 2; echo ${Math.random()}\n` });
  const term = await terminal(t, [ctx], { width: 100, height: 20 });
  const live = await term.waitFor(/ {3}300000\n/);
  t.deepEqual(live.split('\n').filter((l) => /^ {3}\d+$/.test(l)).map((l) => l.trim()), ['299995', '299996', '299997', '299998', '299999', '300000']);
  term.resize(60, 20);
  await sleep(500);
  const narrow = term.screen();
  t.true(narrow.split('\n').every((l) => l.length <= 60), narrow);
  t.regex(narrow, new RegExp(`${SPINNER.source} \\[2/2\\] RUN seq 1 300000.*… +\\d+\\.\\ds`));
  const done = await term.waitFor(/EXIT=\d+/);
  t.regex(done, /EXIT=0/);
  t.regex(done, /=> \[2\/2\] RUN seq .* +DONE \d+\.\ds/);
});

test('Ctrl-C cancels the build: exit 130, no container left, cursor shown, no raw mode left', async (t) => {
  const marker = `30.${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}1`;
  const term = await terminal(t, [await context({ Dockerfile: `FROM busybox\nRUN echo started && sleep ${marker}\n` })]);
  await term.waitFor(/ {3}started/);
  const deadline = Date.now() + 20_000;
  while (processesWith(`sleep ${marker}`).length === 0 && Date.now() < deadline) await sleep(50);
  t.not(processesWith(`sleep ${marker}`).length, 0, 'the RUN is running');
  term.keys('C-c');
  const after = await term.waitFor(/STTY=.*\./, 20_000);
  t.regex(after, /EXIT=130\n/);
  t.regex(after, /\[\+\] Building \d+\.\ds \(\d\/\d\) FAILED/);
  t.regex(after, /=> \[2\/2\] RUN echo started .* +ERROR \d+\.\ds/);
  t.regex(after, /ERROR: failed to solve: build cancelled/);
  const settings = /STTY=(.*)\./.exec(after)![1]!.trim().split(' ').sort();
  t.deepEqual(settings, ['echo', 'icanon', 'isig'], 'the terminal is not left in raw mode');
  t.true(term.cursorVisible(), 'the cursor is shown again');
  const gone = Date.now() + 5_000;
  while (processesWith(`sleep ${marker}`).length > 0 && Date.now() < gone) await sleep(50);
  t.deepEqual(processesWith(`sleep ${marker}`), [], 'the container process died with the build');
});

test('w3: the three parallel steps run at once with their output while the last stage waits; CACHED on the rebuild; a changed step explained', async (t) => {
  // ../shared/bench/w3-parallel, its branch steps also printing as they start (w3's own print nothing to watch).
  const ctx = copyDir(path.join(sharedDir, 'bench', 'w3-parallel'));
  cleanups.push(ctx);
  const dockerfile = path.join(ctx, 'Dockerfile');
  writeFileSync(dockerfile, readFileSync(dockerfile, 'utf8').replace(/RUN sleep 2 && echo (\w) > /g, 'RUN echo $1 started && sleep 2 && echo $1 > '));
  const term = await terminal(t, ['-t', 'w3:tty', ctx], { height: 40 });
  const branch = (s: string): RegExp => new RegExp(`${SPINNER.source} \\[${s} 2/2\\] RUN echo ${s} started .* +\\d+\\.\\ds\\n {3}${s} started\\n`);
  // All three running on one screen, in whatever order they started.
  const live = await term.waitFor(new RegExp(`^${['a', 'b', 'c'].map((s) => `(?=[^]*${branch(s).source})`).join('')}`));
  for (const s of ['a', 'b', 'c']) t.regex(live, branch(s));
  t.regex(live, /=> \[stage-5 2\/5\] COPY --from=a \/a \/out\/a +WAITING/);
  t.regex(live, /=> \[stage-5 5\/5\] RUN cat \/out\/\* +WAITING/);
  t.notRegex(live, /RUN sleep 5/, 'the unused stage is not built');
  const done = await term.waitFor(/EXIT=\d+/);
  t.regex(done, /EXIT=0\n/);
  t.regex(done, /cache hits: 0\/\d+ steps/);
  t.notRegex(done, /cache miss/, 'the first build has nothing to compare with');

  const again = await terminal(t, ['-t', 'w3:tty', ctx], { height: 40 });
  const cached = await again.waitFor(/EXIT=\d+/);
  for (const s of ['a', 'b', 'c']) t.regex(cached, new RegExp(`=> \\[${s} 2/2\\] RUN echo ${s} started .* +CACHED`));
  t.regex(cached, /=> \[stage-5 5\/5\] RUN cat \/out\/\* +CACHED/);
  t.regex(cached, /cache hits: (\d+)\/\1 steps/);

  // One file of the context changes: its Dockerfile (w3 copies nothing else from it), one branch's step.
  writeFileSync(dockerfile, readFileSync(dockerfile, 'utf8').replace('echo b > /b', 'echo b2 > /b'));
  const changed = await terminal(t, ['-t', 'w3:tty', ctx], { height: 40 });
  const report = await changed.waitFor(/EXIT=\d+/);
  t.regex(report, /=> \[a 2\/2\] RUN echo a started .* +CACHED/);
  t.regex(report, /=> \[b 2\/2\] RUN echo b started && sleep 2 && echo b2 > \/b +DONE \d+\.\ds\n {3}cache miss: the instruction changed\n/);
  t.regex(report, /=> \[stage-5 3\/5\] COPY --from=b \/b \/out\/b +DONE \d+\.\ds\n {3}cache miss: parent step \[b 2\/2\] RUN echo b started && sleep 2 && echo b2 > \/b changed\n/);
  t.regex(report, /EXIT=0\n/);
});
