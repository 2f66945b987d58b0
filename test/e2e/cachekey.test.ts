// The cache-key rules as a user sees them through the CLI: what does not change a step's result
// keeps it CACHED, what does reruns it (test/builder/cachekey.test.ts has the rules one by one).
import test from 'ava';
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, storeWithBusybox, tsbuildOk } from '../helpers/cli.js';

test('a LABEL change and a touched file stay CACHED; a content change reruns COPY and what follows', async (t) => {
  const root = await storeWithBusybox();
  const dockerfile = (label: string): string => `FROM busybox\nLABEL v=${label}\nCOPY src/ /app/\nRUN cat /app/* > /all\n`;
  const ctx = makeContext({ Dockerfile: dockerfile('1'), 'src/a': 'one\n', 'src/b': 'two\n', notes: 'outside src/\n' });
  /** The COPY and RUN steps a build ran (the others it found cached). */
  const build = async (): Promise<{ ran: string[]; cached: string[] }> => {
    const events = jsonEvents((await tsbuildOk(['build', '--progress=json', '-t', 'cache:1', ctx], { root })).stderr);
    const steps = (type: string): string[] => events.filter((e) => e.type === type && /\] (COPY|RUN) /.test(e.name ?? '')).map((e) => e.name!.split(' ')[1]!);
    return { ran: steps('vertex-start'), cached: steps('vertex-cached') };
  };
  const allCached = { ran: [], cached: ['COPY', 'RUN'] };

  t.deepEqual(await build(), { ran: ['COPY', 'RUN'], cached: [] });

  writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile('2'));
  t.deepEqual(await build(), allCached, 'LABEL is metadata only');
  t.deepEqual(JSON.parse((await tsbuildOk(['inspect', 'cache:1'], { root })).stdout).config.Labels, { v: '2' });

  utimesSync(path.join(ctx, 'src', 'a'), 1_000_000, 1_000_000);
  t.deepEqual(await build(), allCached, 'a new mtime with the same content');

  writeFileSync(path.join(ctx, 'notes'), 'changed, but not copied\n');
  t.deepEqual(await build(), allCached, 'a file outside the COPY selection');

  writeFileSync(path.join(ctx, 'src', 'a'), 'ONE\n');
  t.deepEqual(await build(), { ran: ['COPY', 'RUN'], cached: [] }, 'new content');
  t.is((await tsbuildOk(['run', 'cache:1', 'cat', '/all'], { root })).stdout, 'ONE\ntwo\n');
});
