// Lazy compression and the compression choices of outputs and cache exports: local layers stay
// plain tars, a layer is compressed once on its first way out and the compressed form reused; zstd,
// uncompressed, force-compression and Docker media types, checked by skopeo, umoci, the registry
// (through a counting proxy) and a pull back. Serial: the tests share one proxy.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, storeWithBusybox, tmpDir, tsbuild, tsbuildOk, type CliResult } from '../helpers/cli.js';
import { proxiedRegistryWithBase } from '../helpers/proxiedregistry.js';
import type { ProxyServer } from '../helpers/registry.js';

const stops: Array<() => Promise<void>> = [];
test.after.always(async () => {
  for (const s of stops.reverse()) await s();
});

interface Lab {
  proxy: ProxyServer;
  host: string;
  /** A store with busybox and `app` built on the busybox the registry holds (gzip, as pushed). */
  root: string;
  app: string;
  /** The registry itself: skopeo goes there directly (it hangs on the proxy's plain-HTTP TLS probe). */
  direct: (ref: string) => string;
}

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const TAR = 'application/vnd.oci.image.layer.v1.tar';

let lab: Promise<Lab> | undefined;
function compressionLab(): Promise<Lab> {
  lab ??= (async () => {
    const { reg, proxy } = await proxiedRegistryWithBase(stops);
    const root = tmpDir('tsbuild-root-');
    const app = `${proxy.host}/team/app:1`;
    // 200 kB of text: compresses well, so each compression gives a blob of its own size.
    await tsbuildOk(['build', '-t', app, makeContext({ Dockerfile: `FROM ${proxy.host}/base/busybox:1\nRUN seq 1 40000 > /numbers && echo built > /built\n` })], { root });
    return { proxy, host: proxy.host, root, app, direct: (ref: string) => ref.replace(proxy.host, reg.host) };
  })();
  return lab;
}

interface RawManifest {
  mediaType: string;
  config: { digest: string; mediaType: string };
  layers: Array<{ mediaType: string; digest: string; size: number }>;
}

function skopeoRaw(ref: string): RawManifest {
  return JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ref], { encoding: 'utf8', timeout: 60_000 }));
}

/** The local store's manifest of `name`. */
function storedManifest(root: string, name: string): RawManifest {
  return skopeoRaw(`oci:${root}:${name}`);
}

function blobUploads(proxy: ProxyServer): number {
  return proxy.requests.filter((q) => (q.method === 'PUT' || q.method === 'PATCH') && q.path.includes('/blobs/uploads/') && q.bytesIn > 0).length;
}

function blobsWithTimes(root: string): string[] {
  const dir = path.join(root, 'blobs', 'sha256');
  return readdirSync(dir).map((b) => `${b}@${statSync(path.join(dir, b)).mtimeMs}`).sort();
}

function stepNames(r: CliResult): string[] {
  return jsonEvents(r.stderr).filter((e) => e.type === 'vertex-start').map((e) => e.name ?? '');
}

