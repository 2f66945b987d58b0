// The TTY view's reducer: events in, step states out.
import test from 'ava';
import type { ProgressEvent } from '../../../builder/engine.js';
import { initialState, KEPT_LINES, liveOrder, reduce, summarize, tail } from '../../../cmd/tui/state.js';
import { done, fold, log, start } from './events.js';

test('steps go from running to done, cached or error, in the order they appeared', (t) => {
  const s = fold([
    start('v1', '[1/3] FROM busybox'),
    { type: 'vertex-cached', id: 'v2', name: '[2/3] RUN a' },
    start('v3', '[3/3] RUN b', 1500),
    done('v1', 20),
    { type: 'vertex-error', id: 'v3', message: 'exit code 3', duration: 700, error: { code: 'TSB_RUN_FAILED', kind: 'user', message: 'exit code 3' } },
  ]);
  t.deepEqual(
    [...s.steps.values()].map((x) => [x.id, x.name, x.status, x.duration, x.error]),
    [
      ['v1', '[1/3] FROM busybox', 'done', 20, undefined],
      ['v2', '[2/3] RUN a', 'cached', undefined, undefined],
      ['v3', '[3/3] RUN b', 'error', 700, 'exit code 3'],
    ],
  );
  t.is(s.steps.get('v3')!.started, 1500);
});

test('the reducer leaves the state it was given as it was', (t) => {
  const before = fold([start('v1', 'x'), log('v1', 'a\n')]);
  const after = reduce(before, log('v1', 'b\n'), 0);
  t.deepEqual(before.steps.get('v1')!.lines, ['a']);
  t.deepEqual(after.steps.get('v1')!.lines, ['a', 'b']);
});

test('output is split into lines across chunks; what has no newline yet shows as the last line and ends the step as one', (t) => {
  let s = fold([start('v1', 'x'), log('v1', 'one\ntw'), log('v1', 'o\nthr')]);
  t.deepEqual(tail(s.steps.get('v1')!, 5), ['one', 'two', 'thr']);
  s = reduce(s, done('v1', 1), 0);
  t.deepEqual(s.steps.get('v1')!.lines, ['one', 'two', 'thr']);
  t.is(s.steps.get('v1')!.partial, '');
  t.deepEqual(tail(s.steps.get('v1')!, 2), ['two', 'thr']);
  t.deepEqual(tail(s.steps.get('v1')!, 0), []);
});

test('a step printing thousands of lines keeps only the last ones, and a line without end is cut', (t) => {
  const chunks = Array.from({ length: 200 }, (_, c) => log('v1', Array.from({ length: 50 }, (_, i) => `line ${c * 50 + i}\n`).join('')));
  const s = fold([start('v1', 'x'), ...chunks, log('v1', 'y'.repeat(100_000))]).steps.get('v1')!;
  t.is(s.lines.length, KEPT_LINES);
  t.is(s.lines.at(-1), 'line 9999');
  t.is(s.partial.length, 1024);
});

test('lines show as a terminal would: \\r redraws, \\r\\n ends, escapes and control characters go', (t) => {
  const s = fold([start('v1', 'x'), log('v1', ' 10%\r 50%\r100%\nwin\r'), log('v1', '\n\x1b[31mred\x1b[0m \x1b]0;title\x07bell\x07\ttab\n')]).steps.get('v1')!;
  t.deepEqual(s.lines, ['100%', 'win', 'red bell    tab']);
});

test('transfers update in place under their step, keeping when they began', (t) => {
  const tr = (current: number, state: 'running' | 'done'): ProgressEvent => ({ type: 'transfer', id: 'pull', digest: 'sha256:aa', current, total: 100, state });
  let s = reduce(reduce(initialState(0), start('pull', '[internal] load metadata'), 0), tr(10, 'running'), 1000);
  s = reduce(s, tr(100, 'done'), 3000);
  t.deepEqual(s.steps.get('pull')!.transfers, [{ digest: 'sha256:aa', current: 100, total: 100, state: 'done', since: 1000, at: 3000 }]);
});

test('events of a step never started still show, under its id', (t) => {
  t.is(fold([log('v9', 'hi\n')]).steps.get('v9')!.name, 'v9');
});

test('cache hits count the Dockerfile steps only; the slowest are the steps that ran, longest first', (t) => {
  const s = fold([
    start('definition', '[internal] load build definition from Dockerfile'),
    done('definition', 900),
    { type: 'vertex-cached', id: 'v1', name: '[1/4] FROM busybox' },
    { type: 'vertex-cached', id: 'v2', name: '[2/4] RUN a' },
    start('v3', '[3/4] RUN b'),
    done('v3', 300),
    start('v4', '[4/4] COPY c /c'),
    done('v4', 2000),
    start('export', 'exporting to image'),
    done('export', 5000),
  ]);
  const sum = summarize(s);
  t.is(sum.cached, 2);
  t.is(sum.steps, 4);
  t.deepEqual(sum.slowest.map((x) => x.id), ['v4', 'v3']);
});

test('a waiting step moves to where it starts; the live order puts the waiting ones last, in the Dockerfile order', (t) => {
  const s = fold([
    { type: 'vertex-queued', id: 'v9', name: '[3/3] RUN last', time: 0 },
    { type: 'vertex-queued', id: 'v8', name: '[2/3] COPY x', time: 0 },
    start('v1', '[1/3] FROM busybox'),
  ]);
  t.deepEqual(liveOrder(s).map((x) => [x.id, x.status]), [['v1', 'running'], ['v8', 'waiting'], ['v9', 'waiting']]);
  const later = reduce(s, start('v8', '[2/3] COPY x'), 0);
  t.deepEqual([...later.steps.keys()], ['v9', 'v1', 'v8']);
  t.deepEqual(liveOrder(later).map((x) => x.id), ['v1', 'v8', 'v9']);
});
