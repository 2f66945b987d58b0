// Bad input gets a clear error: Dockerfile:line, the offending line, a hint, exit code 1, no stack.
import test from 'ava';
import { makeContext, sharedStore, tsbuild } from '../helpers/cli.js';

const root = sharedStore();

async function fails(dockerfile: string, extra: string[] = [], files: Record<string, string> = {}) {
  const ctx = makeContext({ Dockerfile: dockerfile, ...files });
  const r = await tsbuild(['build', '--progress=quiet', ...extra, ctx], { root: await root() });
  return r;
}

function assertUserError(t: import('ava').ExecutionContext, r: { code: number | null; stderr: string }, parts: Array<string | RegExp>): void {
  t.is(r.code, 1, r.stderr);
  for (const p of parts) {
    if (typeof p === 'string') t.true(r.stderr.includes(p), `expected ${JSON.stringify(p)} in:\n${r.stderr}`);
    else t.regex(r.stderr, p);
  }
  t.notRegex(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
}

test('unknown instruction', async (t) => {
  const r = await fails('FROM busybox\nRUNN echo hi\n');
  assertUserError(t, r, ['Dockerfile:2', '>>> RUNN echo hi', 'unknown instruction: RUNN', 'did you mean RUN?']);
});

test('missing FROM', async (t) => {
  assertUserError(t, await fails('RUN echo hi\n'), ['Dockerfile:1', '>>> RUN echo hi', 'no build stage in current context']);
  assertUserError(t, await fails('# only a comment\nARG X=1\n'), ['no FROM instruction', 'hint:']);
});

test('COPY of a path outside the context', async (t) => {
  const r = await fails('FROM busybox\nCOPY ../../etc/passwd /x\n');
  assertUserError(t, r, ['Dockerfile:2', '>>> COPY ../../etc/passwd /x', 'outside the build context']);
});

test('COPY of a missing path names it', async (t) => {
  const r = await fails('FROM busybox\nCOPY nothere /x\n');
  assertUserError(t, r, ['Dockerfile:2', '"/nothere": not found']);
});

test('COPY of a file excluded by .dockerignore is not found', async (t) => {
  const r = await fails('FROM busybox\nCOPY secret.txt /x\n', [], { 'secret.txt': 's', '.dockerignore': 'secret.*\n' });
  assertUserError(t, r, ['Dockerfile:2', '"/secret.txt": not found', '.dockerignore']);
});

test('unknown --target', async (t) => {
  const r = await fails('FROM busybox AS base\nFROM base AS final\n', ['--target', 'nope']);
  assertUserError(t, r, ['target stage "nope" could not be found', 'base, final']);
});

test('unknown image', async (t) => {
  const r = await fails('FROM nosuchimage:1\nRUN true\n');
  assertUserError(t, r, ['Dockerfile:1', '>>> FROM nosuchimage:1', 'nosuchimage:1', 'image not found', 'tsbuild images']);
});

test('unknown flag, bad JSON in SHELL, invalid ARG name, duplicate stage', async (t) => {
  assertUserError(t, await fails('FROM busybox\nCOPY --fromm=x a b\n'), ['Dockerfile:2', 'unknown flag: --fromm']);
  assertUserError(t, await fails('FROM busybox\nSHELL /bin/bash -c\n'), ['Dockerfile:2', 'SHELL requires the arguments to be in JSON form']);
  assertUserError(t, await fails('FROM busybox\nARG 1abc=2\n'), ['Dockerfile:2', 'invalid ARG name "1abc"']);
  assertUserError(t, await fails('FROM busybox AS a\nFROM busybox AS A\n'), ['Dockerfile:2', 'duplicate stage name "a"']);
  assertUserError(t, await fails('FROM busybox\nRUN <<EOF\necho hi\n'), ['Dockerfile:2', 'unterminated heredoc']);
});

test('a stage copying from itself', async (t) => {
  const r = await fails('FROM busybox AS a\nCOPY --from=a /bin/sh /x\n');
  assertUserError(t, r, ['Dockerfile:2', 'refers to the stage it is in']);
});

test('USER naming a user the image does not have fails at the RUN', async (t) => {
  const r = await fails('FROM busybox\nUSER ghost\nRUN true\n');
  assertUserError(t, r, ['Dockerfile:3', 'unable to find user ghost']);
});

test('missing Dockerfile and bad tag are usage errors', async (t) => {
  const ctx = makeContext({ 'x.txt': '' });
  assertUserError(t, await tsbuild(['build', ctx], { root: await root() }), ['failed to read dockerfile']);
  const ctx2 = makeContext({ Dockerfile: 'FROM busybox\n' });
  assertUserError(t, await tsbuild(['build', '-t', 'Bad:Name:x', ctx2], { root: await root() }), ['invalid image reference']);
});
