// Multi-platform builds (issue 14): --platform linux/amd64,linux/arm64 makes an OCI image index whose
// arm64 image ran its RUN steps under qemu-user-static; the index goes through the local store, an
// OCI archive and a real registry (pushed, read by skopeo per platform, pulled back by digest); a
// FROM --platform=$BUILDPLATFORM stage runs once for both; missing emulation is a clear error.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, repoRoot, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { startRegistry as startRegistryServer, type RegistryServer } from '../helpers/registry.js';

const ARM64_BUSYBOX = path.join(repoRoot, 'test', '.cache', 'busybox-arm64');
const QEMU = '/proc/sys/fs/binfmt_misc/qemu-aarch64';

/** Emulation must be there: .ci/run sets it up (qemu-user-static, binfmt_misc, the arm64 busybox); registered here if only that is missing. */
function requireEmulation(): void {
  if (!existsSync(QEMU) && existsSync('/usr/sbin/update-binfmts')) {
    if (!existsSync('/proc/sys/fs/binfmt_misc/status')) execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', '/proc/sys/fs/binfmt_misc']);
    execFileSync('update-binfmts', ['--enable', 'qemu-aarch64']);
  }
  if (!existsSync(QEMU) || !readFileSync(QEMU, 'utf8').startsWith('enabled')) {
    throw new Error(`arm64 emulation is not set up (${QEMU}): run .ci/run's setup (apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64)`);
  }
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'foreign-busybox.sh'), 'arm64', ARM64_BUSYBOX]);
}

let store: Promise<string> | undefined;
/** A store with bb:multi, a busybox index for linux/amd64 and linux/arm64 (built by tsbuild itself). */
function multiStore(): Promise<string> {
  store ??= (async () => {
    requireEmulation();
    const root = tmpDir('tsbuild-root-');
    const ctx = tmpDir('tsbuild-bb-');
    for (const [arch, busybox] of [['amd64', '/usr/bin/busybox'], ['arm64', path.join(ARM64_BUSYBOX, 'busybox')]] as const) {
      const dir = path.join(ctx, arch);
      execFileSync('bash', [path.join(repoRoot, 'scripts', 'busybox-context.sh'), dir], { env: { ...process.env, BUSYBOX: busybox } });
      renameSync(path.join(dir, 'rootfs'), path.join(ctx, `rootfs-${arch}`));
    }
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nARG TARGETARCH\nCOPY rootfs-$TARGETARCH/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCMD ["/bin/sh"]\n');
    writeFileSync(path.join(ctx, '.dockerignore'), 'amd64\narm64\n');
    await tsbuildOk(['build', '-q', '--platform', 'linux/amd64,linux/arm64', '-t', 'bb:multi', ctx], { root });
    return root;
  })();
  return store;
}

let registry: RegistryServer | undefined;
test.after.always(() => registry?.stop());
/** The real registry the tests push to: one for this file, started when first needed. */
async function startRegistry(): Promise<string> {
  registry ??= await startRegistryServer();
  return registry.host;
}

const skopeo = (...args: string[]): string => execFileSync('skopeo', args, { encoding: 'utf8' });
const run = async (root: string, platform: string, image: string, cmd: string): Promise<string> => (await tsbuildOk(['run', '--rm', '--platform', platform, image, 'sh', '-c', cmd], { root })).stdout;

