// Garbage collection as BuildKit's: prune --keep-storage keeps the most recently used cache up to a
// size, --filter until= removes only what was last used before then, the two combine, a build that
// hits a record refreshes its last use, and a bounded cache is trimmed LRU at the end of a build
// (while a no-change rebuild writes nothing). Ages are made by moving records' mtimes back: the
// last use prune orders by.
import test from 'ava';
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeContext, storeWithBusybox, tsbuild, tsbuildOk } from '../helpers/cli.js';

const HOUR = 3_600_000;
/** Each build adds one RUN layer of 300 kB of random bytes: about 600 kB of cache (blob and snapshot). */
const contexts = Object.fromEntries(['A', 'B', 'C', 'D'].map((n) => [n, makeContext({ Dockerfile: `FROM busybox\nRUN head -c 300000 /dev/urandom > /x-${n}\n` })]));
const off = { TSBUILD_GC_KEEP_STORAGE: 'off' };

function recordFiles(root: string): string[] {
  return readdirSync(path.join(root, 'cache')).filter((n) => /^[a-f0-9]{64}\.json$/.test(n)).map((n) => path.join(root, 'cache', n));
}

/** Builds `name` and makes the records it added `ageMs` old. */
async function buildAged(root: string, name: string, ageMs: number, extra: string[] = [], env: NodeJS.ProcessEnv = off): Promise<void> {
  const before = new Set(recordFiles(root));
  await tsbuildOk(['build', '-q', ...extra, contexts[name]!], { root, env });
  const when = new Date(Date.now() - ageMs);
  for (const f of recordFiles(root)) if (!before.has(f)) utimesSync(f, when, when);
}

/** Whether building `name` again finds its RUN step cached. */
async function cached(root: string, name: string, extra: string[] = [], env: NodeJS.ProcessEnv = off): Promise<boolean> {
  const r = await tsbuildOk(['build', '--progress=plain', ...extra, contexts[name]!], { root, env });
  return new RegExp(`RUN head -c 300000 /dev/urandom > /x-${name}\\n#\\d+ CACHED`).test(r.stderr);
}

async function buildCacheBytes(root: string): Promise<number> {
  const du = (await tsbuildOk(['du'], { root })).stdout;
  const m = /build cache \(reclaimable\)\s+([\d.]+)(B|kB|MB)/.exec(du)!;
  return Number(m[1]) * { B: 1, kB: 1e3, MB: 1e6 }[m[2] as 'B' | 'kB' | 'MB'];
}

test('prune --keep-storage removes the least recently used cache first; a cache hit counts as a use', async (t) => {
  const root = await storeWithBusybox();
  await buildAged(root, 'A', 3 * HOUR);
  await buildAged(root, 'B', 2 * HOUR);
  await buildAged(root, 'C', 1 * HOUR);
  const aRecord = recordFiles(root).sort((x, y) => statSync(x).mtimeMs - statSync(y).mtimeMs)[0]!;
  // A is used again: it is now the most recently used, so B is the oldest.
  t.true(await cached(root, 'A'));
  t.true(Date.now() - statSync(aRecord).mtimeMs < 60_000, 'the hit refreshed the record\'s last use');
  const total = await buildCacheBytes(root);
  t.true(total > 1.7e6 && total < 2e6, `about three builds' worth: ${total}`);
  const r = await tsbuildOk(['prune', '--keep-storage', '1300k'], { root });
  t.regex(r.stdout, /Total reclaimed space: (5|6)\d\d\.\dkB/);
  t.true((await buildCacheBytes(root)) <= 1300 * 1024);
  t.true(await cached(root, 'A'));
  t.true(await cached(root, 'C'));
  t.false(await cached(root, 'B'));
});

test('prune --filter until= removes only what was last used before then, combines with --keep-storage, and keeps the cache of tagged images', async (t) => {
  const root = await storeWithBusybox();
  await buildAged(root, 'D', 10 * HOUR, ['-t', 'kept:1']);
  await buildAged(root, 'A', 3 * HOUR);
  await buildAged(root, 'B', 2 * HOUR);
  await buildAged(root, 'C', 0);
  // Only A is older than 150 minutes.
  await tsbuildOk(['prune', '--filter', 'until=2h30m'], { root });
  t.false(await cached(root, 'A'));
  // A is new again; of what is older than an hour (B), keep-storage 0 removes all, but nothing newer.
  await tsbuildOk(['prune', '--filter', 'until=1h', '--keep-storage', '0'], { root });
  t.false(await cached(root, 'B'));
  t.true(await cached(root, 'C'));
  t.true(await cached(root, 'A'));
  t.true(await cached(root, 'D', ['-t', 'kept:1']), 'a tagged image\'s layers stay, and so do the records of them, however old');
  const under = await tsbuildOk(['prune', '--keep-storage', '5GB', '--filter', 'until=24h'], { root });
  t.regex(under.stdout, /Total reclaimed space: 0B/, 'under the size: nothing to remove');
  const filter = await tsbuild(['prune', '--filter', 'type=regular'], { root });
  t.is(filter.code, 1);
  t.regex(filter.stderr, /unsupported prune filter "type=regular"/);
  const size = await tsbuild(['prune', '--keep-storage', 'lots'], { root });
  t.regex(size.stderr, /invalid size "lots" for --keep-storage/);
});

test('a bounded cache is trimmed LRU at the end of a build; a no-change rebuild writes nothing', async (t) => {
  const root = await storeWithBusybox();
  // The bound from the store's config file (the environment would override it).
  writeFileSync(path.join(root, 'tsbuild.json'), JSON.stringify({ gc: { keepStorage: '1300k' } }));
  const env = {};
  await buildAged(root, 'A', 3 * HOUR, [], env);
  await buildAged(root, 'B', 2 * HOUR, [], env);
  t.true((await buildCacheBytes(root)) > 1.1e6, 'under the bound: nothing trimmed yet');
  await buildAged(root, 'C', 0, [], env);
  t.true((await buildCacheBytes(root)) <= 1300 * 1024, 'the build that went over trimmed the cache');
  // A no-change rebuild of C: no record touched (fresh), no estimate written.
  const cacheDir = path.join(root, 'cache');
  const listing = (): string[] => readdirSync(cacheDir).map((n) => `${n} ${statSync(path.join(cacheDir, n)).mtimeMs}`).sort();
  const before = listing();
  t.true(await cached(root, 'C', [], env));
  t.deepEqual(listing(), before);
  t.true(await cached(root, 'B', [], env));
  t.false(await cached(root, 'A', [], env), 'the least recently used went');
  const bad = await tsbuild(['build', contexts.A!], { root, env: { TSBUILD_GC_KEEP_STORAGE: 'lots' } });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /invalid size "lots" for TSBUILD_GC_KEEP_STORAGE/);
  t.notRegex(bad.stderr, /#\d+ /, 'refused before any step ran');
});
