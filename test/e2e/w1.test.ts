// Acceptance for the foundation: ../shared/bench/w1-hello built on the offline busybox base,
// checked by running it, by its config, its file tree and layers, and by skopeo and umoci.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copyDir, jsonEvents, repoRoot, sharedDir, storeWithBusybox, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { compareArchiveLayerReaders, compareLayerReaders } from '../helpers/layers.js';

const w1 = path.join(sharedDir, 'bench', 'w1-hello');

interface Built {
  root: string;
  ctx: string;
  digest: string;
  archive: string;
}

let built: Promise<Built> | undefined;
/** One w1 build shared by the tests of this file (they only read it). */
function buildW1(): Promise<Built> {
  built ??= (async () => {
    const root = await storeWithBusybox();
    const ctx = copyDir(w1);
    const archive = path.join(tmpDir(), 'w1.tar');
    const r = await tsbuildOk(['build', '-t', 'w1:1', '--output', `type=oci,dest=${archive}`, '--progress=json', ctx], { root });
    const digest = /writing image (sha256:[a-f0-9]{64})/.exec(r.stderr)?.[1];
    if (!digest) throw new Error(`no digest in output:\n${r.stderr}`);
    return { root, ctx, digest, archive };
  })();
  return built;
}

/** The manifest skopeo reads at a transport reference (oci:DIR:TAG, oci-archive:FILE). */
function rawManifest(ref: string): { config: { digest: string }; layers: Array<{ mediaType: string; digest: string }> } {
  return JSON.parse(execFileSync('skopeo', ['inspect', '--raw', ref], { encoding: 'utf8' }));
}

function unpackOci(archive: string): { layout: string; rootfs: string } {
  const layout = tmpDir('tsbuild-oci-');
  execFileSync('tar', ['-xf', archive, '-C', layout]);
  const bundle = path.join(tmpDir('tsbuild-umoci-'), 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:1`, bundle], { stdio: 'pipe' });
  return { layout, rootfs: path.join(bundle, 'rootfs') };
}

/** The layer blobs of the archive's image, as paths in an extracted copy, bottom first. */
function archiveLayers(archive: string): Array<{ mediaType: string; path: string }> {
  const layout = tmpDir('tsbuild-oci-');
  execFileSync('tar', ['-xf', archive, '-C', layout]);
  const blob = (digest: string): string => path.join(layout, 'blobs', 'sha256', digest.slice(7));
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  return manifest.layers.map((l: { mediaType: string; digest: string }) => ({ mediaType: l.mediaType, path: blob(l.digest) }));
}

test('w1: tsbuild run prints hello', async (t) => {
  const { root } = await buildW1();
  const r = await tsbuildOk(['run', '--rm', 'w1:1'], { root });
  t.is(r.stdout, 'hello\n');
});

test('w1: run passes the exit code through and runs as the image user in its workdir', async (t) => {
  const { root } = await buildW1();
  const r = await tsbuild(['run', 'w1:1', 'sh', '-c', 'id -u; pwd; exit 7'], { root });
  t.is(r.code, 7);
  t.is(r.stdout, '65534\n/app\n');
});

test('w1: image config is what Docker sets', async (t) => {
  const { root } = await buildW1();
  const config = JSON.parse((await tsbuildOk(['inspect', 'w1:1'], { root })).stdout);
  t.deepEqual(config.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'APP_HOME=/app']);
  t.is(config.config.WorkingDir, '/app');
  t.is(config.config.User, 'nobody');
  t.deepEqual(config.config.ExposedPorts, { '8080/tcp': {} });
  t.deepEqual(config.config.Labels, { 'org.example.kind': 'hello' });
  t.deepEqual(config.config.Cmd, ['cat', '/greeting']);
  t.is(config.os, 'linux');
  // base: 1 layer; w1: WORKDIR, RUN, COPY, RUN
  t.is(config.rootfs.diff_ids.length, 5);
  const own = config.history.slice(-10).map((h: { created_by: string; empty_layer?: boolean }) => [h.created_by, !!h.empty_layer]);
  t.deepEqual(own, [
    ['ARG GREETING=hello', true],
    ['ENV APP_HOME=/app', true],
    ['WORKDIR /app', false],
    ['RUN |1 GREETING=hello /bin/sh -c echo "$GREETING" > /greeting && mkdir -p /data && echo one > /data/1 # buildkit', false],
    ['COPY . . # buildkit', false],
    ['RUN |1 GREETING=hello /bin/sh -c ls -la $APP_HOME > /listing && rm /data/1 # buildkit', false],
    ['USER nobody', true],
    ['EXPOSE map[8080/tcp:{}]', true],
    ['LABEL org.example.kind=hello', true],
    ['CMD ["cat" "/greeting"]', true],
  ]);
});

test('w1: the OCI archive is accepted by skopeo and umoci, and its rootfs is what the Dockerfile implies', async (t) => {
  const { digest, archive, ctx } = await buildW1();
  const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${archive}`], { encoding: 'utf8' }));
  // The printed image id is the config digest: the archive's manifest (gzip layers) names that config.
  t.is(rawManifest(`oci-archive:${archive}`).config.digest, digest);
  t.is(info.Layers.length, 5);
  t.deepEqual(info.Labels, { 'org.example.kind': 'hello' });

  const { rootfs } = unpackOci(archive);
  t.is(readFileSync(path.join(rootfs, 'greeting'), 'utf8'), 'hello\n');
  t.is(readFileSync(path.join(rootfs, 'app', 'app.js'), 'utf8'), readFileSync(path.join(ctx, 'app.js'), 'utf8'));
  t.is(readFileSync(path.join(rootfs, 'app', 'src', 'nums.txt'), 'utf8'), readFileSync(path.join(ctx, 'src', 'nums.txt'), 'utf8'));
  t.true(existsSync(path.join(rootfs, 'data')));
  t.false(existsSync(path.join(rootfs, 'data', '1')), '/data/1 is removed by the last RUN');
  t.regex(readFileSync(path.join(rootfs, 'listing'), 'utf8'), /app\.js/);
  t.true(existsSync(path.join(rootfs, 'bin', 'busybox')));
});

