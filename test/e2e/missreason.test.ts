// Cache-miss explanations against real builds: each kind of change to a step's inputs (instruction,
// build arg, context files, base image, parent step, --no-cache, WORKDIR/ENV) is named in the plain
// line `#N cache miss: …` and in JSON's vertex-start cacheMiss; values of build args and secrets
// appear nowhere: not in the output, not in the store's records.
import test from 'ava';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jsonEvents, makeContext, sharedStore, storeWithBusybox, tmpDir, tsbuildOk, type CliResult } from '../helpers/cli.js';

const root = sharedStore();
const cleanups: string[] = [];
test.after.always(async () => {
  for (const dir of [...cleanups, await root()]) rmSync(dir, { recursive: true, force: true });
});

function context(files: Record<string, string>): string {
  const dir = makeContext(files);
  cleanups.push(dir);
  return dir;
}

async function build(ctx: string, progress: 'plain' | 'json', args: string[] = []): Promise<CliResult> {
  return tsbuildOk(['build', `--progress=${progress}`, ...args, ctx], { root: await root() });
}

interface Miss {
  reasons: Array<Record<string, unknown> & { kind: string }>;
  text: string;
}

/** The cacheMiss of the JSON vertex-start of the step named like `name`. */
function missOf(r: CliResult, name: RegExp): Miss | undefined {
  const e = jsonEvents(r.stderr).find((e) => e.type === 'vertex-start' && name.test(e.name ?? ''));
  if (!e) throw new Error(`no step ${name} started:\n${r.stderr}`);
  return (e as { cacheMiss?: Miss }).cacheMiss;
}