test.serial('local layers stay plain tars; a push sends gzip, a second push compresses and uploads nothing, another repository mounts', async (t) => {
  const { proxy, root, app, host, direct } = await compressionLab();
  const local = storedManifest(root, app);
  // The base came from the registry as gzip and stays so; the RUN layer is a plain tar, digest = diffID.
  t.deepEqual(local.layers.map((l) => l.mediaType), [GZIP, TAR]);
  const config = JSON.parse(readFileSync(path.join(root, 'blobs', 'sha256', local.config.digest.slice(7)), 'utf8'));
  t.is(local.layers[1]!.digest, config.rootfs.diff_ids[1]);

  proxy.clear();
  const first = await tsbuildOk(['push', '--progress=json', app], { root });
  t.true(stepNames(first).some((n) => /compressing \(gzip\) 1 layer/.test(n)), stepNames(first).join('\n'));
  const pushed = skopeoRaw(`docker://${direct(app)}`);
  t.is(pushed.config.digest, local.config.digest, 'the same image id');
  t.deepEqual(pushed.layers.map((l) => l.mediaType), [GZIP, GZIP]);
  t.is(pushed.layers[0]!.digest, local.layers[0]!.digest, 'the pulled base layer is sent as it was pulled');
  t.is(blobUploads(proxy), 2, 'the RUN layer and the config; the base is mounted from base/busybox');
  const layout = path.join(tmpDir(), 'copy');
  execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${direct(app)}`, `oci:${layout}:copied`], { stdio: 'pipe' });

  const before = blobsWithTimes(root);
  proxy.clear();
  const again = await tsbuildOk(['push', '--progress=json', app], { root });
  t.is(again.stdout.trim(), first.stdout.trim(), 'the same manifest digest');
  t.false(stepNames(again).some((n) => /compressing/.test(n)), 'nothing compressed again');
  t.is(blobUploads(proxy), 0, 'nothing uploaded again');
  t.deepEqual(blobsWithTimes(root), before, 'no blob written to the store');

  proxy.clear();
  await tsbuildOk(['push', app, `${host}/other/app:1`], { root });
  t.is(blobUploads(proxy), 0, 'nothing uploaded: the config and layers are mounted from team/app');
  t.is(proxy.requests.filter((q) => q.method === 'POST' && /mount=sha256/.test(q.path)).length, 3);
});

test.serial('compression=zstd: skopeo reads it, zstd unpacks it, a fresh store pulls it back and runs it; force-compression recompresses the gzip base', async (t) => {
  const { root, app, host, direct } = await compressionLab();
  const archive = path.join(tmpDir(), 'zstd.tar');
  await tsbuildOk(['build', '-t', app, '--output', `type=oci,dest=${archive},compression=zstd,compression-level=5`, makeContext({ Dockerfile: `FROM ${host}/base/busybox:1\nRUN seq 1 40000 > /numbers && echo built > /built\n` })], { root });
  const inArchive = skopeoRaw(`oci-archive:${archive}`);
  t.deepEqual(inArchive.layers.map((l) => l.mediaType), [GZIP, ZSTD], 'without force-compression the gzip base stays gzip');
  // umoci 0.4.7 (Debian 12) has no zstd: skopeo checks the archive's digests, the zstd CLI its layer.
  const copied = path.join(tmpDir(), 'zdir');
  execFileSync('skopeo', ['copy', `oci-archive:${archive}`, `dir:${copied}`], { stdio: 'pipe' });
  const layer = path.join(copied, inArchive.layers[1]!.digest.slice(7));
  t.deepEqual(execFileSync('sh', ['-c', `zstd -dc '${layer}' | tar -t`], { encoding: 'utf8' }).split('\n').filter(Boolean).sort(), ['built', 'numbers']);

  const name = `${host}/team/zstd:1`;
  await tsbuildOk(['build', '-t', name, '--output', 'type=registry,compression=zstd,force-compression=true', makeContext({ Dockerfile: `FROM ${host}/base/busybox:1\nRUN seq 1 40000 > /numbers && echo built > /built\n` })], { root });
  const pushed = skopeoRaw(`docker://${direct(name)}`);
  t.deepEqual(pushed.layers.map((l) => l.mediaType), [ZSTD, ZSTD]);
  execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${direct(name)}`, `oci:${path.join(tmpDir(), 'z')}:z`], { stdio: 'pipe' });
  const fresh = tmpDir('tsbuild-root-');
  await tsbuildOk(['pull', name], { root: fresh });
  t.is((await tsbuildOk(['run', name, 'sh', '-c', 'cat /built; wc -l < /numbers'], { root: fresh })).stdout, 'built\n40000\n');
  // A build on the zstd image applies its layers (no RUN cached on this store).
  const child = await tsbuildOk(['build', '-t', 'child:1', makeContext({ Dockerfile: `FROM ${name}\nRUN cat /built > /copy\n` })], { root: fresh });
  t.regex(child.stderr, /writing image/);
  t.is((await tsbuildOk(['run', 'child:1', 'cat', '/copy'], { root: fresh })).stdout, 'built\n');
});

test.serial('compression=uncompressed and oci-mediatypes=false', async (t) => {
  const { root, app, host, direct } = await compressionLab();
  const ctx = makeContext({ Dockerfile: `FROM ${host}/base/busybox:1\nRUN seq 1 40000 > /numbers && echo built > /built\n` });
  const plain = path.join(tmpDir(), 'plain.tar');
  await tsbuildOk(['build', '-t', app, '--output', `type=oci,dest=${plain},compression=uncompressed,force-compression=true`, ctx], { root });
  const m = skopeoRaw(`oci-archive:${plain}`);
  t.deepEqual(m.layers.map((l) => l.mediaType), [TAR, TAR]);
  const layoutDir = tmpDir('tsbuild-oci-');
  execFileSync('tar', ['-xf', plain, '-C', layoutDir]);
  const bundle = path.join(tmpDir('tsbuild-umoci-'), 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layoutDir}:1`, bundle], { stdio: 'pipe' });
  t.is(readFileSync(path.join(bundle, 'rootfs', 'built'), 'utf8'), 'built\n');
  const listing = execFileSync('tar', ['-tf', plain], { encoding: 'utf8' });
  t.true(m.layers.every((l) => listing.includes(`blobs/sha256/${l.digest.slice(7)}`)));

  const docker = `${host}/team/docker:1`;
  await tsbuildOk(['build', '-t', docker, '--output', 'type=registry,oci-mediatypes=false', ctx], { root });
  const d = skopeoRaw(`docker://${direct(docker)}`);
  t.is(d.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  t.is(d.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  t.deepEqual(d.layers.map((l) => l.mediaType), Array(2).fill('application/vnd.docker.image.rootfs.diff.tar.gzip'));
  const fresh = tmpDir('tsbuild-root-');
  await tsbuildOk(['pull', docker], { root: fresh });
  t.is((await tsbuildOk(['run', docker, 'cat', '/built'], { root: fresh })).stdout, 'built\n');
});

