// The no-change fast path: an untouched rebuild answers with the same image and writes nothing to
// the store (blobs/, cache/, index.json, compared by a listing with mtimes), and a change of any input
// kind (a Dockerfile line, a build arg, a context file's content or mode, a new or deleted file,
// .dockerignore, the base image's digest) rebuilds exactly the steps it affects. Each test has its
// own store, so that the listings see only its own builds.
import test from 'ava';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { jsonEvents, makeContext, repoRoot, runSh, storeWithBusybox, tsbuild, tsbuildOk, type CliResult } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';

const DOCKERFILE = ['FROM busybox', 'ARG MSG=hi', 'RUN echo "$MSG" > /msg', 'COPY app/ /app/', 'RUN ls -ln /app > /listing', ''].join('\n');

function context(): string {
  return makeContext({ Dockerfile: DOCKERFILE, '.dockerignore': 'app/*.tmp\n', 'app/a.txt': 'aaa\n', 'app/b.txt': 'bbb\n', 'app/skip.tmp': 'ignored\n', 'README.md': 'not copied\n' });
}

interface Built {
  digest: string;
  /** Whether the Dockerfile frontend was loaded: the fast path never loads it. */
  frontend: boolean;
  /** Steps that ran (vertex-start of RUN and COPY steps). */
  ran: string[];
  /** Steps reported CACHED. */
  cached: string[];
}

function parse(r: CliResult, frontend = true): Built {
  const events = jsonEvents(r.stderr);
  const steps = (type: string): string[] => events.filter((e) => e.type === type && / (RUN|COPY) /.test(e.name ?? '')).map((e) => /\] ((?:RUN|COPY) \S+)/.exec(e.name!)![1]!);
  return { digest: /writing image (sha256:[a-f0-9]{64})/.exec(r.stderr)?.[1] ?? '', frontend, ran: steps('vertex-start'), cached: steps('vertex-cached') };
}

const hooks = pathToFileURL(path.join(repoRoot, 'test', 'helpers', 'load-log.mjs')).href;

async function build(root: string, ctx: string, args: string[] = []): Promise<Built> {
  const log = path.join(path.dirname(ctx), `${path.basename(ctx)}.loaded`);
  rmSync(log, { force: true });
  const r = await tsbuildOk(['build', '--progress=json', '-t', `fast-${path.basename(ctx).toLowerCase()}`, ...args, ctx], { root, env: { NODE_OPTIONS: `--import=${hooks}`, TSBUILD_LOAD_LOG: log } });
  const loaded = readFileSync(log, 'utf8');
  rmSync(log);
  return parse(r, /\/chunks\/convert-[^/]*\.mjs$/m.test(loaded));
}