test('w1: /data/1 is removed through a whiteout in the last layer', async (t) => {
  const { archive } = await buildW1();
  const last = archiveLayers(archive).at(-1)!;
  t.is(last.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  const listing = execFileSync('tar', ['-tzvf', last.path], { encoding: 'utf8' });
  t.regex(listing, / data\/\.wh\.1\n/);
  t.regex(listing, / listing\n/);
});

test('w1: every layer blob, in the store and in the archive, reads the same through tar-stream as through our reader', async (t) => {
  const { root, archive } = await buildW1();
  const store = await compareLayerReaders(root);
  t.true(store.layers >= 5, `${store.layers} layers in the store`);
  t.deepEqual(store.differences, []);
  const exported = await compareArchiveLayerReaders(archive);
  t.is(exported.layers, 5);
  t.deepEqual(exported.differences, []);
  t.true(exported.entries.some((e) => e.name === 'data/.wh.1'), 'the whiteout layer was among them');
});

test('w1: the file tree matches the shared image-summary of the archive', async (t) => {
  const { archive } = await buildW1();
  const summary = JSON.parse(execFileSync('python3', [path.join(sharedDir, 'lab', 'image-summary.py'), archive], { encoding: 'utf8' }));
  const tree = summary.tree;
  const get = (p: string): Record<string, unknown> | undefined => (tree as Record<string, Record<string, unknown>>)[p];
  t.like(get('/app'), { type: 'dir', uid: 0, gid: 0 });
  t.like(get('/app/app.js'), { type: 'file', uid: 0, gid: 0 });
  t.like(get('/greeting'), { type: 'file', size: 6 });
  t.is(get('/data/1'), undefined);
  t.like(get('/bin/sh'), { type: 'symlink', target: 'busybox' });
});

test.serial('rebuild with no change: every step cached, same digest, no RUN executed, no blob written', async (t) => {
  const { root, ctx, digest } = await buildW1();
  const blobs = (): string[] => readdirSync(path.join(root, 'blobs', 'sha256')).map((b) => `${b}@${statSync(path.join(root, 'blobs', 'sha256', b)).mtimeMs}`).sort();
  const before = blobs();
  const r = await tsbuildOk(['build', '-t', 'w1:1', '--progress=json', ctx], { root });
  t.deepEqual(blobs(), before, 'no blob (layer, config or manifest) written');
  const events = jsonEvents(r.stderr);
  const started = events.filter((e) => e.type === 'vertex-start').map((e) => e.name);
  t.deepEqual(started.filter((n) => /\] (RUN|COPY|WORKDIR|FROM) /.test(n ?? '')), []);
  t.is(events.filter((e) => e.type === 'vertex-cached').length, 5);
  t.false(events.some((e) => e.type === 'log'));
  t.true(r.stderr.includes(`writing image ${digest}`));
});

