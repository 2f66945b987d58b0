// --build-context as buildx: a named context replaces the stage of its name, and feeds FROM NAME and
// COPY --from=NAME, from a directory, an image of the local store (docker-image://), an OCI layout
// (oci-layout://DIR and @sha256:…), a git repository (git://, https://….git) and a file over https;
// bad values are usage errors.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeContext, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { fileServer, gitHttpServer, gitServer, tlsMaterial, type TlsMaterial } from '../helpers/gitserver.js';

const root = sharedStore();

/** What makes tsbuild (fetch) and the git it runs trust the test CA. */
const trusting = (tls: TlsMaterial): NodeJS.ProcessEnv => ({ NODE_EXTRA_CA_CERTS: tls.caPath, GIT_SSL_CAINFO: tls.caPath });

/** The built image's files, as a local output. */
async function build(dockerfile: string, flags: string[], env?: NodeJS.ProcessEnv): Promise<(file: string) => string> {
  const dest = tmpDir();
  await tsbuildOk(['build', ...flags, '-o', `type=local,dest=${dest}`, makeContext({ Dockerfile: dockerfile })], { root: await root(), ...(env ? { env } : {}) });
  return (file) => readFileSync(path.join(dest, file), 'utf8');
}

/** A stored image `name` whose /which says `text`, also written as an OCI layout; its manifest digest and layout dir. */
async function image(name: string, text: string): Promise<{ digest: string; layout: string }> {
  const layout = path.join(tmpDir(), 'layout');
  await tsbuildOk(['build', '-q', '-t', name, '-o', `type=oci,tar=false,dest=${layout}`, makeContext({ Dockerfile: `FROM busybox\nRUN echo ${text} > /which\n` })], { root: await root() });
  // -q prints the image id; the layout holds the manifest in its exported (gzip) form.
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  return { digest: index.manifests[0]!.digest, layout };
}

const STAGES = 'FROM busybox AS base\nRUN echo dockerfile > /which\n\nFROM base\nRUN cp /which /from-base\n';

test('a named context replaces the stage of its name: an image of the store, an OCI layout (by digest too), a directory', async (t) => {
  t.is((await build(STAGES, []))('from-base'), 'dockerfile\n', 'without it, the stage runs');
  await image('ctx-store:1', 'store-image');
  t.is((await build(STAGES, ['--build-context', 'base=docker-image://ctx-store:1']))('from-base'), 'store-image\n');
  const { digest, layout } = await image('ctx-layout:1', 'layout-image');
  t.is((await build(STAGES, ['--build-context', `base=oci-layout://${layout}`]))('from-base'), 'layout-image\n');
  t.is((await build(STAGES, ['--build-context', `base=oci-layout://${layout}@${digest}`]))('from-base'), 'layout-image\n');
  // A directory as the stage: its files are the stage's filesystem.
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'only.txt'), 'from a directory\n');
  const files = await build('FROM busybox AS base\nRUN echo dockerfile > /which\n\nFROM busybox\nCOPY --from=base / /base/\n', ['--build-context', `base=${dir}`]);
  t.is(files('base/only.txt'), 'from a directory\n');
  t.throws(() => files('base/which'), { code: 'ENOENT' }, 'the replaced stage did not run');
});

test('FROM NAME, COPY --from=NAME and RUN --mount from=NAME use named contexts; a FROM image name matches in its familiar form', async (t) => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'f.txt'), 'dir file\n');
  const { layout } = await image('ctx-from:1', 'replaced busybox');
  const df = 'FROM files AS fromdir\n\nFROM docker.io/library/busybox:latest\nCOPY --from=files f.txt /copied.txt\nCOPY --from=fromdir /f.txt /fromdir.txt\nCOPY --from=layout /which /layout-which\nRUN cat /which > /base-which\nRUN --mount=from=files,target=/m cat /m/f.txt > /mounted.txt\n';
  const files = await build(df, ['--build-context', `files=${dir}`, '--build-context', `layout=oci-layout://${layout}`, '--build-context', 'busybox=docker-image://ctx-from:1']);
  t.is(files('copied.txt'), 'dir file\n');
  t.is(files('fromdir.txt'), 'dir file\n');
  t.is(files('layout-which'), 'replaced busybox\n');
  t.is(files('base-which'), 'replaced busybox\n', 'FROM docker.io/library/busybox:latest found --build-context busybox');
  t.is(files('mounted.txt'), 'dir file\n', 'RUN --mount from= a named directory');

  // A named directory is checksummed like the build context: a changed file reruns the COPY.
  writeFileSync(path.join(dir, 'f.txt'), 'changed\n');
  t.is((await build(df, ['--build-context', `files=${dir}`, '--build-context', `layout=oci-layout://${layout}`, '--build-context', 'busybox=docker-image://ctx-from:1']))('copied.txt'), 'changed\n');
});

test('a named context of the build context\'s own directory does not take its .dockerignore', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nCOPY --from=self ignored.txt /from-self.txt\nCOPY . /ctx/\n', '.dockerignore': 'ignored.txt\n', 'ignored.txt': 'only via the named context\n', 'kept.txt': 'kept\n' });
  const dest = tmpDir();
  await tsbuildOk(['build', '--build-context', `self=${ctx}`, '-o', `type=local,dest=${dest}`, ctx], { root: await root() });
  t.is(readFileSync(path.join(dest, 'from-self.txt'), 'utf8'), 'only via the named context\n');
  t.is(readFileSync(path.join(dest, 'ctx', 'kept.txt'), 'utf8'), 'kept\n');
  t.throws(() => readFileSync(path.join(dest, 'ctx', 'ignored.txt')), { code: 'ENOENT' }, 'the build context still ignores it');
});