/** Every file under the store's blobs/ and cache/, and index.json, with size and mtime. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    out.push(`${path.relative(root, p)} ${st.size} ${st.mtimeMs}`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(path.join(p, n));
  };
  for (const p of ['blobs', 'cache', 'index.json']) walk(path.join(root, p));
  return out;
}

/** An untouched rebuild: the same image, every step CACHED, and no write to the store. */
async function untouched(t: { deepEqual(a: unknown, b: unknown, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, root: string, ctx: string, expected: string, args: string[] = []): Promise<void> {
  const before = listing(root);
  const again = await build(root, ctx, args);
  t.is(again.digest, expected, 'the same image');
  t.is(again.frontend, false, 'answered by the fast path: the frontend was not even loaded');
  t.deepEqual(again.ran, [], 'nothing ran');
  t.deepEqual(again.cached, ['RUN echo', 'COPY app/', 'RUN ls'], 'every step shown CACHED, in order');
  t.deepEqual(listing(root), before, 'nothing written to blobs/, cache/ or index.json');
}

const ALL = ['RUN echo', 'COPY app/', 'RUN ls'];
const FROM_COPY = ['COPY app/', 'RUN ls'];

test('an untouched rebuild writes nothing; a Dockerfile line, a build arg, or a file outside what is copied rebuild what they affect and no more', async (t) => {
  const root = await storeWithBusybox();
  const ctx = context();
  const first = await build(root, ctx);
  t.deepEqual(first.ran, ALL);
  await untouched(t, root, ctx, first.digest);

  // A file the build does not read (README.md is not copied): still nothing to do, nothing written.
  writeFileSync(path.join(ctx, 'README.md'), 'edited, and longer than before\n');
  await untouched(t, root, ctx, first.digest);

  const lines = DOCKERFILE.replace('ls -ln /app', 'ls -lan /app');
  writeFileSync(path.join(ctx, 'Dockerfile'), lines);
  const line = await build(root, ctx);
  t.deepEqual(line.ran, ['RUN ls']);
  t.not(line.digest, first.digest);
  await untouched(t, root, ctx, line.digest);

  const arg = await build(root, ctx, ['--build-arg', 'MSG=bye']);
  t.deepEqual(arg.ran, ALL);
  t.is(await runSh(root, `fast-${path.basename(ctx).toLowerCase()}`, 'cat /msg'), 'bye\n');
  await untouched(t, root, ctx, arg.digest, ['--build-arg', 'MSG=bye']);
  // Back to the default: the first record of this Dockerfile was replaced, the cache records were not.
  const back = await build(root, ctx);
  t.deepEqual(back.ran, []);
  t.is(back.digest, line.digest);
});

test('context changes: content (same size), mode, a new file, a deleted file and .dockerignore each rebuild the COPY and what follows; a touch alone rebuilds nothing', async (t) => {
  const root = await storeWithBusybox();
  const ctx = context();
  const name = `fast-${path.basename(ctx).toLowerCase()}`;
  const first = await build(root, ctx);
  await untouched(t, root, ctx, first.digest);

  const steps: Array<[string, () => void, string]> = [
    ['content', () => writeFileSync(path.join(ctx, 'app/a.txt'), 'AAA\n'), 'cat /app/a.txt'],
    ['mode', () => chmodSync(path.join(ctx, 'app/a.txt'), 0o755), 'stat -c %a /app/a.txt'],
    ['new file', () => writeFileSync(path.join(ctx, 'app/c.txt'), 'ccc\n'), 'ls /app'],
    ['deleted file', () => rmSync(path.join(ctx, 'app/b.txt')), 'ls /app'],
    ['.dockerignore', () => writeFileSync(path.join(ctx, '.dockerignore'), 'app/*.tmp\napp/c.txt\n'), 'ls /app'],
  ];
  const seen = new Set([first.digest]);
  const shown: string[] = [];
  for (const [what, change, probe] of steps) {
    change();
    const r = await build(root, ctx);
    t.deepEqual(r.ran, FROM_COPY, what);
    t.deepEqual(r.cached, ['RUN echo'], `${what}: the step before the COPY is CACHED`);
    t.false(seen.has(r.digest), `${what}: a new image`);
    seen.add(r.digest);
    shown.push((await runSh(root, name, probe)).trim());
    await untouched(t, root, ctx, r.digest);
  }
  t.deepEqual(shown, ['AAA', '755', 'a.txt\nb.txt\nc.txt', 'a.txt\nc.txt', 'a.txt']);

  // A new mtime on an unchanged file: the fast path cannot tell, the keys can.
  const last = [...seen].at(-1)!;
  utimesSync(path.join(ctx, 'app/a.txt'), new Date(2001, 1, 1), new Date(2001, 1, 1));
  const touched = await build(root, ctx);
  t.deepEqual(touched.ran, []);
  t.is(touched.digest, last);
  await untouched(t, root, ctx, last);
  t.is(readFileSync(path.join(ctx, 'app/a.txt'), 'utf8'), 'AAA\n');
});

test('a new base image digest under the same name rebuilds every step; a moved tag or a pruned cache falls back to the normal path', async (t) => {
  const root = await storeWithBusybox();
  const ctx = context();
  const name = `fast-${path.basename(ctx).toLowerCase()}`;
  const first = await build(root, ctx);
  await untouched(t, root, ctx, first.digest);

  // busybox:latest now names another image.
  const base = makeContext({ Dockerfile: 'FROM busybox\nRUN echo v2 > /v2\n' });
  await tsbuildOk(['build', '-q', '-t', 'busybox:latest', base], { root });
  const rebased = await build(root, ctx);
  t.deepEqual(rebased.ran, ALL);
  t.is(await runSh(root, name, 'cat /v2'), 'v2\n');
  await untouched(t, root, ctx, rebased.digest);

  // The tag moved away (another image took the name): the build tags it again.
  await tsbuildOk(['tag', 'busybox:latest', name], { root });
  const retag = await build(root, ctx);
  t.deepEqual(retag.ran, []);
  t.is(retag.digest, rebased.digest);
  await untouched(t, root, ctx, rebased.digest);

  // prune (the image stays tagged, its cache records that only it keeps stay): still the same image.
  await tsbuildOk(['prune'], { root });
  const pruned = await build(root, ctx);
  t.is(pruned.digest, rebased.digest);
  await untouched(t, root, ctx, rebased.digest);
  // prune --all removes every record: the steps run again (same image, as nothing changed).
  await tsbuildOk(['prune', '--all'], { root });
  const again = await build(root, ctx);
  t.deepEqual(again.ran, ALL);
});

test('a build that must look elsewhere (--no-cache, --pull, an --output) never takes the fast path', async (t) => {
  const root = await storeWithBusybox();
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  await tsbuildOk(['push', 'busybox:latest', `${reg.host}/base/busybox:1`], { root });
  const ctx = context();
  writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE.replace('FROM busybox', `FROM ${reg.host}/base/busybox:1`));
  const first = await build(root, ctx);
  await untouched(t, root, ctx, first.digest);
  t.deepEqual((await build(root, ctx, ['--no-cache'])).ran, ALL);

  // --pull asks the registry: with the registry gone, it fails instead of answering from the record.
  await reg.stop();
  const pulled = await tsbuild(['build', '--progress=json', '--pull', ctx], { root });
  t.is(pulled.code, 1);
  t.regex(pulled.stderr, /base\/busybox/);
  const cached = await build(root, ctx);
  t.deepEqual(cached.ran, [], 'without --pull the local base serves');

  // A named context is a directory whose reads are not recorded: the normal path (all cached) answers.
  const named = makeContext({ 'extra.txt': 'x\n' });
  await build(root, ctx, ['--build-context', `extra=${named}`]);
  const namedAgain = await build(root, ctx, ['--build-context', `extra=${named}`]);
  t.deepEqual(namedAgain.ran, []);
  t.true(namedAgain.frontend, 'the normal path');

  const out = path.join(path.dirname(ctx), `${path.basename(ctx)}.tar`);
  t.teardown(() => rmSync(out, { force: true }));
  const exported = await build(root, ctx, ['-o', `type=oci,dest=${out}`]);
  t.deepEqual(exported.ran, []);
  t.true(statSync(out).size > 0, 'the archive was written');
});
