// Multi-stage builds and the instructions of the foundation, checked on built images.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { copyDir, jsonEvents, makeContext, sharedDir, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const root = sharedStore();

async function run(image: string, ...cmd: string[]): Promise<string> {
  return (await tsbuildOk(['run', image, ...cmd], { root: await root() })).stdout;
}

test('w3-parallel: independent stages run concurrently, the unused stage never runs', async (t) => {
  const ctx = copyDir(path.join(sharedDir, 'bench', 'w3-parallel'));
  const r = await tsbuildOk(['build', '-t', 'w3:1', '--progress=json', ctx], { root: await root() });
  const events = jsonEvents(r.stderr);
  const names = new Map(events.filter((e) => e.type === 'vertex-start').map((e) => [e.id, e.name ?? '']));
  t.false([...names.values()].some((n) => n.includes('never')), 'the unused stage is skipped');
  const branchIds = [...names].filter(([, n]) => /sleep 2 && echo [abc]/.test(n)).map(([id]) => id);
  t.is(branchIds.length, 3);
  // All three branches start before any of them finishes: they overlap.
  const order = events.filter((e) => branchIds.includes(e.id!) && (e.type === 'vertex-start' || e.type === 'vertex-done')).map((e) => e.type);
  t.deepEqual(order.slice(0, 3), ['vertex-start', 'vertex-start', 'vertex-start']);
  t.is(await run('w3:1', 'cat', '/out/a', '/out/b', '/out/c'), 'a\nb\nc\n');
});

test('--target builds a stage; ARG and --build-arg scoping', async (t) => {
  const ctx = makeContext({
    Dockerfile: [
      'ARG BASE=busybox',
      'ARG VERSION=1.0',
      'FROM ${BASE} AS build',
      'ARG VERSION',
      'ARG LOCAL=local-default',
      'RUN echo "v=$VERSION local=$LOCAL" > /version',
      'FROM build AS final',
      'ENV FROM_ENV=${VERSION:-unset}',
      'RUN echo "final $FROM_ENV" > /final',
      '',
    ].join('\n'),
  });
  await tsbuildOk(['build', '-t', 'args:build', '--target', 'build', '--build-arg', 'VERSION=2.5', ctx], { root: await root() });
  t.is(await run('args:build', 'cat', '/version'), 'v=2.5 local=local-default\n');
  t.is((await tsbuild(['run', 'args:build', 'cat', '/final'], { root: await root() })).code, 1, '--target stops at the build stage');
  await tsbuildOk(['build', '-t', 'args:final', ctx], { root: await root() });
  t.is(await run('args:final', 'cat', '/version', '/final'), 'v=1.0 local=local-default\nfinal 1.0\n');
  const config = JSON.parse((await tsbuildOk(['inspect', 'args:final'], { root: await root() })).stdout);
  t.true(config.config.Env.includes('FROM_ENV=1.0'));
  t.false(config.config.Env.some((e: string) => e.startsWith('VERSION=')), 'ARG values do not persist in the image');
});

test('COPY --from a stage and an index, --chown by name and number, --chmod, globs and dest rules', async (t) => {
  const ctx = makeContext({
    Dockerfile: [
      'FROM busybox AS users',
      'RUN echo "app:x:1000:1000::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1000:" >> /etc/group && echo "staff:x:50:" >> /etc/group',
      'RUN mkdir -p /build && echo artifact > /build/out.bin && chmod 640 /build/out.bin',
      'FROM users',
      'COPY --chown=app:staff a.txt /dest/',
      'COPY --chown=1234 --chmod=600 b.txt /dest/b-renamed',
      'COPY *.md /docs/',
      'COPY dir /tree',
      'COPY --from=0 /build/out.bin /artifacts/',
      'COPY --from=users /build /build-copy',
      'WORKDIR /work',
      'COPY a.txt .',
      '',
    ].join('\n'),
    'a.txt': 'A\n',
    'b.txt': 'B\n',
    'one.md': '1',
    'two.md': '2',
    'dir/x/y.txt': 'Y',
  });
  await tsbuildOk(['build', '-t', 'copies:1', ctx], { root: await root() });
  const out = await run('copies:1', 'sh', '-c', 'stat -c "%n %u:%g %a" /dest/a.txt /dest/b-renamed /artifacts/out.bin /build-copy/out.bin /tree/x/y.txt /work/a.txt; ls /docs');
  t.is(out, ['/dest/a.txt 1000:50 644', '/dest/b-renamed 1234:1234 600', '/artifacts/out.bin 0:0 640', '/build-copy/out.bin 0:0 640', '/tree/x/y.txt 0:0 644', '/work/a.txt 0:0 644', 'one.md', 'two.md', ''].join('\n'));
});