test('bad --build-context values are usage errors', async (t) => {
  const ctx = makeContext({ Dockerfile: 'FROM busybox\n' });
  const cases: Array<[string, RegExp]> = [
    ['novalue', /--build-context "novalue" needs NAME=VALUE/],
    ['x=/does/not/exist', /\/does\/not\/exist is not a directory/],
    ['x=https://', /https:\/\/ is not a valid URL with a host/],
    ['x=ftp://example.com/f.tar', /unsupported context source ftp:\/\//],
    ['x=git@example.com', /does not exist|is not a directory/],
    ['x=git@example.com:', /git@example.com: names no repository \(git@HOST:PATH\)/],
    ['x=docker-image://', /docker-image:\/\/ needs an image reference/],
  ];
  for (const [value, message] of cases) {
    const r = await tsbuild(['build', '--build-context', value, ctx], { root: await root() });
    t.is(r.code, 1, value);
    t.regex(r.stderr, message, value);
    t.regex(r.stderr, /hint: use --build-context NAME=DIR/, value);
  }
  const twice = await tsbuild(['build', '--build-context', 'a=/tmp', '--build-context', 'a=/tmp', ctx], { root: await root() });
  t.regex(twice.stderr, /--build-context a is given twice/);
  const layout = await tsbuild(['build', '--build-context', `busybox=oci-layout://${tmpDir()}`, ctx], { root: await root() });
  t.is(layout.code, 1);
  t.regex(layout.stderr, /is not an OCI image layout/);
});

test('a git repository as a named context, over git:// and smart HTTPS: it replaces a stage and feeds COPY --from and RUN --mount from=; #ref:subdir as in ADD', async (t) => {
  const daemon = await gitServer();
  const tls = await tlsMaterial();
  const https = await gitHttpServer(tls);
  const df = [
    'FROM busybox AS src',
    'RUN echo dockerfile > /README',
    '',
    'FROM busybox',
    'COPY --from=src /README /stage-readme',
    'COPY --from=repo README /repo-readme',
    'COPY --from=sub file.txt /sub-file',
    'RUN --mount=from=repo,target=/m cat /m/README > /mounted',
    '',
  ].join('\n');
  const files = await build(df, ['--build-context', `src=${daemon.url}#v1`, '--build-context', `repo=${https.url}`, '--build-context', `sub=${daemon.url}#main:sub`], trusting(tls));
  t.is(files('stage-readme'), 'version one\n', 'the stage src is the repository at v1, over git://');
  t.is(files('repo-readme'), 'version two\n', 'the default branch, over https');
  t.is(files('sub-file'), 'in subdir\n', '#main:sub');
  t.is(files('mounted'), 'version two\n');
  // As BuildKit's named git contexts, the checkout keeps its .git directory.
  const stage = await build('FROM busybox AS src\n\nFROM busybox\nCOPY --from=src / /src/\n', ['--build-context', `src=${https.url}#v1`], trusting(tls));
  t.is(stage('src/README'), 'version one\n');
  t.regex(stage('src/.git/HEAD'), /^[0-9a-f]{40}\n$/);
});

test('an http(s) URL that is no git repository is a named context holding that file, as buildx (not unpacked)', async (t) => {
  const dir = tmpDir();
  mkdirSync(path.join(dir, 'tree'));
  writeFileSync(path.join(dir, 'tree', 'inside.txt'), 'from the tarball\n');
  execFileSync('tar', ['-czf', path.join(dir, 'ctx.tar.gz'), '-C', path.join(dir, 'tree'), '.']);
  const tls = await tlsMaterial();
  const base = await fileServer(dir, tls);
  t.regex(base, /^https:/);
  const df = 'FROM busybox\nCOPY --from=tarball ctx.tar.gz /copied.tar.gz\nRUN --mount=from=tarball,target=/t mkdir /out && tar -xzf /t/ctx.tar.gz -C /out\n';
  const files = await build(df, ['--build-context', `tarball=${base}/ctx.tar.gz`], trusting(tls));
  t.is(files('copied.tar.gz'), readFileSync(path.join(dir, 'ctx.tar.gz'), 'utf8'), 'the file as served');
  t.is(files('out/inside.txt'), 'from the tarball\n');
});

test('a named context whose repository or file is not there is a clear remote error', async (t) => {
  const { url } = await gitServer();
  const base = await fileServer(tmpDir());
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nCOPY --from=x / /x/\n' });
  const cases: Array<[string, RegExp]> = [
    [`x=${url.replace('repo.git', 'nosuch.git')}`, /git ls-remote git:\/\/127\.0\.0\.1:\d+\/nosuch\.git.*\nhint: check the repository URL/],
    [`x=${url}#nosuchref`, /git ref "nosuchref" not found in git:\/\/.*\nhint: check the branch, tag or commit after #/],
    [`x=${base}/missing.tar.gz`, /download of http:\/\/127\.0\.0\.1:\d+\/missing\.tar\.gz: the server answered 404 Not Found\nhint: check the URL/],
  ];
  for (const [value, message] of cases) {
    const r = await tsbuild(['build', '--progress=json', '--build-context', value, ctx], { root: await root() });
    t.is(r.code, 1, value);
    t.regex(r.stderr, message, value);
    const last = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{"type":"error"'))!) as { error: { code: string; hint?: string } };
    t.is(last.error.code, 'TSB_REMOTE', value);
    t.truthy(last.error.hint, value);
  }
});
