// docs/progress.schema.json against real --progress=json output: every line of a build that runs,
// one that hits the cache, one with a warning, a failing RUN, a usage error, a push and a pull.
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ErrorCodes } from '../../common/errors.js';
import { makeContext, repoRoot, sharedStore, tsbuild, type CliResult } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';

const schema = JSON.parse(readFileSync(path.join(repoRoot, 'docs', 'progress.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true }).compile(schema);
const root = sharedStore();
const contexts: string[] = [];
test.after.always(async () => {
  for (const dir of [...contexts, await root()]) rmSync(dir, { recursive: true, force: true });
});

function context(files: Record<string, string>): string {
  const dir = makeContext(files);
  contexts.push(dir);
  return dir;
}

/** Every JSON line of a run, each checked against the schema; returns their types. */
function checkedLines(t: { true: (v: boolean, m: string) => void }, r: CliResult): string[] {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
  for (const l of lines) t.true(validate(JSON.parse(l)), `${l}\n${JSON.stringify(validate.errors, null, 2)}`);
  return lines.map((l) => (JSON.parse(l) as { type: string }).type);
}

test('the schema lists exactly the error codes of common/errors.ts', (t) => {
  t.deepEqual(schema.$defs.errorDetail.properties.code.enum, Object.keys(ErrorCodes));
});

test('every line of real --progress=json runs fits the schema, and the runs show every event type', async (t) => {
  const r0 = await root();
  const seen = new Set<string>();
  const run = async (args: string[], code: number): Promise<void> => {
    const r = await tsbuild([...args, '--progress=json'], { root: r0 });
    t.is(r.code, code, r.stderr);
    for (const type of checkedLines(t, r)) seen.add(type);
  };
  const ok = context({ Dockerfile: 'FROM busybox as base\nRUN echo out; echo err >&2\nCOPY a /a\n', a: 'A' });
  await run(['build', '-t', 'schema:ok', ok], 0);
  await run(['build', '-t', 'schema:ok', ok], 0);
  await run(['build', context({ Dockerfile: 'FROM busybox\nRUN echo failing; exit 3\n' })], 1);
  await run(['build', path.join(r0, 'no-such-context')], 1);
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  await run(['push', 'schema:ok', `${reg.host}/schema:ok`], 0);
  await run(['pull', `${reg.host}/schema:ok`], 0);
  t.deepEqual([...seen].sort(), ['error', 'log', 'transfer', 'vertex-cached', 'vertex-done', 'vertex-error', 'vertex-queued', 'vertex-start', 'warning']);
});