test('.dockerignore excludes with ** and re-includes with !', async (t) => {
  const ctx = makeContext({
    Dockerfile: 'FROM busybox\nCOPY . /ctx\n',
    '.dockerignore': '# comment\n**/*.log\nsecret/\n!keep.log\n',
    'keep.log': 'k',
    'drop.log': 'd',
    'sub/deep/also.log': 'x',
    'sub/deep/code.js': 'c',
    'secret/key': 'k',
  });
  await tsbuildOk(['build', '-t', 'ignore:1', ctx], { root: await root() });
  const files = (await run('ignore:1', 'sh', '-c', 'cd /ctx && find . -type f | sort')).trim().split('\n');
  t.deepEqual(files, ['./.dockerignore', './Dockerfile', './keep.log', './sub/deep/code.js']);
});

test('FROM oci-layout://DIR:TAG builds on an image from an OCI layout', async (t) => {
  const r0 = await root();
  const archive = path.join(tmpDir(), 'base.tar');
  await tsbuildOk(['build', '-t', 'layoutbase:7', '--output', `type=oci,dest=${archive}`, makeContext({ Dockerfile: 'FROM busybox\nRUN echo from-layout > /origin\n' })], { root: r0 });
  const layout = tmpDir('tsbuild-layout-');
  execFileSync('tar', ['-xf', archive, '-C', layout]);
  const fresh = tmpDir('tsbuild-root-');
  await tsbuildOk(['build', '-t', 'onlayout:1', makeContext({ Dockerfile: `FROM oci-layout://${layout}:7\nRUN cat /origin > /copied\n` })], { root: fresh });
  t.is((await tsbuildOk(['run', 'onlayout:1', 'cat', '/copied'], { root: fresh })).stdout, 'from-layout\n');
});

test('images lists, rmi removes', async (t) => {
  const r0 = await root();
  await tsbuildOk(['build', '-q', '-t', 'listed:1', '-t', 'registry.example:5000/team/listed:2', makeContext({ Dockerfile: 'FROM busybox\n' })], { root: r0 });
  const list = (await tsbuildOk(['images'], { root: r0 })).stdout;
  t.regex(list, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/);
  t.regex(list, /\nlisted\s+1\s+[a-f0-9]{12}/);
  t.regex(list, /\nregistry\.example:5000\/team\/listed\s+2\s/);
  await tsbuildOk(['rmi', 'listed:1'], { root: r0 });
  t.notRegex((await tsbuildOk(['images'], { root: r0 })).stdout, /\nlisted\s/);
  t.is((await tsbuild(['rmi', 'listed:1'], { root: r0 })).code, 1);
});

test('FROM scratch with no passwd and no USER runs RUN as uid 0, gid 0 (as BuildKit)', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /busybox\nRUN ["/busybox", "sh", "-c", "/busybox id -u > /uid; /busybox id -g > /gid"]\nCMD ["/busybox", "cat", "/uid", "/gid"]\n' });
  execFileSync('cp', ['/bin/busybox', path.join(ctx, 'busybox')]);
  await tsbuildOk(['build', '-t', 'scratch-root:1', ctx], { root: await root() });
  t.is(await run('scratch-root:1'), '0\n0\n');
  // A named user still needs a passwd entry.
  const named = await tsbuild(['build', makeContext({ Dockerfile: 'FROM scratch\nUSER app\nRUN ["/x"]\n' })], { root: await root() });
  t.regex(named.stderr, /unable to find user app/);
});