test('changing one context file: steps before the COPY stay cached, the rest rerun', async (t) => {
  const { root, ctx } = await buildW1();
  const ctx2 = copyDir(ctx);
  writeFileSync(path.join(ctx2, 'app.js'), "console.log('changed')\n");
  const r = await tsbuildOk(['build', '-t', 'w1:2', '--progress=plain', ctx2], { root });
  const cached = [...r.stderr.matchAll(/#(\d+) (\[\d\/5\] [^\n]+)\n#\1 CACHED/g)].map((m) => m[2]!.slice(0, 5));
  const ran = [...r.stderr.matchAll(/#(\d+) (\[\d\/5\] [^\n]+)\n(?!#\1 CACHED)/g)].map((m) => m[2]!.slice(0, 5));
  t.deepEqual(cached.sort(), ['[1/5]', '[2/5]', '[3/5]']);
  t.deepEqual(ran.sort(), ['[4/5]', '[5/5]']);
  const out = await tsbuildOk(['run', 'w1:2', 'cat', '/app/app.js'], { root });
  t.is(out.stdout, "console.log('changed')\n");
  // The original image is untouched.
  t.is((await tsbuildOk(['run', 'w1:1', 'cat', '/app/app.js'], { root })).stdout, readFileSync(path.join(ctx, 'app.js'), 'utf8'));
});

test('store layout is an OCI image layout that skopeo and umoci read, its layers uncompressed tars', async (t) => {
  const { root, digest } = await buildW1();
  t.true(existsSync(path.join(root, 'oci-layout')));
  const ref = `oci:${root}:docker.io/library/w1:1`;
  const info = JSON.parse(execFileSync('skopeo', ['inspect', ref], { encoding: 'utf8' }));
  t.is(info.Layers.length, 5);
  const manifest = rawManifest(ref);
  t.is(manifest.config.digest, digest);
  // Lazy compression: what the build made stays a plain tar (its blob digest is its diff ID).
  const config = JSON.parse(readFileSync(path.join(root, 'blobs', 'sha256', digest.slice(7)), 'utf8'));
  t.deepEqual(manifest.layers.map((l: { mediaType: string }) => l.mediaType), Array(5).fill('application/vnd.oci.image.layer.v1.tar'));
  t.deepEqual(manifest.layers.map((l: { digest: string }) => l.digest), config.rootfs.diff_ids);
  const bundle = path.join(tmpDir('tsbuild-umoci-'), 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${root}:docker.io/library/w1:1`, bundle], { stdio: 'pipe' });
  t.is(readFileSync(path.join(bundle, 'rootfs', 'greeting'), 'utf8'), 'hello\n');
});

test('w1: RUN layers hold only the RUN changes (no /etc/hosts or resolv.conf mount stubs)', async (t) => {
  const { archive } = await buildW1();
  const firstRun = archiveLayers(archive)[2]!;
  const names = execFileSync('tar', ['-tzf', firstRun.path], { encoding: 'utf8' }).split('\n').filter(Boolean);
  t.deepEqual(names.sort(), ['data/', 'data/1', 'greeting']);
});

test('w1: the copying snapshotter (no overlayfs) builds the same file tree', async (t) => {
  const { archive, ctx } = await buildW1();
  const root = tmpDir('tsbuild-root-');
  const env = { TSBUILD_SNAPSHOTTER: 'copy' };
  const bb = tmpDir('tsbuild-bb-');
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'busybox-context.sh'), bb]);
  await tsbuildOk(['build', '-q', '-t', 'localhost:5000/busybox:latest', bb], { root, env });
  const copyArchive = path.join(tmpDir(), 'w1-copy.tar');
  await tsbuildOk(['build', '-t', 'w1:1', '--output', `type=oci,dest=${copyArchive}`, ctx], { root, env });
  t.is((await tsbuildOk(['run', 'w1:1'], { root, env })).stdout, 'hello\n');
  const summary = (a: string) => JSON.parse(execFileSync('python3', [path.join(sharedDir, 'lab', 'image-summary.py'), a], { encoding: 'utf8' }));
  const overlayTree = summary(archive).tree;
  const copyTree = summary(copyArchive).tree;
  // /listing holds `ls -la` output with times of day: its content differs between the two builds.
  delete overlayTree['/listing'].sha256;
  delete copyTree['/listing'].sha256;
  t.deepEqual(copyTree, overlayTree);
  t.deepEqual((await compareLayerReaders(root)).differences, [], 'its layers read the same through tar-stream');
});