test.serial('--cache-to with image-manifest=true and compression=zstd imports back on a fresh store; an unchanged export uploads nothing', async (t) => {
  const { proxy, host, direct } = await compressionLab();
  const ctx = makeContext({ Dockerfile: `FROM ${host}/base/busybox:1\nRUN seq 1 30000 > /numbers\nRUN echo second > /second\n` });
  const ref = `${host}/team/cache:zstd`;
  const origin = tmpDir('tsbuild-root-');
  await tsbuildOk(['build', '--cache-to', `type=registry,ref=${ref},mode=max,image-manifest=true,compression=zstd`, ctx], { root: origin });
  const cache = skopeoRaw(`docker://${direct(ref)}`);
  t.is(cache.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  t.deepEqual(cache.layers.map((l) => l.mediaType), [GZIP, ZSTD, ZSTD], 'the base as pulled, the RUN layers in zstd');

  proxy.clear();
  const again = await tsbuildOk(['build', '--progress=json', '--cache-to', `type=registry,ref=${ref},mode=max,image-manifest=true,compression=zstd`, ctx], { root: origin });
  t.false(stepNames(again).some((n) => /compressing/.test(n)));
  t.is(blobUploads(proxy), 0, 'an unchanged cache export uploads no layer');

  const fresh = await tsbuildOk(['build', '--progress=json', '-t', 'fromcache:1', '--cache-from', `type=registry,ref=${ref}`, ctx], { root: tmpDir('tsbuild-root-') });
  t.deepEqual(stepNames(fresh).filter((n) => /\] RUN /.test(n)), [], 'both RUN steps come from the cache');

  const dir = path.join(tmpDir(), 'localcache');
  await tsbuildOk(['build', '--cache-to', `type=local,dest=${dir},mode=max,compression=uncompressed,oci-mediatypes=false`, ctx], { root: origin });
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(path.join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8')) as RawManifest;
  t.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.diff.tar', 'application/vnd.docker.image.rootfs.diff.tar']);
  const freshRoot = tmpDir('tsbuild-root-');
  const local = await tsbuildOk(['build', '--progress=json', '-t', 'fromdir:1', '--cache-from', `type=local,src=${dir}`, ctx], { root: freshRoot });
  t.deepEqual(stepNames(local).filter((n) => /\] RUN /.test(n)), []);
  t.is((await tsbuildOk(['run', 'fromdir:1', 'cat', '/second'], { root: freshRoot })).stdout, 'second\n');
});

