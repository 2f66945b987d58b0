// Fuzzing in `npm test`, bounded in time: the saved crashes replayed, then each target on mutated
// inputs for a few seconds from a fixed seed and from a random one (printed, to replay a failure with
// `npm run fuzz -- --seed S --target T`). Any outcome but a result or a user error fails.
import test from 'ava';
import { fuzz, loadCorpus, type FuzzStats } from './engine.js';
import { targets, type Target } from './targets.js';

const SECONDS_PER_RUN = 5;

for (const target of Object.values(targets) as Target[]) {
  test(`${target.name}: every saved crash input now gives a result or a user error`, async (t) => {
    const corpus = loadCorpus(target.name);
    t.true(corpus.size > 0, `test/fuzz/corpus/${target.name} has inputs`);
    for (const [name, input] of corpus) {
      await t.notThrowsAsync(target.run(input), `${target.name}/${name}`);
    }
  });

  for (const [label, seed] of [['a fixed seed', 1], ['a random seed', Math.floor(Math.random() * 2 ** 32)]] as const) {
    test(`${target.name}: ${SECONDS_PER_RUN} s of mutated inputs from ${label} (${seed}) find no crash`, async (t) => {
      t.timeout((SECONDS_PER_RUN + 60) * 1000);
      const stats: FuzzStats = await fuzz(target, { seed, durationMs: SECONDS_PER_RUN * 1000 });
      t.log(`${stats.runs} runs: ${stats.ok} ok, ${stats.refused} refused`);
      t.true(stats.runs > 0);
      for (const c of stats.crashes) t.fail(`${c.signature}\ninput (base64): ${c.input.toString('base64').slice(0, 2000)}`);
      t.pass();
    });
  }
}
