// The build cache shared through a registry or a directory (--cache-to / --cache-from), as CI uses
// it: build and export on one store, then build on a fresh store that has nothing but the cache.
// Checked by the progress events (what ran), the image digest, and the bytes the registry served
// (serial: the tests share one counting proxy).
import test from 'ava';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, tmpDir, tsbuild, tsbuildOk, type CliResult } from '../helpers/cli.js';
import { proxiedRegistryWithBase } from '../helpers/proxiedregistry.js';
import type { ProxyServer } from '../helpers/registry.js';

const stops: Array<() => Promise<void>> = [];
test.after.always(async () => {
  for (const s of stops.reverse()) await s();
});

interface Lab {
  proxy: ProxyServer;
  host: string;
}

let lab: Promise<Lab> | undefined;
/** One registry behind a counting proxy, with the busybox base pushed to it. */
function registryLab(): Promise<Lab> {
  lab ??= (async () => {
    const { proxy } = await proxiedRegistryWithBase(stops);
    return { proxy, host: proxy.host };
  })();
  return lab;
}

function context(host: string, app = 'v1'): string {
  return makeContext({
    Dockerfile: [
      `FROM ${host}/base/busybox:1 AS build`,
      'RUN echo built > /artifact && head -c 200000 /dev/urandom > /blob',
      `FROM ${host}/base/busybox:1`,
      'COPY app.txt /app.txt',
      'COPY --from=build /artifact /artifact',
      'RUN cat /app.txt /artifact > /combined && head -c 100000 /dev/urandom > /noise',
      '',
    ].join('\n'),
    'app.txt': `${app}\n`,
  });
}

/** RUN steps that executed (started) rather than came from a cache. */
function runsExecuted(r: CliResult): string[] {
  return jsonEvents(r.stderr).filter((e) => e.type === 'vertex-start' && /\] RUN /.test(e.name ?? '')).map((e) => e.name!);
}

function imageDigest(r: CliResult): string {
  return /writing image (sha256:[a-f0-9]{64})/.exec(r.stderr)?.[1] ?? '';
}

/** Bytes of blob bodies the registry served since the last clear(). */
function blobBytesServed(proxy: ProxyServer): number {
  return proxy.requests.filter((q) => q.method === 'GET' && q.path.includes('/blobs/sha256:')).reduce((a, q) => a + q.bytesOut, 0);
}

async function build(root: string, ctx: string, args: string[]): Promise<CliResult> {
  return tsbuildOk(['build', '--progress=json', ...args, ctx], { root });
}

test.serial('registry cache, mode=max: a fresh store rebuilds with every step cached, the same digest, and no layer downloaded when pushing back', async (t) => {
  const { proxy, host } = await registryLab();
  const ctx = context(host);
  const name = `${host}/team/app:1`;
  const cacheRef = `${host}/team/app:buildcache`;
  const first = await build(tmpDir('tsbuild-root-'), ctx, ['-t', name, '--push', '--cache-to', `type=registry,ref=${cacheRef},mode=max`]);
  t.is(runsExecuted(first).length, 2);

  proxy.clear();
  const fresh = await build(tmpDir('tsbuild-root-'), ctx, ['-t', name, '--push', '--cache-from', `type=registry,ref=${cacheRef}`]);
  t.deepEqual(runsExecuted(fresh), [], 'no RUN executed on the fresh store');
  t.is(imageDigest(fresh), imageDigest(first));
  // Only manifests and configs come down: every layer is mounted or already in the repository.
  t.true(blobBytesServed(proxy) < 20_000, `${blobBytesServed(proxy)} blob bytes served`);

  // One changed file that a late COPY selects: the steps before it stay cached, the RUN after it runs.
  const changed = await build(tmpDir('tsbuild-root-'), context(host, 'v2'), ['--cache-from', `type=registry,ref=${cacheRef}`]);
  t.deepEqual(runsExecuted(changed).map((n) => n.replace(/^.*\] /, '')), ['RUN cat /app.txt /artifact > /combined && head -c 100000 /dev/urandom > /noise']);
});

