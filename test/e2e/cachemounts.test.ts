// RUN --mount=type=cache contents travelling with the exported cache (--cache-to …,cache-mounts=true):
// a fresh store whose RUN runs again sees what the last run left in the mount; without the option it
// starts empty; a fully cached build fetches no mount; unchanged contents are not uploaded again.
// Also every --cache-to attribute the CI issue lists, and the ones refused. Serial: one counting proxy.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, tmpDir, tsbuild, tsbuildOk, type CliResult } from '../helpers/cli.js';
import { proxiedRegistryWithBase } from '../helpers/proxiedregistry.js';
import type { ProxyServer } from '../helpers/registry.js';

const stops: Array<() => Promise<void>> = [];
test.after.always(async () => {
  for (const s of stops.reverse()) await s();
});

let lab: Promise<ProxyServer> | undefined;
function registryLab(): Promise<ProxyServer> {
  lab ??= proxiedRegistryWithBase(stops).then((l) => l.proxy);
  return lab;
}

const MOUNT = '--mount=type=cache,id=pkgs,target=/var/cache/pkgs';

/** A RUN after the COPY of app.txt that lists the cache mount, then fills it if it was empty (as a package manager would). */
function context(host: string, app: string): string {
  return makeContext({
    Dockerfile: [
      `FROM ${host}/base/busybox:1`,
      'COPY app.txt /app.txt',
      `RUN ${MOUNT} sh -c 'ls -A /var/cache/pkgs > /seen; cd /var/cache/pkgs; [ -f downloaded ] || { echo fetched > downloaded; mkdir sub; head -c 60000 /dev/urandom > sub/blob; }'`,
      '',
    ].join('\n'),
    'app.txt': `${app}\n`,
  });
}

function runsExecuted(r: CliResult): number {
  return jsonEvents(r.stderr).filter((e) => e.type === 'vertex-start' && /\] RUN /.test(e.name ?? '')).length;
}

function blobBytesServed(proxy: ProxyServer): number {
  return proxy.requests.filter((q) => q.method === 'GET' && q.path.includes('/blobs/sha256:')).reduce((a, q) => a + q.bytesOut, 0);
}

/** Builds with --metadata-file; returns the CLI result and the metadata (the exporters' responses). */
async function build(root: string, ctx: string, args: string[]): Promise<{ r: CliResult; meta: Record<string, string> }> {
  const file = path.join(tmpDir(), 'meta.json');
  const r = await tsbuildOk(['build', '--progress=json', '--metadata-file', file, ...args, ctx], { root });
  return { r, meta: JSON.parse(readFileSync(file, 'utf8')) as Record<string, string> };
}

async function seen(root: string, name: string): Promise<string> {
  return (await tsbuildOk(['run', name, 'cat', '/seen'], { root })).stdout;
}

test.serial('registry cache with cache-mounts=true: a fresh store that runs the RUN again sees the last contents; without it the mount starts empty', async (t) => {
  const proxy = await registryLab();
  const host = proxy.host;
  const withMounts = `${host}/team/pkgs:cache`;
  const without = `${host}/team/pkgs:nomounts`;
  const first = await build(tmpDir('tsbuild-root-'), context(host, 'v1'), ['--cache-to', `type=registry,ref=${withMounts},mode=max,cache-mounts=true`]);
  t.is(runsExecuted(first.r), 1);
  t.is(first.meta['cache.mounts'], '1');
  t.is(first.meta['cache.mounts.uploaded'], '1');
  await build(tmpDir('tsbuild-root-'), context(host, 'v1'), ['--cache-to', `type=registry,ref=${without},mode=max`]);

  // Nothing changed: every step is cached, and the mount is neither fetched nor unpacked; exported
  // again it is passed on as it came, without a download or an upload.
  proxy.clear();
  const cachedRoot = tmpDir('tsbuild-root-');
  const cached = await build(cachedRoot, context(host, 'v1'), ['--cache-from', withMounts, '--cache-to', `type=registry,ref=${host}/team/pkgs:again,mode=max,cache-mounts=true`]);
  t.is(runsExecuted(cached.r), 0);
  t.deepEqual(readdirSync(path.join(cachedRoot, 'cache-mounts')), [], 'no cache mount made');
  t.true(blobBytesServed(proxy) < 20_000, `${blobBytesServed(proxy)} blob bytes served`);
  t.is(cached.meta['cache.mounts'], '1');
  t.is(cached.meta['cache.mounts.uploaded'], '0');

  // app.txt changed: the RUN runs again on a fresh store and finds the previous run's contents.
  const freshRoot = tmpDir('tsbuild-root-');
  const fresh = await build(freshRoot, context(host, 'v2'), ['-t', 'pkgs:2', '--cache-from', withMounts, '--cache-to', `type=registry,ref=${withMounts},mode=max,cache-mounts=true`]);
  t.is(runsExecuted(fresh.r), 1);
  t.is(await seen(freshRoot, 'pkgs:2'), 'downloaded\nsub\n');
  // The RUN left the contents as they were: the same layer, which the registry already has.
  t.is(fresh.meta['cache.mounts'], '1');
  t.is(fresh.meta['cache.mounts.uploaded'], '0');

  const emptyRoot = tmpDir('tsbuild-root-');
  const empty = await build(emptyRoot, context(host, 'v3'), ['-t', 'pkgs:3', '--cache-from', without]);
  t.is(runsExecuted(empty.r), 1);
  t.is(await seen(emptyRoot, 'pkgs:3'), '', 'a cache exported without cache-mounts=true carries no mount');
  t.is(empty.meta['cache.mounts'], undefined);
});

