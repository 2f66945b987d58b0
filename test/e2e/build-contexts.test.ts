// --build-context as buildx: a named context replaces the stage of its name, and feeds FROM NAME and
// COPY --from=NAME, from a directory, an image of the local store (docker-image://) and an OCI
// layout (oci-layout://DIR and @sha256:…); bad values are usage errors.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeContext, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const root = sharedStore();

/** The built image's files, as a local output. */
async function build(dockerfile: string, flags: string[]): Promise<(file: string) => string> {
  const dest = tmpDir();
  await tsbuildOk(['build', ...flags, '-o', `type=local,dest=${dest}`, makeContext({ Dockerfile: dockerfile })], { root: await root() });
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
    ['x=https://example.com/repo.git', /takes directories, docker-image:\/\/ and oci-layout:\/\/ contexts only/],
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
