// The Dockerfile conformance corpus (test/corpus/README.md): every case is built with tsbuild on the offline
// busybox base, exported as an OCI archive, reduced by test/corpus/normalize.py against the base image and
// deep-compared with expected.json, BuildKit's result for the same Dockerfile (scripts/corpus-expect.sh).
// Cases in pending.json are expected to fail (test.failing): when one starts passing, remove its entry.
// Cases in no-reference.json have no BuildKit result (the lab BuildKit lacks the feature): they only check
// that tsbuild builds them (or, for err-* cases, rejects them with exit code 1).
import test from 'ava';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { makeContext, repoRoot, storeWithBusybox, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { compareArchiveLayerReaders } from '../helpers/layers.js';

const corpus = path.join(repoRoot, 'test', 'corpus');
const normalizer = path.join(corpus, 'normalize.py');
const pending: Record<string, string> = JSON.parse(readFileSync(path.join(corpus, 'pending.json'), 'utf8'));
const noReference: Record<string, string> = JSON.parse(readFileSync(path.join(corpus, 'no-reference.json'), 'utf8'));
const cases = readdirSync(corpus)
  .filter((d) => statSync(path.join(corpus, d)).isDirectory())
  .sort();

/** Builds run two at a time, each slot with its own store so concurrent builds never share one. */
const SLOTS = 2;
interface Env {
  stores: string[];
  base: string;
}
let envP: Promise<Env> | undefined;
function env(): Promise<Env> {
  envP ??= (async () => {
    const stores = await Promise.all(Array.from({ length: SLOTS }, () => storeWithBusybox()));
    // the base archive: the stores' busybox base itself, exported by a build that only names it
    const bbctx = makeContext({ Dockerfile: 'FROM busybox:latest\n' });
    const base = path.join(tmpDir('tsbuild-corpus-base-'), 'base.tar');
    await tsbuildOk(['build', '-q', '--output', `type=oci,dest=${base}`, bbctx], { root: stores[0]! });
    return { stores, base };
  })();
  return envP;
}
const free: number[] = Array.from({ length: SLOTS }, (_, i) => i);
const waiting: Array<(slot: number) => void> = [];
async function withSlot<T>(fn: (slot: number) => Promise<T>): Promise<T> {
  const slot = free.length > 0 ? free.pop()! : await new Promise<number>((resolve) => waiting.push(resolve));
  try {
    return await fn(slot);
  } finally {
    const next = waiting.shift();
    if (next) next(slot);
    else free.push(slot);
  }
}

function normalize(image: string, base: string): Promise<unknown> {
  return new Promise((resolve, reject) =>
    execFile('python3', [normalizer, image, base], { maxBuffer: 64 << 20 }, (e, out, err) =>
      e ? reject(new Error(`normalize.py failed: ${err}`)) : resolve(JSON.parse(out)),
    ),
  );
}

interface Outcome {
  code: number | null;
  output: string;
  summary?: unknown;
  /** Layers of the built image that tar-stream reads differently from our reader. */
  layerDifferences?: string[];
}
/** Builds CASE with tsbuild in a copy of its directory (minus expected.json and args), as the generator does. */
async function build(name: string): Promise<Outcome> {
  const { stores, base } = await env();
  return withSlot(async (slot) => {
    const src = path.join(corpus, name);
    const work = tmpDir('tsbuild-corpus-');
    const ctx = path.join(work, 'ctx');
    try {
      cpSync(src, ctx, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (p) => p !== path.join(src, 'expected.json') && p !== path.join(src, 'args'),
      });
      const argsFile = path.join(src, 'args');
      const extra = existsSync(argsFile) ? readFileSync(argsFile, 'utf8').split('\n').filter((l) => l !== '') : [];
      const image = path.join(work, 'image.tar');
      const tag = `corpus-${name.toLowerCase()}`;
      const r = await tsbuild(['build', '--progress=plain', '-t', tag, '--output', `type=oci,dest=${image}`, ...extra, '.'], {
        root: stores[slot]!,
        cwd: ctx,
      });
      const output = `${r.stderr}${r.stdout}`;
      if (r.code !== 0) return { code: r.code, output };
      return { code: r.code, output, summary: await normalize(image, base), layerDifferences: (await compareArchiveLayerReaders(image)).differences };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

const tail = (s: string, n = 25): string => s.trimEnd().split('\n').slice(-n).join('\n');

for (const name of cases) {
  const declare = name in pending ? test.failing : test;
  const title = name in pending ? `${name} (pending: ${pending[name]})` : name;
  const expectedFile = path.join(corpus, name, 'expected.json');
  if (name in noReference) {
    const mustFail = name.startsWith('err-');
    declare(`${title} [no BuildKit reference: ${noReference[name]}]`, async (t) => {
      const r = await build(name);
      if (mustFail) {
        if (r.code !== 1) t.log(`tsbuild output:\n${tail(r.output)}`);
        t.is(r.code, 1, 'tsbuild must reject this Dockerfile with exit code 1');
      } else {
        if (r.code !== 0) t.log(`tsbuild output:\n${tail(r.output)}`);
        t.is(r.code, 0, 'tsbuild must build this Dockerfile');
      }
    });
    continue;
  }
  declare(title, async (t) => {
    t.true(existsSync(expectedFile), `${name} has no expected.json: run scripts/corpus-expect.sh ${name}`);
    const expected = JSON.parse(readFileSync(expectedFile, 'utf8')) as { error?: string };
    const r = await build(name);
    if (expected.error !== undefined) {
      const message = tail(r.output, 3);
      if (r.code !== 1) t.log(`BuildKit: ${expected.error}\ntsbuild (exit ${r.code}):\n${tail(r.output)}`);
      else t.log(`BuildKit: ${expected.error}\ntsbuild:  ${message}`);
      t.is(r.code, 1, 'BuildKit rejects this build; tsbuild must fail with exit code 1');
      t.not(message.trim(), '', 'tsbuild must say why');
      return;
    }
    if (r.code !== 0) t.log(`tsbuild output:\n${tail(r.output)}`);
    t.is(r.code, 0, 'BuildKit builds this Dockerfile');
    t.deepEqual(r.summary, expected);
    t.deepEqual(r.layerDifferences, [], 'tar-stream reads its layers as our reader does');
  });
}

test('corpus: every case has expected.json or a no-reference reason, and pending.json names only cases', (t) => {
  const missing = cases.filter((c) => !(c in noReference) && !existsSync(path.join(corpus, c, 'expected.json')));
  t.deepEqual(missing, []);
  t.deepEqual(Object.keys(pending).filter((c) => !cases.includes(c)), []);
  t.deepEqual(Object.keys(noReference).filter((c) => !cases.includes(c)), []);
  t.true(cases.length >= 150);
});