test('bad compression attributes are usage errors naming the attribute, the value and what is allowed', async (t) => {
  const root = await storeWithBusybox();
  const ctx = makeContext({ Dockerfile: 'FROM busybox\n' });
  const cases: Array<[string[], RegExp]> = [
    [['--output', 'type=oci,dest=x.tar,compression=lz4'], /--output type=oci: compression=lz4 is not valid[\s\S]*uncompressed, gzip, zstd/],
    [['--output', 'type=oci,dest=x.tar,compression=estargz'], /compression=estargz is not supported/],
    [['--output', 'type=registry,name=localhost:5000/x:1,compression-level=12'], /compression-level=12 is not valid for gzip[\s\S]*from 0 to 9/],
    [['--output', 'type=docker,dest=x.tar,compression=zstd,compression-level=fast'], /compression-level=fast is not valid for zstd[\s\S]*from 1 to 19/],
    [['--output', 'type=image,push=true,name=localhost:5000/x:1,force-compression=yes'], /force-compression=yes is not valid[\s\S]*true or false/],
    [['--output', 'type=oci,dest=x.tar,compression=zstd,oci-mediatypes=false'], /compression=zstd needs oci-mediatypes=true/],
    [['--cache-to', 'type=local,dest=c,image-manifest=false'], /image-manifest=false is not supported/],
    [['--cache-to', 'type=registry,ref=localhost:5000/c:1,oci-mediatypes=maybe'], /--cache-to type=registry: oci-mediatypes=maybe is not valid/],
  ];
  for (const [args, want] of cases) {
    const r = await tsbuild(['build', ...args, ctx], { root });
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, want);
    t.notRegex(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  }
  const json = await tsbuild(['build', '--progress=json', '--output', 'type=oci,dest=x.tar,compression=zstd', ctx], { root, env: { TSBUILD_ZSTD: '/nonexistent/zstd' } });
  t.is(json.code, 1);
  const error = jsonEvents(json.stderr).find((e) => e.type === 'error') as { error?: { code?: string; hint?: string } } | undefined;
  t.is(error?.error?.code, 'TSB_COMPRESSION_UNAVAILABLE', json.stderr);
  t.regex(error?.error?.hint ?? '', /apt-get install zstd/);
});

test('a cache exported by tsbuild before lazy compression (gzip layers, format v1) still imports, and its layer leaves as it is', async (t) => {
  // test/fixtures/cache-v1-gzip: `--cache-to type=local,mode=max` of this context by tsbuild at a40bab9.
  const fixture = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'cache-v1-gzip');
  const ctx = makeContext({ Dockerfile: 'FROM scratch\nCOPY hello.txt /hello.txt\n', 'hello.txt': 'hello from the old cache\n' });
  const root = tmpDir('tsbuild-root-');
  const r = await tsbuildOk(['build', '--progress=json', '-t', 'old:1', '--cache-from', `type=local,src=${fixture}`, ctx], { root });
  t.true(jsonEvents(r.stderr).some((e) => e.type === 'vertex-cached' && /COPY hello\.txt/.test(e.name ?? '')), r.stderr);
  t.deepEqual(storedManifest(root, 'docker.io/library/old:1').layers.map((l) => l.mediaType), [GZIP]);
  const archive = path.join(tmpDir(), 'old.tar');
  const out = await tsbuildOk(['build', '--progress=json', '-t', 'old:1', '-o', `type=oci,dest=${archive}`, '--cache-from', `type=local,src=${fixture}`, ctx], { root });
  t.false(stepNames(out).some((n) => /compressing/.test(n)));
  t.is(skopeoRaw(`oci-archive:${archive}`).layers[0]!.digest, storedManifest(root, 'docker.io/library/old:1').layers[0]!.digest);
});
