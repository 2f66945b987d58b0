// `tsbuild build --check` on BuildKit's negative parser cases (read in place from the shared oracle):
// each fails with exit code 1 and the Dockerfile:line of its mistake, no stack trace.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeContext, sharedDir, tmpDir, tsbuild } from '../helpers/cli.js';

const negative = path.join(sharedDir, 'oracle', 'buildkit-parser', 'testfiles-negative');

for (const name of readdirSync(negative).sort()) {
  test(`build --check fails at Dockerfile:line on ${name}`, async (t) => {
    const ctx = makeContext({ Dockerfile: readFileSync(path.join(negative, name, 'Dockerfile'), 'utf8') });
    const r = await tsbuild(['build', '--check', ctx], { root: tmpDir('tsbuild-root-') });
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /ERROR: failed to solve: Dockerfile:\d+: /);
    t.regex(r.stderr, /\nhint: /);
    t.notRegex(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  });
}