/** The plain `#N cache miss:` line of the step named like `name` (its `#N name` line comes first). */
function plainMiss(r: CliResult, name: RegExp): string | undefined {
  const lines = r.stderr.split('\n');
  const at = lines.findIndex((l) => /^#\d+ /.test(l) && name.test(l.replace(/^#\d+ /, '')));
  if (at < 0) throw new Error(`no step ${name} in:\n${r.stderr}`);
  const n = /^#(\d+) /.exec(lines[at]!)![1];
  return lines.find((l) => l.startsWith(`#${n} cache miss: `))?.slice(`#${n} cache miss: `.length);
}

/** The store's cache-miss records. */
function recordFiles(store: string): string[] {
  const dir = path.join(store, 'cache');
  return readdirSync(dir)
    .filter((n) => n.startsWith('missreason-'))
    .map((n) => path.join(dir, n));
}

/** Every cache-miss record of the shared store, concatenated. */
async function records(): Promise<string> {
  return recordFiles(await root())
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
}

test('the first build of a Dockerfile explains nothing; a rebuild with nothing changed is all cached', async (t) => {
  // Its own step (the store is shared with the other tests, which run at the same time).
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo first > /first\n' });
  const first = await build(ctx, 'json');
  t.is(missOf(first, /RUN echo first/), undefined);
  t.notRegex(first.stderr, /cache miss/);
  const again = await build(ctx, 'plain');
  t.regex(again.stderr, /^#\d+ CACHED$/m);
  t.notRegex(again.stderr, /cache miss/);
});

test('instruction text: the changed step says so, the one after it names its parent step', async (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo one > /one\nRUN cat /one\n' });
  await build(ctx, 'plain');
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo two > /one\nRUN cat /one\n');
  const json = await build(ctx, 'json');
  t.deepEqual(missOf(json, /RUN echo two/), { reasons: [{ kind: 'instruction' }], text: 'the instruction changed' });
  t.deepEqual(missOf(json, /RUN cat/), { reasons: [{ kind: 'parent', step: '[2/3] RUN echo two > /one' }], text: 'parent step [2/3] RUN echo two > /one changed' });
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo three > /one\nRUN cat /one\n');
  const plain = await build(ctx, 'plain');
  t.is(plainMiss(plain, /RUN echo three/), 'the instruction changed');
  t.is(plainMiss(plain, /RUN cat/), 'parent step [2/3] RUN echo three > /one changed');
});

test('a step added before others: they are paired by instruction, not position, and name the new parent', async (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n' });
  await build(ctx, 'plain');
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo new > /new\nRUN echo a > /a\nRUN echo b > /b\n');
  const r = await build(ctx, 'plain');
  t.is(plainMiss(r, /RUN echo new/), 'a step the earlier build did not have');
  t.is(plainMiss(r, /RUN echo a/), 'parent step [2/4] RUN echo new > /new changed');
  t.is(plainMiss(r, /RUN echo b/), 'parent step [3/4] RUN echo a > /a changed');
});

test('a build arg is named, its value is never shown or stored; a secret value neither', async (t) => {
  const values = ['v4lue-one-93121', 'v4lue-two-48213', 'v4lue-three-7711'];
  const secretValue = 'secr3t-value-58123';
  const secret = path.join(tmpDir(), 'tok');
  writeFileSync(secret, secretValue);
  const ctx = context({ Dockerfile: 'FROM busybox\nARG VERSION\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null; echo built\nRUN echo done\n' });
  const args = (v: string): string[] => ['--build-arg', `VERSION=${v}`, '--secret', `id=tok,src=${secret}`];
  const outputs = [await build(ctx, 'plain', args(values[0]!))];
  outputs.push(await build(ctx, 'json', args(values[1]!)));
  t.deepEqual(missOf(outputs[1]!, /RUN cat \/run\/secrets/), { reasons: [{ kind: 'build-arg', names: ['VERSION'] }], text: 'build arg VERSION changed' });
  t.deepEqual(missOf(outputs[1]!, /RUN echo done/)?.reasons, [{ kind: 'build-arg', names: ['VERSION'] }, { kind: 'parent', step: '[2/3] RUN cat /run/secrets/tok > /dev/null; echo built' }]);
  // The secret's content changes: not part of the key (as in BuildKit), so still cached.
  writeFileSync(secret, `${secretValue}-changed`);
  outputs.push(await build(ctx, 'plain', args(values[2]!)));
  t.is(plainMiss(outputs[2]!, /RUN cat \/run\/secrets/), 'build arg VERSION changed');
  const everything = [...outputs.map((o) => o.stdout + o.stderr), await records()].join('\n');
  for (const v of [...values, secretValue]) t.false(everything.includes(v), `${v} leaked`);
});

test('context files: by path, the first few and a count; removed and added files count too', async (t) => {
  const files: Record<string, string> = { Dockerfile: 'FROM busybox\nCOPY src/ /src/\nRUN ls /src\n' };
  for (const n of ['a', 'b', 'c', 'd', 'e']) files[`src/${n}.js`] = n;
  const ctx = context(files);
  await build(ctx, 'plain');
  for (const n of ['a', 'b', 'd', 'e']) writeFileSync(path.join(ctx, 'src', `${n}.js`), `${n}2`);
  const json = await build(ctx, 'json');
  t.deepEqual(missOf(json, /COPY src/), { reasons: [{ kind: 'files', paths: ['src/a.js', 'src/b.js', 'src/d.js'], count: 4 }], text: 'src/a.js and 3 more changed' });
  t.deepEqual(missOf(json, /RUN ls/)?.reasons, [{ kind: 'parent', step: '[2/3] COPY src/ /src/' }]);
  rmSync(path.join(ctx, 'src', 'c.js'));
  writeFileSync(path.join(ctx, 'src', 'f.js'), 'f');
  const plain = await build(ctx, 'plain');
  t.is(plainMiss(plain, /COPY src/), 'src/f.js and src/c.js changed');
  // A file the COPY does not select changes nothing.
  writeFileSync(path.join(ctx, 'other.txt'), 'x');
  t.notRegex((await build(ctx, 'plain')).stderr, /cache miss/);
});

test('a large context: the record stays small, deep paths fold into their directory', async (t) => {
  const files: Record<string, string> = { Dockerfile: 'FROM busybox\nCOPY . /ctx/\n' };
  for (let d = 0; d < 30; d++) for (let f = 0; f < 30; f++) files[`tree/d${d}/f${f}.txt`] = `${d}.${f}`;
  const ctx = context(files);
  await build(ctx, 'plain');
  writeFileSync(path.join(ctx, 'tree', 'd7', 'f3.txt'), 'changed');
  const r = await build(ctx, 'json');
  t.deepEqual(missOf(r, /COPY \./)?.reasons, [{ kind: 'files', paths: ['tree/d7/'], count: 1 }]);
  for (const f of recordFiles(await root())) t.true(statSync(f).size < 200_000, `${f} is ${statSync(f).size} bytes`);
});

test('the base image digest: named with both digests', async (t) => {
  const tag = `mrbase:${Math.floor(Math.random() * 1e6)}`;
  await build(context({ Dockerfile: 'FROM busybox\nRUN echo 1 > /base\n' }), 'plain', ['-t', tag]);
  const ctx = context({ Dockerfile: `FROM ${tag}\nRUN cat /base\n` });
  await build(ctx, 'plain');
  await build(context({ Dockerfile: 'FROM busybox\nRUN echo 2 > /base\n' }), 'plain', ['-t', tag]);
  const r = await build(ctx, 'json');
  const miss = missOf(r, /RUN cat/);
  t.is(miss?.reasons.length, 1);
  t.like(miss?.reasons[0], { kind: 'base-image', ref: tag });
  t.regex(miss!.text, new RegExp(`^base image ${tag} changed \\([a-f0-9]{12} → [a-f0-9]{12}\\)$`));
  t.not(miss?.reasons[0]!.from, miss?.reasons[0]!.to);
});

test('--no-cache: every step that runs says so', async (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo x > /x\nCOPY Dockerfile /\n' });
  await build(ctx, 'plain');
  const r = await build(ctx, 'plain', ['--no-cache']);
  t.is(plainMiss(r, /RUN echo x/), '--no-cache');
  t.is(plainMiss(r, /COPY Dockerfile/), '--no-cache');
});

test('WORKDIR and ENV: what a RUN inherits is named', async (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox\nENV MODE=a\nWORKDIR /w1\nRUN pwd\n' });
  await build(ctx, 'plain');
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nENV MODE=b\nWORKDIR /w2\nRUN pwd\n');
  const r = await build(ctx, 'json');
  t.deepEqual(missOf(r, /RUN pwd/)?.reasons, [{ kind: 'settings', fields: ['WORKDIR'] }, { kind: 'env', names: ['MODE'] }, { kind: 'parent', step: '[2/3] WORKDIR /w2' }]);
  t.is(missOf(r, /RUN pwd/)?.text, 'WORKDIR changed; ENV MODE changed; parent step [2/3] WORKDIR /w2 changed');
});

test('prune keeps the records (the next build says its result is gone); prune --all removes them', async (t) => {
  const own = await storeWithBusybox();
  cleanups.push(own);
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo p > /p\n' });
  await tsbuildOk(['build', '--progress=plain', ctx], { root: own });
  t.is(recordFiles(own).length, 1);
  await tsbuildOk(['prune'], { root: own });
  const after = await tsbuildOk(['build', '--progress=plain', ctx], { root: own });
  t.is(plainMiss(after, /RUN echo p/), 'same inputs as the earlier build, whose result is gone (pruned) or was never made (failed)');
  await tsbuildOk(['prune', '--all'], { root: own });
  t.deepEqual(recordFiles(own), []);
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo q > /p\n');
  t.notRegex((await tsbuildOk(['build', '--progress=plain', ctx], { root: own })).stderr, /cache miss/);
});