test.serial('mode=min exports the final image steps only: an intermediate stage is cached on a fresh store only with max', async (t) => {
  const { host } = await registryLab();
  const ctx = context(host, 'min');
  const origin = tmpDir('tsbuild-root-');
  await build(origin, ctx, ['--cache-to', `type=registry,ref=${host}/team/min:cache,mode=min`, '--cache-to', `type=registry,ref=${host}/team/min:cachemax,mode=max`]);
  // The final image needs nothing of the build stage once its own steps hit by key.
  t.deepEqual(runsExecuted(await build(tmpDir('tsbuild-root-'), ctx, ['--cache-from', `${host}/team/min:cache`])), []);
  const minTarget = await build(tmpDir('tsbuild-root-'), ctx, ['--target', 'build', '--cache-from', `${host}/team/min:cache`]);
  t.is(runsExecuted(minTarget).length, 1, 'min: the build stage runs');
  const maxTarget = await build(tmpDir('tsbuild-root-'), ctx, ['--target', 'build', '--cache-from', `${host}/team/min:cachemax`]);
  t.deepEqual(runsExecuted(maxTarget), [], 'max: the build stage is cached');
});

test.serial('local cache directory: export, then a fresh store rebuilds from it alone', async (t) => {
  const { host } = await registryLab();
  const ctx = context(host, 'local');
  const dir = path.join(tmpDir(), 'cache');
  const first = await build(tmpDir('tsbuild-root-'), ctx, ['-t', 'local:1', '--cache-to', `type=local,dest=${dir},mode=max`]);
  const freshRoot = tmpDir('tsbuild-root-');
  const fresh = await build(freshRoot, ctx, ['-t', 'local:1', '--cache-from', `type=local,src=${dir}`]);
  t.deepEqual(runsExecuted(fresh), []);
  t.is(imageDigest(fresh), imageDigest(first));
  // The image's layers were copied in from the directory: it runs without it.
  t.is((await tsbuildOk(['run', 'local:1', 'cat', '/combined'], { root: freshRoot })).stdout, 'local\nbuilt\n');
});

test.serial('inline cache: the pushed image carries its records; a fresh store rebuilds from the image alone', async (t) => {
  const { host } = await registryLab();
  const ctx = context(host, 'inline');
  const name = `${host}/team/inline:1`;
  const first = await build(tmpDir('tsbuild-root-'), ctx, ['-t', name, '--push', '--cache-to', 'type=inline']);
  const freshRoot = tmpDir('tsbuild-root-');
  const fresh = await build(freshRoot, ctx, ['-t', name, '--push', '--cache-to', 'type=inline', '--cache-from', name]);
  t.deepEqual(runsExecuted(fresh), []);
  t.is(imageDigest(fresh), imageDigest(first));
  const inspected = JSON.parse((await tsbuildOk(['inspect', name], { root: freshRoot })).stdout) as Record<string, { records?: unknown[] }>;
  t.is(inspected['tsbuild.cache.v1']?.records?.length, 3, 'the final stage steps: two COPYs and a RUN');
  const max = await tsbuild(['build', '--cache-to', 'type=inline,mode=max', ctx], { root: tmpDir('tsbuild-root-') });
  t.regex(max.stderr, /takes mode=min only/);
});

test.serial('a missing, foreign or garbage cache source is a warning and a cold build; strict=true makes it an error', async (t) => {
  const { host } = await registryLab();
  const ctx = context(host, 'cold');
  const garbage = tmpDir();
  writeFileSync(path.join(garbage, 'index.json'), '{not json');
  const r = await build(tmpDir('tsbuild-root-'), ctx, [
    '--cache-from', `type=registry,ref=${host}/nothing/here:cache`,
    '--cache-from', `type=registry,ref=${host}/base/busybox:1`,
    '--cache-from', `type=local,src=${garbage}`,
    '--cache-from', `type=local,src=${path.join(garbage, 'missing')}`,
  ]);
  t.is(runsExecuted(r).length, 2, 'a cold build');
  const warnings = jsonEvents(r.stderr).filter((e) => e.type === 'warning');
  t.is(warnings.length, 4, r.stderr);
  t.regex(r.stderr, /not a tsbuild cache/);
  const strict = await tsbuild(['build', '--cache-from', `type=registry,ref=${host}/nothing/here:cache,strict=true`, ctx], { root: tmpDir('tsbuild-root-') });
  t.is(strict.code, 1);
  t.regex(strict.stderr, /nothing\/here:cache: not found/);
  const bad = await tsbuild(['build', '--cache-to', 'type=registry', ctx], { root: tmpDir('tsbuild-root-') });
  t.regex(bad.stderr, /needs ref=REFERENCE/);
});
