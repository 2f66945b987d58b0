// Deeply nested substitutions (issue 12: 2,092 levels crashed the recursive lexer as "a bug"): up to
// MAX_NESTING they expand; past it, up to the 64 KB line limit, they are a located Dockerfile error,
// in builds and in --check, for every instruction whose words are expanded.
import test from 'ava';
import type { FrontendInput } from '../../builder/frontend.js';
import { TsbuildError } from '../../common/errors.js';
import { dockerfileFrontend } from '../../frontend/convert.js';
import { MAX_NESTING } from '../../frontend/shell.js';

const nested = (levels: number): string => `${'${a:-'.repeat(levels)}x${'}'.repeat(levels)}`;

function input(dockerfile: string): FrontendInput {
  return {
    dockerfile,
    filename: 'Dockerfile',
    buildArgs: new Map(),
    platform: { os: 'linux', architecture: 'amd64' },
    resolveImage: () => Promise.reject(new Error('no images here')),
  };
}

const instructions = (word: string): string[] => [`ENV a=${word}`, `ARG a=${word}`, `LABEL a=${word}`, `EXPOSE ${word}`, `WORKDIR /${word}`];

test('nesting up to the limit expands', async (t) => {
  const r = await dockerfileFrontend.build(input(`FROM scratch\nENV a=${nested(MAX_NESTING)}\n`));
  t.true(r.definition.config.config.Env?.includes('a=x'));
});

for (const levels of [2092, 10_000]) {
  test(`${levels} levels (${nested(levels).length} bytes) are a located error in build and --check, never a crash`, async (t) => {
    for (const line of instructions(nested(levels))) {
      for (const run of [dockerfileFrontend.build, dockerfileFrontend.check]) {
        const e = await t.throwsAsync(run(input(`FROM scratch\n${line}\n`)));
        t.true(e instanceof TsbuildError && e.kind === 'user', `${line.slice(0, 12)}: ${e?.message}`);
        t.is((e as TsbuildError).code, 'TSB_DOCKERFILE_INVALID');
        t.is((e as TsbuildError).location?.startLine, 2);
        t.regex(e!.message, /nested more than \d+ deep/);
      }
    }
  });
}