test.serial('local cache with cache-mounts=true; an unchanged build exports without reading the mount again', async (t) => {
  const { host } = await registryLab();
  const dir = path.join(tmpDir(), 'cache');
  const origin = tmpDir('tsbuild-root-');
  const first = await build(origin, context(host, 'l1'), ['--cache-to', `type=local,dest=${dir},mode=max,cache-mounts=true`]);
  t.is(first.meta['cache.mounts'], '1');
  t.true(jsonEvents(first.r.stderr).some((e) => e.type === 'vertex-start' && e.id === 'cache-mounts'), 'the mount was read');
  // The same build again: the RUN is cached, so the mount cannot have changed and is not read.
  const again = await build(origin, context(host, 'l1'), ['--cache-to', `type=local,dest=${dir},mode=max,cache-mounts=true`]);
  t.is(runsExecuted(again.r), 0);
  t.false(jsonEvents(again.r.stderr).some((e) => e.id === 'cache-mounts'), 'the mount was not read again');

  const freshRoot = tmpDir('tsbuild-root-');
  await build(freshRoot, context(host, 'l2'), ['-t', 'pkgs:l2', '--cache-from', `type=local,src=${dir}`]);
  t.is(await seen(freshRoot, 'pkgs:l2'), 'downloaded\nsub\n');
});

test.serial('every --cache-to attribute of the CI issue is accepted: ignore-error=true makes a failed export a warning', async (t) => {
  const { host } = await registryLab();
  const ctx = context(host, 'attrs');
  const ref = `${host}/team/attrs:cache`;
  await build(tmpDir('tsbuild-root-'), ctx, ['--cache-to', `type=registry,ref=${ref},mode=min,compression=gzip,compression-level=1,force-compression=true,oci-mediatypes=true,image-manifest=true,ignore-error=false,cache-mounts=false`]);
  const back = await build(tmpDir('tsbuild-root-'), ctx, ['--cache-from', `type=registry,ref=${ref}`]);
  t.is(runsExecuted(back.r), 0);
  // A registry that refuses the connection (port 9 on loopback: discard, not listening).
  const unreachable = 'type=registry,ref=127.0.0.1:9/team/attrs:cache';
  const failed = await tsbuild(['build', '--cache-to', unreachable, ctx], { root: tmpDir('tsbuild-root-') });
  t.is(failed.code, 1, failed.stderr);
  const ignored = await build(tmpDir('tsbuild-root-'), ctx, ['--cache-to', `${unreachable},ignore-error=true`]);
  t.true(jsonEvents(ignored.r.stderr).some((e) => e.type === 'warning' && /cache not exported/.test(e.message ?? JSON.stringify(e))), ignored.r.stderr);
});

test('refused --cache-to attributes say why: annotations (as buildx), cache-mounts on inline, bad values', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM scratch\n' });
  const cases: Array<[string, RegExp]> = [
    ['type=registry,ref=localhost:5000/c:1,annotation.org.opencontainers.image.source=x', /does not take annotation\.org\.opencontainers\.image\.source: a cache export carries no annotations[\s\S]*--annotation KEY=VALUE/],
    ['type=local,dest=c,annotation-manifest.a=b', /does not take annotation-manifest\.a/],
    ['type=inline,cache-mounts=true', /type=inline cannot carry cache mounts/],
    ['type=local,dest=c,cache-mounts=yes', /cache-mounts=yes is not valid[\s\S]*true or false/],
    // An unknown attribute names the flag it was given to, not --output.
    ['type=registry,ref=localhost:5000/c:1,bogus=1', /--cache-to type=registry does not take bogus/],
  ];
  for (const [spec, message] of cases) {
    const r = await tsbuild(['build', '--cache-to', spec, ctx], { root: tmpDir('tsbuild-root-') });
    t.is(r.code, 1, spec);
    t.regex(r.stderr, message, spec);
  }
});