test.serial('two platforms: an index in the store, each RUN on its own architecture; pushed, read per platform by skopeo, pulled back by digest', async (t) => {
  const root = await multiStore();
  const ctx = makeContext({ Dockerfile: 'FROM bb:multi\nARG TARGETPLATFORM\nARG BUILDPLATFORM\nRUN uname -m > /arch && echo "$BUILDPLATFORM $TARGETPLATFORM" > /plat\n' });
  const oci = path.join(tmpDir(), 'multi.tar');
  const r = await tsbuildOk(['build', '--progress=plain', '--platform', 'linux/amd64,linux/arm64', '-t', 'app:multi', '-o', `type=oci,dest=${oci}`, ctx], { root });
  t.regex(r.stderr, /\[linux\/amd64 2\/2\] RUN uname -m/);
  t.regex(r.stderr, /\[linux\/arm64 2\/2\] RUN uname -m/);
  const digest = /writing image (sha256:[a-f0-9]{64})/.exec(r.stderr)![1]!;

  // The store: the name is on an index of both platforms, which skopeo reads from the layout.
  const index = JSON.parse(skopeo('inspect', '--raw', `oci:${root}:docker.io/library/app:multi`));
  t.is(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.deepEqual(index.manifests.map((m: { platform: { architecture: string } }) => m.platform), [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux' }]);
  t.is(`sha256:${execFileSync('sha256sum', { input: skopeo('inspect', '--raw', `oci:${root}:docker.io/library/app:multi`) }).toString().slice(0, 64)}`, digest);
  t.is(await run(root, 'linux/arm64', 'app:multi', 'cat /arch /plat'), 'aarch64\nlinux/amd64 linux/arm64\n');
  t.is(await run(root, 'linux/amd64', 'app:multi', 'cat /arch /plat'), 'x86_64\nlinux/amd64 linux/amd64\n');
  const images = (await tsbuildOk(['images'], { root })).stdout;
  t.regex(images, /^app +multi +[a-f0-9]{12} .* linux\/amd64,linux\/arm64$/m);
  const arm = JSON.parse((await tsbuildOk(['inspect', '--platform', 'linux/arm64', 'app:multi'], { root })).stdout);
  t.is(arm.architecture, 'arm64');

  // The OCI archive holds the index and both images.
  t.is(JSON.parse(skopeo('inspect', '--override-arch', 'arm64', `oci-archive:${oci}`)).Architecture, 'arm64');
  t.is(JSON.parse(skopeo('inspect', '--override-arch', 'amd64', `oci-archive:${oci}`)).Architecture, 'amd64');

  // The registry: the index with gzip layers (the same as the OCI archive's), each platform readable, pulled back whole.
  const host = await startRegistry();
  const pushedDigest = (await tsbuildOk(['push', 'app:multi', `${host}/app:multi`], { root })).stdout.trim();
  t.is(pushedDigest, JSON.parse(execFileSync('tar', ['-xOf', oci, 'index.json'], { encoding: 'utf8' })).manifests[0].digest);
  const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/app:multi`);
  t.is(JSON.parse(raw).manifests.length, 2);
  for (const arch of ['amd64', 'arm64']) t.is(JSON.parse(skopeo('inspect', '--tls-verify=false', '--override-arch', arch, `docker://${host}/app:multi`)).Architecture, arch);
  const fresh = tmpDir('tsbuild-root-');
  const pulled = await tsbuildOk(['pull', `${host}/app:multi`], { root: fresh });
  t.is(pulled.stdout.trim(), pushedDigest);
  t.is(await run(fresh, 'linux/arm64', `${host}/app:multi`, 'cat /arch'), 'aarch64\n');
  t.regex((await tsbuildOk(['fsck'], { root: fresh })).stdout, /no problems/);

  // --format docker: a Docker manifest list of converted manifests.
  await tsbuildOk(['push', '--format', 'docker', 'app:multi', `${host}/app:docker`], { root });
  const list = JSON.parse(skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/app:docker`));
  t.is(list.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  t.true(list.manifests.every((m: { mediaType: string }) => m.mediaType === 'application/vnd.docker.distribution.manifest.v2+json'));
  t.is(JSON.parse(skopeo('inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${host}/app:docker`)).Architecture, 'arm64');
});

test.serial('a FROM --platform=$BUILDPLATFORM stage runs once for both platforms; what follows its ARG TARGETARCH runs per platform', async (t) => {
  const root = await multiStore();
  const ctx = makeContext({
    Dockerfile: 'FROM --platform=$BUILDPLATFORM bb:multi AS build\nRUN echo "built on $(uname -m) $RANDOM$RANDOM" > /out\nARG TARGETARCH\nRUN echo "for $TARGETARCH" > /target\nFROM bb:multi\nCOPY --from=build /out /target /\n',
  });
  const r = await tsbuildOk(['build', '--progress=json', '--platform', 'linux/amd64,linux/arm64', '-t', 'cross:1', ctx], { root });
  const started = jsonEvents(r.stderr).filter((e) => e.type === 'vertex-start').map((e) => e.name);
  t.is(started.filter((n) => n?.includes('RUN echo "built on')).length, 1, started.join('\n'));
  t.is(started.filter((n) => n?.includes('RUN echo "for')).length, 2);
  const arm = await run(root, 'linux/arm64', 'cross:1', 'cat /out /target; uname -m');
  const amd = await run(root, 'linux/amd64', 'cross:1', 'cat /out /target; uname -m');
  t.regex(arm, /^built on x86_64 \d+\nfor arm64\naarch64\n$/);
  t.regex(amd, /^built on x86_64 \d+\nfor amd64\nx86_64\n$/);
  t.is(arm.split('\n')[0], amd.split('\n')[0], 'the same build stage result in both');
});

test.serial('outputs that hold one platform refuse several; type=local writes one directory per platform; an index takes its three kinds of annotations', async (t) => {
  const root = await multiStore();
  const ctx = makeContext({ Dockerfile: 'FROM bb:multi\nRUN uname -m > /arch\n' });
  const docker = await tsbuild(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=docker,dest=${path.join(tmpDir(), 'x.tar')}`, ctx], { root });
  t.is(docker.code, 1);
  t.regex(docker.stderr, /type=docker holds one platform/);
  t.regex(docker.stderr, /hint: write the platforms as one OCI archive/);
  const dest = path.join(tmpDir(), 'out');
  await tsbuildOk(['build', '--platform', 'linux/amd64,linux/arm64', '-o', `type=local,dest=${dest}`, ctx], { root });
  t.is(readFileSync(path.join(dest, 'linux_amd64', 'arch'), 'utf8'), 'x86_64\n');
  t.is(readFileSync(path.join(dest, 'linux_arm64', 'arch'), 'utf8'), 'aarch64\n');
  // Annotations of an index: index: on it, manifest-descriptor: on its entries, index-descriptor: on its entry in index.json.
  const oci = path.join(tmpDir(), 'annotated.tar');
  await tsbuildOk(['build', '--platform', 'linux/amd64,linux/arm64', '--annotation', 'index:org.example.index=1', '--annotation', 'manifest-descriptor:org.example.entry=2', '--annotation', 'index-descriptor:org.example.top=3', '-o', `type=oci,dest=${oci}`, ctx], { root });
  const index = JSON.parse(skopeo('inspect', '--raw', `oci-archive:${oci}`));
  t.deepEqual(index.annotations, { 'org.example.index': '1' });
  t.deepEqual(index.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations), [{ 'org.example.entry': '2' }, { 'org.example.entry': '2' }]);
  const layout = tmpDir('tsbuild-oci-');
  execFileSync('tar', ['-xf', oci, '-C', layout]);
  t.is(JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')).manifests[0].annotations['org.example.top'], '3');
  const bad = await tsbuild(['build', '--platform', 'linux/z80', ctx], { root });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--platform: invalid platform "linux\/z80": unknown architecture "z80"/);
});

test.serial('RUN for arm64 without emulation registered: a clear error that says how to enable it', async (t) => {
  const root = await multiStore();
  const ctx = makeContext({ Dockerfile: `FROM bb:multi\nRUN echo ${Math.random()}\n` });
  writeFileSync(QEMU, '0');
  try {
    const r = await tsbuild(['build', '--platform', 'linux/arm64', ctx], { root });
    t.is(r.code, 1);
    t.regex(r.stderr, /RUN for linux\/arm64 needs emulation on this linux\/amd64 machine: the qemu-aarch64 emulator is disabled/);
    t.regex(r.stderr, /hint: as root: update-binfmts --enable qemu-aarch64/);
    t.notRegex(r.stderr, /exec format error|bug in tsbuild/);
    const ran = await tsbuild(['run', '--rm', '--platform', 'linux/arm64', 'bb:multi', 'true'], { root });
    t.is(ran.code, 1);
    t.regex(ran.stderr, /needs emulation/);
  } finally {
    writeFileSync(QEMU, '1');
  }
});

test.serial('the cache of a two-platform build exports and imports whole: a fresh store builds every step of both from it', async (t) => {
  const root = await multiStore();
  const ctx = makeContext({ Dockerfile: 'FROM --platform=$BUILDPLATFORM bb:multi AS build\nRUN echo $RANDOM > /out\nFROM bb:multi\nRUN uname -m > /arch\nCOPY --from=build /out /out\n' });
  const cache = path.join(tmpDir(), 'cache');
  const layout = path.join(tmpDir(), 'base');
  await tsbuildOk(['build', '-q', '--platform', 'linux/amd64,linux/arm64', '--cache-to', `type=local,dest=${cache},mode=max`, ctx], { root });
  // The base travels as an OCI layout holding its index (the fresh store has no bb:multi).
  await tsbuildOk(['build', '-q', '--platform', 'linux/amd64,linux/arm64', '-o', `type=oci,tar=false,dest=${layout}`, makeContext({ Dockerfile: 'FROM bb:multi\n' })], { root });
  const fresh = tmpDir('tsbuild-root-');
  const r = await tsbuildOk(['build', '--progress=json', '--platform', 'linux/amd64,linux/arm64', '--build-context', `bb:multi=oci-layout://${layout}`, '--cache-from', `type=local,src=${cache}`, ctx], { root: fresh });
  const events = jsonEvents(r.stderr);
  t.deepEqual(events.filter((e) => e.type === 'vertex-start' && /RUN|COPY/.test(e.name ?? '')).map((e) => e.name), [], 'no step ran');
  t.true(events.filter((e) => e.type === 'vertex-cached' && /RUN uname/.test(e.name ?? '')).length >= 2);
});
