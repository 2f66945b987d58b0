// Inputs the fuzzer found (test/fuzz/corpus/frontend): each is a located Dockerfile error or a quick
// result now, never a heap exhausted or a loop that does not end.
import test from 'ava';
import type { FrontendInput } from '../../builder/frontend.js';
import { TsbuildError } from '../../common/errors.js';
import { dockerfileFrontend } from '../../frontend/convert.js';
import { expandWord, MAX_EXPANDED } from '../../frontend/shell.js';

function input(dockerfile: string): FrontendInput {
  return { dockerfile, filename: 'Dockerfile', buildArgs: new Map(), platform: { os: 'linux', architecture: 'amd64' }, resolveImage: () => Promise.reject(new Error('no images here')) };
}

async function located(t: import('ava').ExecutionContext, dockerfile: string, line: number, message: RegExp): Promise<void> {
  const e = await t.throwsAsync(dockerfileFrontend.build(input(dockerfile)));
  t.true(e instanceof TsbuildError && e.kind === 'user', e?.message);
  t.is((e as TsbuildError).code, 'TSB_DOCKERFILE_INVALID');
  t.is((e as TsbuildError).location?.startLine, line);
  t.regex(e!.message, message);
}

test('a value that doubles on every ENV stops at MAX_EXPANDED with a located error', async (t) => {
  const lines = ['FROM scratch', 'ENV a=xx'];
  for (let i = 0; i < 40; i++) lines.push('ENV a=$a$a');
  // 2 * 2^n characters: line 2 + n passes MAX_EXPANDED at n = log2(MAX_EXPANDED).
  await located(t, `${lines.join('\n')}\n`, 2 + Math.log2(MAX_EXPANDED), /expanded text is longer than/);
});

test('a replacement that multiplies a value is bounded too', async (t) => {
  await located(t, `FROM scratch\nENV a=${'y'.repeat(5000)}\nENV b=\${a//y/${'z'.repeat(400)}}\n`, 3, /expanded text is longer than/);
});

test('EXPOSE refuses ports above 65535 and reversed ranges', async (t) => {
  await located(t, 'FROM scratch\nEXPOSE 80018446744073709551616\n', 2, /at most 65535/);
  await located(t, 'FROM scratch\nEXPOSE 1-4000000000/udp\n', 2, /at most 65535/);
  await located(t, 'FROM scratch\nEXPOSE 9000-8000\n', 2, /below the start/);
  const r = await dockerfileFrontend.build(input('FROM scratch\nEXPOSE 65535 1-3/udp\n'));
  t.deepEqual(Object.keys(r.definition.config.config.ExposedPorts ?? {}).sort(), ['1/udp', '2/udp', '3/udp', '65535/tcp']);
});

test('suffix removal on a long value is one pass, with the shell semantics', (t) => {
  const env = (v: string) => ({ get: (k: string) => (k === 'a' ? v : undefined) });
  const long = `${'y'.repeat(200_000)}.tar.gz`;
  t.is(expandWord('${a%%*x}', env(long)).value, long, 'no match leaves the value');
  t.is(expandWord('${a%.*}', env(long)).value, `${'y'.repeat(200_000)}.tar`);
  t.is(expandWord('${a%%.*}', env(long)).value, 'y'.repeat(200_000));
  const cases: Array<[string, string, string]> = [
    ['file.tar.gz', '${a%.*}', 'file.tar'], ['file.tar.gz', '${a%%.*}', 'file'], ['a/b/c', '${a%/*}', 'a/b'], ['a/b/c', '${a%%/*}', 'a'],
    ['abc]', '${a%]}', 'abc'], ['x[y', '${a%[y}', 'x'], ['x[y', '${a%\\[y}', 'x'], ['name-1', '${a%[0-9]}', 'name-'], ['ab', '${a%?}', 'a'], ['ab', '${a%%*}', ''],
  ];
  for (const [value, word, want] of cases) t.is(expandWord(word, env(value)).value, want, `${word} of ${value}`);
});
