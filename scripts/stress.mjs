#!/usr/bin/env node
// `npm run stress [-- --trials N --seed S]`: kill -9 tsbuild at random points of builds (with a
// RUN --mount=type=secret), pushes, pulls and prunes, against a registry this script starts and stops,
// and after each trial check what the kill left: processes and mounts (leftovers.mjs), the store
// (tsbuild fsck: a damaged blob or a tag whose image is not whole fails, any other finding is
// counted), the registry (a pushed tag that exists must be whole), and at the end the secret's value
// anywhere in /dev/shm, the stores, the registry and TMPDIR. Prints a summary; exits 1 on a failure.
// Needs a built dist/ (npm run build), docker-registry, skopeo and busybox-static. Not part of npm test.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { leftovers, MARKER } from './leftovers.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(repo, 'dist', 'tsbuild.mjs');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TRIALS = arg('trials', 60);
const SEED = arg('seed', Date.now() % 1e9);
if (!existsSync(cli)) {
  console.error('stress: dist/tsbuild.mjs is missing: run npm run build first');
  process.exit(2);
}

/** mulberry32: a seeded PRNG, so a failing run can be repeated with --seed. */
let state = SEED >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(random() * xs.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-stress-'));
const tmp = path.join(work, 'tmp');
const root = path.join(work, 'root');
const secret = `stress-secret-${randomBytes(16).toString('hex')}`;
mkdirSync(tmp);
const env = { ...process.env, TMPDIR: tmp, [MARKER]: work, STRESS_SECRET: secret, TSBUILD_GC_KEEP_STORAGE: 'off' };
delete env.TSBUILD_ROOT;

/** Runs tsbuild to the end; returns its exit code and output. */
function tsbuild(args, storeRoot = root) {
  const r = spawnSync(process.execPath, [cli, '--root', storeRoot, ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function ok(args, storeRoot) {
  const r = tsbuild(args, storeRoot);
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(' ')} exited ${r.code}\n${r.stderr}`);
  return r;
}

/** Starts tsbuild and kills it with SIGKILL after `delayMs` (if it is still running). */
async function killedRun(args, delayMs, storeRoot = root) {
  const child = spawn(process.execPath, [cli, '--root', storeRoot, ...args], { env, stdio: 'ignore' });
  const started = Date.now();
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  const { code, signal } = await exited;
  clearTimeout(timer);
  return { killed: signal === 'SIGKILL', code, ms: Date.now() - started };
}

// The registry: the real one, on a free loopback port, dying with this script.
let registry;
async function startRegistry() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const config = path.join(work, 'registry.yml');
    writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${JSON.stringify(path.join(work, 'registry'))}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    const child = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', '/usr/bin/docker-registry', 'serve', config], { stdio: 'ignore', env: { PATH: process.env.PATH } });
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      if (child.exitCode !== null) break;
      const up = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false);
      if (up) return { child, host: `127.0.0.1:${port}` };
    }
    child.kill('SIGKILL');
  }
  throw new Error('docker-registry did not start');
}

const context = path.join(work, 'ctx');
function makeContext() {
  mkdirSync(path.join(context, 'files'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(path.join(context, 'files', `f${i}`), randomBytes(2000));
  writeFileSync(
    path.join(context, 'Dockerfile'),
    [
      'FROM busybox',
      'ARG N',
      'RUN --mount=type=secret,id=tok test -s /run/secrets/tok && sleep 0.3 && echo "$N" > /n',
      'RUN head -c "$(( (N % 4 + 1) * 1000000 ))" /dev/urandom > /data',
      'COPY files/ /files/',
      'RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len && sleep 0.2',
      '',
    ].join('\n'),
  );
}

const ops = {
  build: (n) => ['build', '--secret', 'id=tok,env=STRESS_SECRET', '--build-arg', `N=${n}`, '-t', `stress:${n}`, '--progress=plain', context],
  push: (n, host) => (built.length ? ['push', `stress:${pick(built)}`, `${host}/stress:p${n}`] : undefined),
  pull: (n, host) => (pushed.length ? ['pull', `${host}/stress:p${pick(pushed)}`] : undefined),
  prune: () => ['prune'],
};
const built = [];
const pushed = [];

const failures = [];
const counts = { trials: 0, killed: 0, finished: 0, byOp: {}, leakedProcesses: 0, leakedMounts: 0, corruptBlobs: 0, halfTagsLocal: 0, halfTagsRegistry: 0, otherFindings: {} };

/** Waits for what a killed tsbuild started to go (PDEATHSIG), then reports what stayed. */
async function checkLeaks(trial) {
  let left = leftovers(work);
  const ours = (l) => ({ processes: l.processes.filter((p) => p.pid !== registry.child.pid && !p.cmdline.includes('docker-registry')), mounts: l.mounts });
  for (const until = Date.now() + 5000; Date.now() < until && (ours(left).processes.length || ours(left).mounts.length); left = leftovers(work)) await sleep(100);
  const { processes, mounts } = ours(left);
  counts.leakedProcesses += processes.length;
  counts.leakedMounts += mounts.length;
  for (const p of processes) failures.push(`trial ${trial}: process ${p.pid} left: ${p.cmdline}`);
  for (const m of mounts) failures.push(`trial ${trial}: mount left: ${m}`);
}

/** fsck of a store after a kill (its first start since: stale temporaries go); repairs what it finds to go on. */
function checkStore(trial, storeRoot) {
  const r = tsbuild(['fsck', '--format', 'json'], storeRoot);
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    failures.push(`trial ${trial}: fsck failed: ${r.stderr}`);
    return;
  }
  for (const p of report.problems) {
    if (p.area === 'blob') {
      counts.corruptBlobs++;
      failures.push(`trial ${trial}: ${p.area} ${p.id}: ${p.problem}`);
    } else if (p.area === 'image' || p.area === 'index') {
      counts.halfTagsLocal++;
      failures.push(`trial ${trial}: ${p.area} ${p.id}: ${p.problem}`);
    } else {
      const kind = `${p.area}: ${p.problem.replace(/[a-f0-9]{16,}/g, '…')}`;
      counts.otherFindings[kind] = (counts.otherFindings[kind] ?? 0) + 1;
    }
  }
  if (report.problems.length) ok(['fsck', '--repair'], storeRoot);
  const stale = readdirSync(path.join(storeRoot, 'tmp'));
  if (stale.length) failures.push(`trial ${trial}: ${storeRoot}/tmp not cleaned at the next start: ${stale.join(', ')}`);
}

/** A tag the killed push made visible must be a whole image: manifest, config and every layer. */
function checkPushed(trial, ref) {
  const raw = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' });
  if (raw.status !== 0) return false; // never written: fine
  const dest = path.join(work, 'copy');
  rmSync(dest, { recursive: true, force: true });
  const copy = spawnSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${dest}`], { encoding: 'utf8' });
  rmSync(dest, { recursive: true, force: true });
  if (copy.status !== 0) {
    counts.halfTagsRegistry++;
    failures.push(`trial ${trial}: registry tag ${ref} is visible but not whole: ${copy.stderr.trim().split('\n').at(-1)}`);
    return false;
  }
  return true;
}

function secretCopies() {
  const r = spawnSync('grep', ['-rlF', '--devices=skip', secret, '/dev/shm', work], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

async function main() {
  registry = await startRegistry();
  const host = registry.host;
  execFileSync('bash', [path.join(repo, 'scripts', 'busybox-context.sh'), path.join(work, 'bb')], { stdio: 'ignore' });
  ok(['import', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', 'CMD ["/bin/sh"]', path.join(work, 'bb', 'rootfs'), 'busybox:latest']);
  makeContext();
  // The secret search must be able to find a copy: one planted and found first.
  writeFileSync(path.join(tmp, 'planted'), `x${secret}x`);
  if (secretCopies().length !== 1) throw new Error('the secret search did not find a planted copy');
  rmSync(path.join(tmp, 'planted'));
  // One uncut run of each operation sets the range of its kill times.
  const t0 = Date.now();
  ok(ops.build(0));
  built.push(0);
  const duration = { build: Date.now() - t0 };
  let t = Date.now();
  ok(ops.push(0, host));
  pushed.push(0);
  duration.push = Date.now() - t;
  t = Date.now();
  ok(ops.pull(0, host), path.join(work, 'pull'));
  duration.pull = Date.now() - t;
  // An uncut prune of one untagged build's cache.
  ok(ops.build(-1).filter((a, i, all) => !(a === '-t' || all[i - 1] === '-t')));
  t = Date.now();
  ok(ops.prune());
  duration.prune = Date.now() - t;
  console.log(`stress: seed ${SEED}, ${TRIALS} trials; uncut runs: build ${duration.build} ms, push ${duration.push} ms, pull ${duration.pull} ms, prune ${duration.prune} ms`);

  for (let n = 1; n <= TRIALS; n++) {
    const r = random();
    const op = r < 0.45 ? 'build' : r < 0.65 ? 'push' : r < 0.85 ? 'pull' : 'prune';
    const storeRoot = op === 'pull' ? path.join(work, `pull`) : root;
    if (op === 'pull') rmSync(storeRoot, { recursive: true, force: true }); // checked after the last pull: a fresh store transfers everything
    if (op === 'prune') for (const k of built.splice(0, Math.max(0, built.length - 3))) ok(['rmi', `stress:${k}`]);
    const args = ops[op](n, host);
    const delay = Math.floor(random() * duration[op] * 1.1);
    const res = await killedRun(args, delay, storeRoot);
    counts.trials++;
    counts.byOp[op] = (counts.byOp[op] ?? 0) + 1;
    if (res.killed) counts.killed++;
    else {
      counts.finished++;
      if (res.code !== 0) failures.push(`trial ${n}: ${op} exited ${res.code} without being killed`);
      if (op === 'build') built.push(n);
    }
    await checkLeaks(n);
    checkStore(n, storeRoot);
    if (op === 'push' && checkPushed(n, `${host}/stress:p${n}`)) pushed.push(n);
    process.stdout.write(`  ${String(n).padStart(3)} ${op.padEnd(5)} ${res.killed ? `killed at ${String(delay).padStart(5)} ms` : `finished (${res.ms} ms)`}\n`);
  }
  // The store still builds, and every image in it reads.
  ok(ops.build(TRIALS + 1));
  const copies = secretCopies();
  for (const f of copies) failures.push(`secret value found in ${f}`);
  const other = Object.entries(counts.otherFindings).map(([k, v]) => `${v}× ${k}`);
  console.log(
    [
      '',
      `stress summary (seed ${SEED}):`,
      `  trials: ${counts.trials} (${Object.entries(counts.byOp).map(([k, v]) => `${k} ${v}`).join(', ')}); killed ${counts.killed}, finished before the kill ${counts.finished}`,
      `  leaked processes: ${counts.leakedProcesses}, leaked mounts: ${counts.leakedMounts}`,
      `  corrupt blobs (fsck): ${counts.corruptBlobs}`,
      `  half-written tags: ${counts.halfTagsLocal} local, ${counts.halfTagsRegistry} in the registry`,
      `  leftover secret copies (/dev/shm, stores, registry, TMPDIR): ${copies.length}`,
      `  other fsck findings (repaired, not failures): ${other.length ? other.join('; ') : 'none'}`,
      `  result: ${failures.length ? `FAIL (${failures.length})` : 'PASS'}`,
      ...failures.slice(0, 30).map((f) => `    ${f}`),
    ].join('\n'),
  );
}

let status = 0;
try {
  await main();
  status = failures.length ? 1 : 0;
} catch (e) {
  console.error(`stress: ${e.stack ?? e}`);
  status = 2;
} finally {
  registry?.child.kill('SIGKILL');
  await sleep(200);
  if (leftovers(work).mounts.length === 0) rmSync(work, { recursive: true, force: true });
  else console.log(`stress: ${work} kept: something is still mounted under it`);
}
process.exit(status);
