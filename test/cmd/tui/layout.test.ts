// Fitting the live frame to the terminal's height.
import test from 'ava';
import type { ProgressEvent } from '../../../builder/engine.js';
import { layout } from '../../../cmd/tui/layout.js';
import { done, fold, log, start } from './events.js';

test('layout: finished steps give way, oldest first, and running steps share the rows left for their output', (t) => {
  const events: ProgressEvent[] = [];
  for (let i = 1; i <= 20; i++) events.push(start(`v${i}`, `[${i}/22] RUN ${i}`), done(`v${i}`, 10));
  events.push(start('a', '[21/22] RUN a'), start('b', '[22/22] RUN b'));
  for (let i = 0; i < 20; i++) events.push(log('a', `a${i}\n`), log('b', `b${i}\n`));
  const steps = [...fold(events).steps.values()];
  const l = layout(steps, 30, 6);
  // 28 rows below the header: 6 output rows for each running step, 1 "more finished" row, 15 steps.
  t.is(l.hidden, 7);
  t.is(l.placed[0]!.step.id, 'v8');
  t.deepEqual(l.placed.at(-2)!.lines, ['a14', 'a15', 'a16', 'a17', 'a18', 'a19']);
  t.deepEqual(l.placed.at(-1)!.lines, ['b14', 'b15', 'b16', 'b17', 'b18', 'b19']);
  t.is(l.placed.length + 1 + 12, 28);
  t.deepEqual(layout(steps.slice(-3), 30, 6).placed.map((p) => p.lines.length), [0, 6, 6]);
  // A terminal too short for the running steps keeps them anyway, without output.
  t.deepEqual(layout(steps, 3, 6).placed.map((p) => [p.step.id, p.lines.length]), [['a', 0], ['b', 0]]);
});

test('layout: a cache-miss line takes a row; finished steps give way before waiting ones', (t) => {
  const events: ProgressEvent[] = [start('d1', '[1/5] RUN d1'), done('d1', 10), start('d2', '[2/5] RUN d2'), done('d2', 10), { type: 'vertex-queued', id: 'w', name: '[5/5] RUN w', time: 0 }];
  events.push({ type: 'vertex-start', id: 'r', name: '[3/5] RUN r', time: 0, cacheMiss: { reasons: [{ kind: 'no-cache' }] } });
  for (let i = 0; i < 10; i++) events.push(log('r', `r${i}\n`));
  const steps = [...fold(events).steps.values()];
  // 10 rows below the header: r's 6 lines of output, r, its miss line, w, and the "more finished" row.
  const l = layout(steps, 12, 6);
  t.is(l.hidden, 2);
  t.deepEqual(l.placed.map((p) => p.step.id), ['w', 'r']);
  t.deepEqual(l.placed[1]!.lines, ['r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
  // Without the miss line's row, every step would have fitted.
  t.is(layout(steps.map((s) => ({ ...s, cacheMiss: undefined })) as typeof steps, 12, 6).hidden, 0);
});
