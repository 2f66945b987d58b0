// Failure and interruption: a failing RUN reports step, exit code and output and leaves the store
// usable; Ctrl-C (SIGINT) or kill -9 of tsbuild mid-RUN leaves no container process and no mount behind.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { cliPath, makeContext, storeWithBusybox, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';

// Each test has its own store: both assert that the store's temporaries are empty.
const root = storeWithBusybox;

function mountsUnder(dir: string): string[] {
  return ['/proc/self/mountinfo', '/proc/1/mountinfo'].flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.includes(dir)));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Dead means gone, or a zombie waiting for the host's pid 1 to reap it (it holds nothing else). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/** Starts `tsbuild build ctx` and resolves once the RUN's `sleep marker` runs, with the container init's pid. */
async function buildUntilSleeping(t: { fail(m: string): void }, r0: string, ctx: string, marker: string) {
  const child = spawn(process.execPath, [cliPath, 'build', '--progress=json', ctx], { env: { ...process.env, TSBUILD_ROOT: r0 }, stdio: ['ignore', 'ignore', 'pipe'] });
  const out = { stderr: '' };
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  while (processesWith(`sleep ${marker}`).length === 0) {
    if (Date.now() > deadline) t.fail(`the RUN never started:\n${out.stderr}`);
    await sleep(50);
  }
  // The container's init is the sleep's parent (host pid).
  const sleepPid = processesWith(`sleep ${marker}`)[0]!;
  const initPid = Number(readFileSync(`/proc/${sleepPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  return { child, exited, initPid, out };
}

test('a failing RUN names the step, the exit code and its last output lines; the next build works', async (t) => {
  const r0 = await root();
  const lines = Array.from({ length: 15 }, (_, i) => `echo out${i + 1}`).join('; ');
  const ctx = makeContext({ Dockerfile: `FROM busybox\nRUN echo fine > /ok\nRUN ${lines}; echo to-stderr >&2; exit 3\n` });
  const r = await tsbuild(['build', '--progress=plain', '-t', 'fail:1', ctx], { root: r0 });
  t.is(r.code, 1);
  t.regex(r.stderr, /> \[3\/3\] RUN echo out1; .*exit 3:/);
  t.regex(r.stderr, /did not complete successfully: exit code: 3/);
  t.regex(r.stderr, /Dockerfile:3\n/);
  t.regex(r.stderr, /   out15\n   to-stderr\n------/);
  t.notRegex(r.stderr, / {3}out1\n/, 'only the last lines are repeated in the summary');
  t.notRegex(r.stderr, /\n\s+at .+:\d+:\d+/);
  // Nothing tagged, nothing left in the store's temporaries.
  t.notRegex((await tsbuildOk(['images'], { root: r0 })).stdout, /fail/);
  t.deepEqual(readdirSync(path.join(r0, 'tmp')), []);
  // Fix the step: the first RUN is reused from the cache.
  const ctx2 = makeContext({ Dockerfile: 'FROM busybox\nRUN echo fine > /ok\nRUN cat /ok\n' });
  const ok = await tsbuildOk(['build', '--progress=plain', '-t', 'fail:1', ctx2], { root: r0 });
  t.regex(ok.stderr, /\[2\/3\] RUN echo fine > \/ok\n#\d+ CACHED/);
  t.regex(ok.stderr, /#\d+ \d+\.\d+ fine\n/);
});

test('kill -9 of tsbuild during RUN sleep leaves no container process and no mount', async (t) => {
  const r0 = await root();
  const marker = '61.4321';
  const ctx = makeContext({ Dockerfile: `FROM busybox\nRUN echo started && sleep ${marker}\n` });
  const { child, exited, initPid } = await buildUntilSleeping(t, r0, ctx, marker);
  t.true(mountsUnder(r0).length === 0, 'the rootfs is mounted only inside the container mount namespace');
  t.regex(readFileSync(`/proc/${initPid}/cmdline`, 'utf8'), /tsbuild-init/);
  process.kill(child.pid!, 'SIGKILL');
  await exited;
  const gone = Date.now() + 5_000;
  while ((processesWith(`sleep ${marker}`).length > 0 || alive(initPid)) && Date.now() < gone) await sleep(50);
  t.deepEqual(processesWith(`sleep ${marker}`), [], 'the container process died with tsbuild');
  t.false(alive(initPid), 'the container init died with tsbuild');
  t.deepEqual(mountsUnder(r0), [], 'no mount left on the host');
  // The next build cleans the dead build's temporaries and works.
  const again = await tsbuildOk(['build', '-t', 'after-kill:1', makeContext({ Dockerfile: 'FROM busybox\nRUN echo ok\n' })], { root: r0 });
  t.regex(again.stderr, /writing image/);
  t.deepEqual(readdirSync(path.join(r0, 'tmp')), []);
});

test('SIGINT during RUN cancels the build: exit 130, container killed and reaped, no mount, store clean and usable', async (t) => {
  const r0 = await root();
  const marker = '62.4321';
  const ctx = makeContext({ Dockerfile: `FROM busybox\nRUN echo started && sleep ${marker}\n` });
  const { child, exited, initPid, out } = await buildUntilSleeping(t, r0, ctx, marker);
  const sent = Date.now();
  process.kill(child.pid!, 'SIGINT');
  t.is(await exited, 130, out.stderr);
  t.true(Date.now() - sent < 10_000, 'cancelled at once, not when the RUN ended');
  t.regex(out.stderr, /build cancelled/);
  // Unlike kill -9, tsbuild itself kills and reaps the container before it exits: nothing to wait for.
  t.false(alive(initPid), 'the container init was reaped');
  const gone = Date.now() + 2_000;
  while (processesWith(`sleep ${marker}`).length > 0 && Date.now() < gone) await sleep(50);
  t.deepEqual(processesWith(`sleep ${marker}`), [], 'the RUN process died with its container');
  t.deepEqual(mountsUnder(r0), []);
  t.deepEqual(readdirSync(path.join(r0, 'tmp')), [], 'the cancelled build removed its temporaries itself');
  t.regex((await tsbuildOk(['build', '-t', 'after-sigint:1', makeContext({ Dockerfile: 'FROM busybox\nRUN echo ok > /ok\n' })], { root: r0 })).stderr, /writing image/);
  t.is((await tsbuildOk(['run', 'after-sigint:1', 'cat', '/ok'], { root: r0 })).stdout, 'ok\n');
  t.deepEqual(readdirSync(path.join(r0, 'tmp')), []);
});

test('prune removes the build cache but keeps what tagged images need; du accounts for it', async (t) => {
  const r0 = await root();
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN head -c 300000 /dev/urandom > /a\nRUN head -c 200000 /dev/urandom > /b\n' });
  await tsbuildOk(['build', '-q', '-t', 'kept:1', ctx], { root: r0 });
  // An untagged build leaves only build cache.
  await tsbuildOk(['build', '-q', makeContext({ Dockerfile: 'FROM busybox\nRUN head -c 500000 /dev/urandom > /junk\n' })], { root: r0 });
  const du = (await tsbuildOk(['du'], { root: r0 })).stdout;
  const reclaimable = /build cache \(reclaimable\)\s+(\d+(?:\.\d+)?)(kB|MB)/.exec(du);
  t.truthy(reclaimable, du);
  const pruned = await tsbuildOk(['prune'], { root: r0 });
  t.regex(pruned.stdout, /Total reclaimed space: \d/);
  t.regex((await tsbuildOk(['du'], { root: r0 })).stdout, /build cache \(reclaimable\)\s+0B/);
  // The tagged image still runs, and its cache stayed (its layers did anyway): a rebuild is all cached.
  t.is((await tsbuildOk(['run', 'kept:1', 'sh', '-c', 'wc -c < /a'], { root: r0 })).stdout, '300000\n');
  const again = await tsbuildOk(['build', '--progress=plain', '-t', 'kept:1', ctx], { root: r0 });
  t.regex(again.stderr, /RUN head -c 300000 [^\n]*\n#\d+ CACHED/);
  t.regex(again.stderr, /RUN head -c 200000 [^\n]*\n#\d+ CACHED/);
  t.regex(again.stderr, /writing image/);
  // The untagged build's steps did go.
  const junk = await tsbuildOk(['build', '--progress=plain', makeContext({ Dockerfile: 'FROM busybox\nRUN head -c 500000 /dev/urandom > /junk\n' })], { root: r0 });
  t.notRegex(junk.stderr, /CACHED/);
});
