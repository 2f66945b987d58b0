// `npm run fuzz -- [--minutes N] [--target frontend|tar] [--seed S] [--no-save]`: the long fuzz run by hand.
// Time is split evenly between the targets; each new crash kind is saved into
// test/fuzz/corpus/<target>/ (where fuzz.test.ts replays it) and printed with its error.
import { parseArgs } from 'node:util';
import { fuzz, saveCrash } from './engine.js';
import { targets } from './targets.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    target: { type: 'string' },
    seed: { type: 'string' },
    'no-save': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, not ${values.minutes}`);
const chosen = values.target === undefined ? Object.values(targets) : [targets[values.target as keyof typeof targets]];
if (chosen.some((t) => t === undefined)) throw new Error(`--target is one of ${Object.keys(targets).join(', ')}`);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed);

let failed = false;
for (const target of chosen) {
  process.stdout.write(`fuzz ${target.name}: seed ${seed}, ${(minutes / chosen.length).toFixed(1)} min\n`);
  const stats = await fuzz(target, {
    seed,
    durationMs: (minutes * 60_000) / chosen.length,
    onCrash: (c) => {
      const where = !values['no-save'] ? saveCrash(target.name, c.input) : '(not saved)';
      process.stdout.write(`  CRASH ${c.signature}\n    input: ${where}\n    ${String((c.error as Error)?.stack ?? c.error).split('\n').slice(0, 4).join('\n    ')}\n`);
    },
  });
  failed ||= stats.crashes.length > 0;
  if (stats.slowest && stats.slowest.ms >= 2000) {
    const where = !values['no-save'] ? saveCrash(target.name, stats.slowest.input, 'slow') : '(not saved)';
    process.stdout.write(`  slowest input: ${stats.slowest.ms} ms, ${where}\n`);
  }
  process.stdout.write(`  ${stats.runs} runs (${Math.round(stats.runs / (stats.ms / 1000))}/s): ${stats.ok} ok, ${stats.refused} refused as user errors, ${stats.crashes.length} crash kinds\n`);
}
process.exitCode = failed ? 1 : 0;
