// The store is private to its owner, and a secret never outlives the build that mounted it (DESIGN §5,
// issue 12 items 1 and 2): the attacks as they were found, run against the real CLI.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliPath, makeContext, sharedStore, storeWithBusybox, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';

const root = sharedStore();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs argv as the user nobody; returns its exit status. */
function asNobody(argv: string[]): number | null {
  return spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], { stdio: 'ignore' }).status;
}

/** Every path under dir (as root), files and directories; what goes meanwhile (other builds' temporaries) is skipped. */
function walk(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

test('no other user can run a setuid file or open a device node from the store, also one made world-readable before', async (t) => {
  const r0 = await root();
  chmodSync(r0, 0o755); // a store made by an earlier tsbuild
  // A tar holding a setuid-root busybox and a block device node for the host's first disk.
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nADD evil.tar /x/\n' });
  execFileSync('python3', ['-c', `
import tarfile, sys
with tarfile.open(sys.argv[1], 'w') as tar:
    i = tar.gettarinfo('/bin/busybox', 'id-suid'); i.mode = 0o4755; i.uid = i.gid = 0
    with open('/bin/busybox', 'rb') as f: tar.addfile(i, f)
    d = tarfile.TarInfo('disk'); d.type = tarfile.BLKTYPE; d.devmajor = 8; d.devminor = 0; d.mode = 0o666
    tar.addfile(d)
`, path.join(ctx, 'evil.tar')]);
  await tsbuildOk(['build', '-q', '-t', 'evil:1', ctx], { root: r0 });
  const suid = walk(r0).filter((p) => p.endsWith('/x/id-suid'));
  const disk = walk(r0).filter((p) => p.endsWith('/x/disk'));
  t.true(suid.length > 0 && disk.length > 0, 'the unpacked files are in the store');
  t.is(statSync(suid[0]!).mode & 0o4000, 0o4000, 'the image keeps its setuid bit');
  t.is(statSync(r0).mode & 0o777, 0o700, 'the store root is private again');
  for (const p of suid) t.not(asNobody([p, 'id']), 0, `nobody cannot run ${p}`);
  for (const p of disk) t.not(asNobody(['head', '-c', '1', p]), 0, `nobody cannot open ${p}`);
  t.not(asNobody(['ls', path.join(r0, 'snapshots')]), 0, 'nobody cannot list snapshots');
  t.not(asNobody(['cat', path.join(r0, 'index.json')]), 0, 'nobody cannot read the image index');
  // The owner still reads the store as an OCI layout.
  t.is(asNobody(['test', '-e', r0]), 0);
  t.regex(readFileSync(path.join(r0, 'index.json'), 'utf8'), /evil:1/);
});

/** Files under dir changed since `since` whose content includes value (skips what cannot be read, and package trees). */
function filesContaining(dir: string, value: string, since = 0): string[] {
  const out: string[] = [];
  const visit = (d: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (depth < 8 && e.name !== 'node_modules' && e.name !== '.git') visit(p, depth + 1);
        continue;
      }
      try {
        const st = statSync(p);
        if (st.isFile() && st.mtimeMs >= since && readFileSync(p).includes(value)) out.push(p);
      } catch {
        // gone meanwhile, or unreadable
      }
    }
  };
  visit(dir, 0);
  return out;
}

test('kill -9 during RUN --mount=type=secret leaves the secret nowhere; an old leftover in /dev/shm goes at the next start', async (t) => {
  const r0 = await root();
  const started = Date.now() - 1000;
  const value = `s3cr3t-${process.pid}-${Date.now()}`;
  const secretDir = tmpDir();
  const src = path.join(secretDir, 'tok');
  writeFileSync(src, value);
  const marker = '59.8765';
  const ctx = makeContext({ Dockerfile: `FROM busybox\nRUN --mount=type=secret,id=tok test -s /run/secrets/tok && echo mounted && sleep ${marker}\n` });
  const child = spawn(process.execPath, [cliPath, 'build', '--progress=plain', '--secret', `id=tok,src=${src}`, ctx], { env: { ...process.env, TSBUILD_ROOT: r0 }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!stderr.includes('mounted')) {
    if (Date.now() > deadline || child.exitCode !== null) return t.fail(`the RUN never mounted the secret:\n${stderr}`);
    await sleep(50);
  }
  // While it runs, no host path holds it: it lives only in the container's mount namespace.
  t.deepEqual(filesContaining('/dev/shm', value), []);
  t.deepEqual(filesContaining(r0, value), []);
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  // What an earlier tsbuild left behind after such a kill.
  const legacy = path.join('/dev/shm', `tsbuild-secret-test${process.pid}`);
  mkdirSync(legacy, { recursive: true });
  writeFileSync(path.join(legacy, 'tok'), value);
  await tsbuildOk(['images'], { root: r0 });
  t.deepEqual(filesContaining('/dev/shm', value), [], 'no copy in /dev/shm');
  t.deepEqual(filesContaining(r0, value), [], 'no copy in the store');
  // tsbuild's temporaries go to its store or to the temporary directory (the run's own under npm test);
  // only what changed during this test is read.
  t.deepEqual(filesContaining(os.tmpdir(), value, started).filter((p) => !p.startsWith(secretDir)), [], 'no copy in the temporary directory');
});

test('a secret printed by a RUN is masked in plain and JSON output and in the failure report', async (t) => {
  const r0 = await root();
  const src = path.join(tmpDir(), 'tok');
  writeFileSync(src, 'p4ssw0rd-value\n');
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok; echo "env: $(cat /run/secrets/tok)"; exit 1\n' });
  for (const progress of ['plain', 'json']) {
    const r = await tsbuild(['build', `--progress=${progress}`, '--secret', `id=tok,src=${src}`, ctx], { root: r0 });
    t.is(r.code, 1);
    t.false(r.stderr.includes('p4ssw0rd-value') || r.stdout.includes('p4ssw0rd-value'), `${progress}: the value never shows`);
    t.regex(r.stderr, /env: \*\*\*\*/);
  }
});

test('8 concurrent builds on a cold store (4 identical, 4 different) all succeed; the identical ones give one image id', async (t) => {
  const r0 = await storeWithBusybox();
  // `date` with nanoseconds: two processes that each ran the step would make different layers.
  const identical = makeContext({ Dockerfile: 'FROM busybox\nCOPY f /f\nRUN date +%s%N > /stamp && sleep 0.3\nRUN cat /f /stamp > /both\n', f: 'same\n' });
  const contexts = [identical, identical, identical, identical, ...[1, 2, 3, 4].map((n) => makeContext({ Dockerfile: `FROM busybox\nRUN echo ${n} > /n && date +%s%N > /stamp\n` }))];
  const results = await Promise.all(contexts.map((ctx) => tsbuild(['build', '-q', ctx], { root: r0 })));
  for (const r of results) t.is(r.code, 0, r.stderr);
  const ids = results.map((r) => r.stdout.trim());
  t.is(new Set(ids.slice(0, 4)).size, 1, `the identical builds: ${ids.slice(0, 4).join(' ')}`);
  t.is(new Set(ids.slice(4)).size, 4);
});
