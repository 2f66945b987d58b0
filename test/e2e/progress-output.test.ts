// What builds of the shared workloads print: w1's plain output against a golden file (its first
// build, the cached rebuild, and a rebuild after a context file changed, with its cache-miss lines),
// timings and digests normalised; and every --progress=json line of w1, w3 and a failing build
// against docs/progress.schema.json.
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copyDir, makeContext, repoRoot, sharedDir, storeWithBusybox, tsbuild, type CliResult } from '../helpers/cli.js';

const golden = path.join(repoRoot, 'test', 'e2e', 'golden', 'w1-plain.txt');
const schema = JSON.parse(readFileSync(path.join(repoRoot, 'docs', 'progress.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true }).compile(schema);
const cleanups: string[] = [];
test.after.always(() => {
  for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
});

async function store(): Promise<string> {
  const root = await storeWithBusybox();
  cleanups.push(root);
  return root;
}

function workload(name: string): string {
  const dir = copyDir(path.join(sharedDir, 'bench', name));
  cleanups.push(dir);
  return dir;
}

/** Plain output without what changes from run to run: durations, log timestamps, digests. */
export function normalise(plain: string): string {
  return plain
    .replace(/ DONE \d+\.\ds$/gm, ' DONE X.Xs')
    .replace(/^(#\d+) \d+\.\d{3} /gm, '$1 T.TTT ')
    .replace(/sha256:[a-f0-9]{64}/g, 'sha256:<digest>');
}

test('w1 --progress=plain matches the golden file (first build, cached rebuild, a changed context file)', async (t) => {
  const root = await store();
  const ctx = workload('w1-hello');
  const run = async (): Promise<string> => {
    const r = await tsbuild(['build', '-t', 'w1:golden', '--progress=plain', ctx], { root });
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, '');
    return normalise(r.stderr);
  };
  const first = await run();
  const cached = await run();
  appendFileSync(path.join(ctx, 'app.js'), '// changed\n');
  const changed = await run();
  const actual = `=== first build\n${first}=== rebuild\n${cached}=== after app.js changed\n${changed}`;
  if (process.env.UPDATE_GOLDEN) writeFileSync(golden, actual);
  t.is(actual, readFileSync(golden, 'utf8'), 'UPDATE_GOLDEN=1 rewrites test/e2e/golden/w1-plain.txt');
});

/** Every JSON line of a run, each checked against the schema; returns the parsed lines. */
function checkedLines(t: { true: (v: boolean, m: string) => void; fail: (m: string) => void }, r: CliResult): Array<{ type: string; [k: string]: unknown }> {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
  for (const l of lines) t.true(validate(JSON.parse(l)), `${l}\n${JSON.stringify(validate.errors, null, 2)}`);
  if (lines.length === 0) t.fail(`no JSON lines:\n${r.stderr}`);
  return lines.map((l) => JSON.parse(l));
}

test('every --progress=json line of w1, w3 and a failing build fits the schema', async (t) => {
  const root = await store();
  const json = async (ctx: string, code: number): Promise<Array<{ type: string; [k: string]: unknown }>> => {
    const r = await tsbuild(['build', '--progress=json', ctx], { root });
    t.is(r.code, code, r.stderr);
    return checkedLines(t, r);
  };
  const w1 = workload('w1-hello');
  const types = new Set((await json(w1, 0)).map((e) => e.type));
  appendFileSync(path.join(w1, 'app.js'), '// changed\n');
  const rebuilt = await json(w1, 0);
  t.true(rebuilt.some((e) => e.type === 'vertex-start' && (e.cacheMiss as { text?: string } | undefined)?.text === 'app.js changed'), 'the rebuild explains its miss');
  const w3 = workload('w3-parallel');
  for (const e of [...rebuilt, ...(await json(w3, 0)), ...(await json(w3, 0))]) types.add(e.type);
  const failing = await json(makeContext({ Dockerfile: 'FROM busybox\nRUN echo about to fail; exit 3\n' }), 1);
  for (const e of failing) types.add(e.type);
  t.is(failing.at(-1)?.type, 'error');
  t.deepEqual([...types].sort(), ['error', 'log', 'vertex-cached', 'vertex-done', 'vertex-error', 'vertex-queued', 'vertex-start']);
});
