// Real containers: needs root, overlayfs and the built addon (npm run build:native).
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ContainerStartError,
  execCandidates,
  overlayMountData,
  overlayTakesVolatile,
  spawnContainer,
  type ContainerSpec,
  type ExitStatus,
} from '../../native/container.js';
import { TsbuildError } from '../../common/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const wrapperPath = path.join(repoRoot, 'native', 'container.ts');
const applets = ['sh', 'cat', 'echo', 'env', 'id', 'ls', 'ps', 'pwd', 'hostname', 'sleep', 'kill', 'rm', 'touch',
  'mkdir', 'grep', 'wc', 'stat', 'readlink', 'true', 'ip', 'mount', 'tr', 'sort', 'head', 'test'];

let tmp: string;
let lower: string;

test.before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbuild-container-test-'));
  lower = path.join(tmp, 'lower');
  fs.mkdirSync(path.join(lower, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(lower, 'etc'));
  fs.copyFileSync('/usr/bin/busybox', path.join(lower, 'bin', 'busybox'));
  fs.chmodSync(path.join(lower, 'bin', 'busybox'), 0o755);
  for (const a of applets) fs.symlinkSync('busybox', path.join(lower, 'bin', a));
  fs.writeFileSync(path.join(lower, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n');
  fs.writeFileSync(path.join(lower, 'etc', 'group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  fs.writeFileSync(path.join(lower, 'etc', 'doomed'), 'delete me\n');
  fs.writeFileSync(path.join(lower, 'notexec'), 'not executable\n');
});

test.after.always(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
function layout() {
  const dir = path.join(tmp, `run${counter++}`);
  const l = { upperdir: path.join(dir, 'upper'), workdir: path.join(dir, 'work'), mountpoint: path.join(dir, 'rootfs') };
  for (const d of Object.values(l)) fs.mkdirSync(d, { recursive: true });
  return l;
}

function baseSpec(argv: string[], over: Partial<ContainerSpec> = {}): ContainerSpec & { rootfs: { mountpoint: string } } {
  const l = layout();
  return {
    rootfs: { kind: 'overlay', lowerdirs: [lower], ...l },
    argv,
    env: ['PATH=/usr/bin:/bin', 'HOME=/root'],
    cwd: '/',
    uid: 0,
    gid: 0,
    additionalGids: [],
    hostname: 'buildkitsandbox',
    network: 'none',
    stdio: 'pipe',
    ...over,
  } as ContainerSpec & { rootfs: { mountpoint: string } };
}

function collect(s: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!s) return resolve('');
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

async function run(spec: ContainerSpec): Promise<{ stdout: string; stderr: string; status: ExitStatus }> {
  const c = await spawnContainer(spec);
  const [stdout, stderr, status] = await Promise.all([collect(c.stdout), collect(c.stderr), c.wait()]);
  return { stdout, stderr, status };
}

const sh = (script: string, over: Partial<ContainerSpec> = {}) => baseSpec(['sh', '-c', script], over);

function hostMountinfo(): string {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8') + fs.readFileSync('/proc/1/mountinfo', 'utf8');
}

function processGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z'); // a zombie is dead, just not reaped
  } catch {
    return true;
  }
}

/** Host pids running exactly `needle`; with `pidns` (a /proc/PID/ns/pid link), only inside that namespace. */
function processesWithCmdline(needle: string, pidns?: string): number[] {
  const found: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmd === needle && (!pidns || fs.readlinkSync(`/proc/${e}/ns/pid`) === pidns)) found.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

test('captures stdout and stderr and passes the exit code through', async (t) => {
  const r = await run(sh('echo out; echo err >&2; exit 3'));
  t.is(r.stdout, 'out\n');
  t.is(r.stderr, 'err\n');
  t.deepEqual(r.status, { exitCode: 3, signal: null });
});

test('reports a terminating signal', async (t) => {
  const r = await run(sh('kill -TERM $$; sleep 5'));
  t.deepEqual(r.status, { exitCode: null, signal: 'SIGTERM' });
});

test('exact env, cwd, and a missing cwd is created', async (t) => {
  const spec = sh('pwd; env', { env: ['PATH=/bin', 'FOO=bar baz'], cwd: '/work/sub/' });
  const r = await run(spec);
  t.is(r.status.exitCode, 0);
  const [pwd, ...env] = r.stdout.trim().split('\n');
  t.is(pwd, '/work/sub');
  // busybox sh adds PWD/SHLVL of its own; everything we passed must be there and nothing of the host's.
  t.true(env.includes('PATH=/bin'));
  t.true(env.includes('FOO=bar baz'));
  t.false(env.some((e) => e.startsWith('HOME=')));
  const upper = (spec.rootfs as { upperdir: string }).upperdir;
  const st = fs.statSync(path.join(upper, 'work', 'sub'));
  t.true(st.isDirectory());
  t.is(st.mode & 0o777, 0o755);
  t.is(st.uid, 0);
});

test('argv[0] is searched in the container PATH; default PATH without one', async (t) => {
  t.deepEqual(execCandidates('ls', ['PATH=/a:/b/']), ['/a/ls', '/b/ls']);
  t.deepEqual(execCandidates('./x', ['PATH=/a']), ['./x']);
  t.is(execCandidates('ls', []).length, 6);
  const r = await run(baseSpec(['echo', 'hi'], { env: [] }));
  t.is(r.stdout, 'hi\n');
});

test('uid, gid and additional groups', async (t) => {
  const r = await run(sh('id; cat /proc/self/status | grep -E "^(Uid|Gid|Groups|CapEff)"', {
    uid: 65534, gid: 65534, additionalGids: [5, 65534],
  }));
  t.is(r.status.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^uid=65534\(nobody\) gid=65534\(nogroup\) groups=/m);
  t.regex(r.stdout, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
  t.regex(r.stdout, /^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
  t.regex(r.stdout, /^Groups:\s+5 65534\s*$/m);
  t.regex(r.stdout, /^CapEff:\s+0+$/m);
});

test('root gets the default capability set, privileged gets everything', async (t) => {
  const r = await run(sh('grep -E "^Cap(Eff|Bnd)" /proc/self/status'));
  t.regex(r.stdout, /^CapEff:\s+00000000a80425fb$/m);
  t.regex(r.stdout, /^CapBnd:\s+00000000a80425fb$/m);
  const p = await run(sh('grep -E "^CapEff" /proc/self/status', { privileged: true }));
  t.notRegex(p.stdout, /a80425fb/);
});

test('hostname', async (t) => {
  const r = await run(sh('hostname', { hostname: 'buildkitsandbox' }));
  t.is(r.stdout, 'buildkitsandbox\n');
  t.is(os.hostname() === 'buildkitsandbox', false);
});

test('rlimits are set for the command, raising a hard limit too; -1 is unlimited', async (t) => {
  const script = 'ulimit -Sn; ulimit -Hn; ulimit -c; ulimit -Hc';
  const r = await run(sh(script, { rlimits: [{ name: 'nofile', soft: 333, hard: 4444 }, { name: 'core', soft: -1, hard: -1 }] }));
  t.is(r.status.exitCode, 0, r.stderr);
  t.is(r.stdout, '333\n4444\nunlimited\nunlimited\n');
  // Set before the credentials change: a command that is not root gets them too.
  const inherited = await run(sh('ulimit -Hn', { uid: 65534, gid: 65534, rlimits: [{ name: 'nofile', soft: 100, hard: 200 }] }));
  t.is(inherited.stdout, '200\n');
});

test('network none has only lo, and it is up', async (t) => {
  const r = await run(sh('cat /proc/net/dev; ip link show lo'));
  t.is(r.status.exitCode, 0, r.stderr);
  const ifaces = r.stdout.split('\n').filter((l) => /^\s*\w+:\s+\d/.test(l)).map((l) => l.trim().split(':')[0]);
  t.deepEqual(ifaces, ['lo']);
  t.regex(r.stdout, /<LOOPBACK,UP,LOWER_UP>/);
});

test('network host shares the host interfaces', async (t) => {
  const r = await run(sh('cat /proc/net/dev', { network: 'host' }));
  const count = (s: string) => s.split('\n').filter((l) => /^\s*[\w.@-]+:\s+\d/.test(l)).length;
  t.is(count(r.stdout), count(fs.readFileSync('/proc/net/dev', 'utf8')));
});

test('the pid namespace shows only the container: pid 1 is the init', async (t) => {
  const r = await run(sh('ls /proc | grep -E "^[0-9]+$"; echo ---; cat /proc/1/comm; echo $$'));
  const [pids, rest] = r.stdout.split('---\n');
  const list = pids!.trim().split('\n').map(Number);
  t.true(list.length <= 4, `pids: ${list.join(' ')}`); // init, sh, ls, grep
  t.true(list.includes(1));
  t.deepEqual(rest!.trim().split('\n'), ['tsbuild-init', '2']);
});

test('/proc, /sys (ro), /dev, hosts and resolv.conf', async (t) => {
  const r = await run(sh([
    'cat /etc/hosts /etc/resolv.conf',
    'ls /dev | sort | tr "\\n" " "; echo',
    'readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin',
    'echo x > /dev/null && cat /dev/zero | head -c 3 | wc -c',
    'touch /sys/x 2>/dev/null && echo sys-writable || echo sys-ro',
    'touch /etc/hosts 2>/dev/null && echo hosts-writable || echo hosts-ro',
    'test -c /dev/pts/ptmx && echo pts-ok',
    'touch /dev/shm/x && echo shm-ok',
  ].join('; '), { hosts: '127.0.0.1 localhost\n', resolvConf: 'nameserver 10.0.0.1\n' }));
  t.regex(r.stdout, /^127\.0\.0\.1 localhost\nnameserver 10\.0\.0\.1\n/);
  t.regex(r.stdout, /fd full null ptmx pts random shm stderr stdin stdout tty urandom zero/);
  t.regex(r.stdout, /pts\/ptmx\n\/proc\/self\/fd\n\/proc\/self\/fd\/0\n/);
  t.regex(r.stdout, /sys-ro/);
  t.regex(r.stdout, /hosts-ro/);
  t.regex(r.stdout, /pts-ok/);
  t.regex(r.stdout, /shm-ok/);
});

test('hosts is skipped silently when the rootfs has no /etc', async (t) => {
  const bare = path.join(tmp, 'bare');
  fs.mkdirSync(path.join(bare, 'bin'), { recursive: true });
  fs.copyFileSync('/usr/bin/busybox', path.join(bare, 'bin', 'sh'));
  fs.chmodSync(path.join(bare, 'bin', 'sh'), 0o755);
  const spec = sh('echo ok', { hosts: '127.0.0.1 localhost\n' });
  (spec.rootfs as { lowerdirs: string[] }).lowerdirs = [bare];
  const r = await run(spec);
  t.is(r.stdout, 'ok\n');
  t.false(fs.existsSync(path.join((spec.rootfs as { upperdir: string }).upperdir, 'etc')));
});

test('writes land in the upper dir, deletes leave a whiteout; nothing leaks to the lower', async (t) => {
  const spec = sh('echo hello > /new.txt; mkdir -p /a/b; rm /etc/doomed');
  const r = await run(spec);
  t.is(r.status.exitCode, 0, r.stderr);
  const upper = (spec.rootfs as { upperdir: string }).upperdir;
  t.is(fs.readFileSync(path.join(upper, 'new.txt'), 'utf8'), 'hello\n');
  t.true(fs.statSync(path.join(upper, 'a', 'b')).isDirectory());
  const wh = fs.statSync(path.join(upper, 'etc', 'doomed'));
  t.true(wh.isCharacterDevice());
  t.is(wh.rdev, 0);
  t.true(fs.existsSync(path.join(lower, 'etc', 'doomed')));
  t.false(fs.existsSync(path.join(lower, 'new.txt')));
});

test('several lowers stack top-most first', async (t) => {
  const top = path.join(tmp, 'top-layer');
  fs.mkdirSync(path.join(top, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(top, 'etc', 'passwd'), 'root:x:0:0:top:/:/bin/sh\n');
  const spec = sh('cat /etc/passwd; ls /bin/busybox');
  (spec.rootfs as { lowerdirs: string[] }).lowerdirs = [top, lower];
  const r = await run(spec);
  t.is(r.stdout, 'root:x:0:0:top:/:/bin/sh\n/bin/busybox\n');
});

test('overlay mount data is made relative to the common parent when shorter', (t) => {
  const base = '/var/lib/tsbuild/snapshots';
  const lowers = Array.from({ length: 3 }, (_, i) => `${base}/${i}/fs`);
  const o = overlayMountData(lowers, `${base}/9/fs`, `${base}/9/work`, '/tmp/m');
  t.is(o.chdir, base);
  const vol = overlayTakesVolatile() ? ',volatile' : '';
  t.is(o.data, `lowerdir=0/fs:1/fs:2/fs,upperdir=9/fs,workdir=9/work${vol}`);
  t.is(overlayMountData(['/a:b'], '/u,1', '/w', '/m').data, `lowerdir=/a\\:b,upperdir=/u\\,1,workdir=/w${vol}`);
  // 200 layers with absolute paths would exceed a page; relative ones fit.
  const many = Array.from({ length: 200 }, (_, i) => `${base}/${i}/fs`);
  t.true(overlayMountData(many, `${base}/u/fs`, `${base}/u/work`, '/m').data.length < 4096);
  const tooMany = many.map((p, i) => `/a${i}${p}`);
  t.throws(() => overlayMountData(tooMany, '/u', '/w', '/m'), { instanceOf: ContainerStartError, message: /options too long/ });
});

test('the rootfs overlay is volatile where the kernel has it (5.10+): its unmount does not sync the store\'s filesystem', async (t) => {
  t.false(overlayTakesVolatile('5.4.0-150-generic'));
  t.true(overlayTakesVolatile('5.10.0'));
  t.true(overlayTakesVolatile('6.1.0-28-amd64'));
  const r = await run(sh('grep " / / " /proc/self/mountinfo'));
  t.regex(r.stdout, / overlay overlay /);
  if (overlayTakesVolatile()) t.regex(r.stdout, /[ ,](fsync=)?volatile(,|\n|$)/); // 6.x shows it as fsync=volatile
  else t.notRegex(r.stdout, /volatile/);
});

test('overlay with no lowers mounts (an empty rootfs)', async (t) => {
  const spec = baseSpec(['/bin/sh']);
  (spec.rootfs as { lowerdirs: string[] }).lowerdirs = [];
  // Getting as far as exec proves the mount worked.
  const err = await t.throwsAsync(spawnContainer(spec), { instanceOf: ContainerStartError });
  t.is(err?.message, 'exec: "/bin/sh": No such file or directory');
  t.is(err?.reason, 'exec');
});

test('dir rootfs', async (t) => {
  const copy = path.join(tmp, 'dircopy');
  execFileSync('cp', ['-a', lower, copy]);
  const r = await run(sh('echo hi > /fromdir; cat /etc/group | wc -l', {
    rootfs: { kind: 'dir', path: copy },
  }));
  t.is(r.stdout.trim(), '3');
  t.is(fs.readFileSync(path.join(copy, 'fromdir'), 'utf8'), 'hi\n');
  t.false(hostMountinfo().includes(copy));
});

test('executable not found / not executable / bad cwd are clear start errors', async (t) => {
  const nf = await t.throwsAsync(spawnContainer(baseSpec(['nosuchcmd', 'x'])), { instanceOf: ContainerStartError });
  t.is(nf?.message, 'exec: "nosuchcmd": executable file not found in $PATH');
  t.is(nf?.reason, 'not-found');
  t.is(nf?.code, 'TSB_CONTAINER_START');
  t.is(nf?.kind, 'user');
  t.true(nf instanceof TsbuildError);
  const ne = await t.throwsAsync(spawnContainer(baseSpec(['/notexec'])), { instanceOf: ContainerStartError });
  t.is(ne?.message, 'exec: "/notexec": Permission denied');
  t.is(ne?.reason, 'exec');
  const cwd = await t.throwsAsync(spawnContainer(baseSpec(['true'], { cwd: '/notexec/sub' })), { instanceOf: ContainerStartError });
  t.regex(cwd?.message ?? '', /^chdir to cwd \("\/notexec\/sub"\) set in config: Not a directory$/);
  t.is(cwd?.reason, 'setup');
  const mnt = await t.throwsAsync(spawnContainer({ ...baseSpec(['true']), rootfs: { kind: 'overlay', lowerdirs: ['/nonexistent-lower'], upperdir: path.join(tmp, 'u1'), workdir: path.join(tmp, 'w1'), mountpoint: path.join(tmp, 'm1') } }), { instanceOf: ContainerStartError });
  t.regex(mnt?.message ?? '', /^mount overlay: /);
});

test('kill forwards signals to the command; default kills everything', async (t) => {
  const c = await spawnContainer(baseSpec(['sleep', '62']));
  c.kill('SIGTERM');
  t.deepEqual(await c.wait(), { exitCode: null, signal: 'SIGTERM' });
  c.kill(); // after exit: a no-op, not an error
});

test('abort during sleep kills the container and its background processes', async (t) => {
  const ac = new AbortController();
  const spec = sh('sleep 100 & echo started; sleep 60');
  const c = await spawnContainer(spec, { signal: ac.signal });
  const mountpoint = spec.rootfs.mountpoint;
  const seen = new Promise<void>((resolve) => c.stdout!.once('data', () => resolve()));
  await seen;
  // Only this container's processes: other tests (or anything else here) may run `sleep 100` too.
  const pidns = fs.readlinkSync(`/proc/${c.pid}/ns/pid`);
  t.is(processesWithCmdline('sleep 100', pidns).length, 1);
  t.false(hostMountinfo().includes(mountpoint), 'rootfs must not be mounted on the host');
  const started = Date.now();
  ac.abort();
  const status = await c.wait();
  t.deepEqual(status, { exitCode: null, signal: 'SIGKILL' });
  t.true(Date.now() - started < 2000);
  t.true(await until(() => processesWithCmdline('sleep 100', pidns).length === 0, 2000));
  t.false(hostMountinfo().includes(mountpoint));
});

test('the container exits when its command does, taking background processes along', async (t) => {
  const r = await run(sh('sleep 101 & echo bye'));
  t.is(r.stdout, 'bye\n');
  t.deepEqual(r.status, { exitCode: 0, signal: null });
  t.true(await until(() => processesWithCmdline('sleep 101').length === 0, 2000));
});

test('only stdio crosses into the command: no inherited fds', async (t) => {
  // Not exec'd by sh (two commands): lists the shell's own fds.
  const r = await run(sh('ls /proc/$$/fd; true'));
  t.is(r.stdout, '0\n1\n2\n');
});

test('wait() does not hang on streams nobody reads', async (t) => {
  const c = await spawnContainer(sh('echo unread'));
  t.deepEqual(await c.wait(), { exitCode: 0, signal: null });
  t.is(await collect(c.stdout), 'unread\n');
});

test('already-aborted signal rejects without starting', async (t) => {
  const ac = new AbortController();
  ac.abort();
  const spec = baseSpec(['true']);
  const thrown: unknown = await spawnContainer(spec, { signal: ac.signal }).catch((e: unknown) => e);
  t.is((thrown as { name?: string }).name, 'AbortError');
  t.deepEqual(fs.readdirSync(spec.rootfs.mountpoint), []);
});

test('kill -9 of tsbuild leaves no container process and no mount', async (t) => {
  const spec = baseSpec(['sleep', '63']);
  const script = path.join(tmp, 'victim.mts');
  fs.writeFileSync(script, [
    `import { spawnContainer } from ${JSON.stringify(pathToFileURL(wrapperPath).href)};`,
    `const c = await spawnContainer(${JSON.stringify(spec)});`,
    'process.stdout.write(JSON.stringify({ pid: c.pid }) + "\\n");',
    'await c.wait();',
  ].join('\n'));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`victim exited early: ${code}`)));
  });
  const { pid } = JSON.parse(line) as { pid: number };
  t.true(await until(() => processesWithCmdline('sleep 63').length > 0 && !processGone(pid), 5000));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  t.true(await until(() => processGone(pid), 3000), 'init must die with tsbuild');
  t.true(await until(() => processesWithCmdline('sleep 63').length === 0, 3000), 'no container process may remain');
  t.false(hostMountinfo().includes(spec.rootfs.mountpoint));
});

test('stdio inherit uses the caller\'s own fds', async (t) => {
  const spec = sh('echo to-out; echo to-err >&2; cat; echo "stdin done"', { stdio: 'inherit' });
  const script = path.join(tmp, 'inherit.mts');
  fs.writeFileSync(script, [
    `import { spawnContainer } from ${JSON.stringify(pathToFileURL(wrapperPath).href)};`,
    `const c = await spawnContainer(${JSON.stringify(spec)});`,
    'if (c.stdout !== null || c.stderr !== null) throw new Error("streams with inherit");',
    'const st = await c.wait();',
    'process.exitCode = st.exitCode ?? 99;',
  ].join('\n'));
  const out = execFileSync(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot, input: 'from-stdin\n', stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.is(out.toString(), 'to-out\nfrom-stdin\nstdin done\n');
});

test('parallel containers and child_process spawns do not hold each other up', async (t) => {
  const long = await spawnContainer(baseSpec(['sleep', '5']));
  const started = Date.now();
  const results = await Promise.all([
    ...Array.from({ length: 6 }, (_, i) => run(sh(`echo ${i}`))),
    new Promise<string>((resolve, reject) => {
      const p = spawn('sh', ['-c', 'echo host'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('close', () => resolve(out));
      p.on('error', reject);
    }),
  ]);
  t.true(Date.now() - started < 4000);
  t.is(results.at(-1), 'host\n');
  t.deepEqual(results.slice(0, 6).map((r) => (r as { stdout: string }).stdout), ['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
  long.kill();
  t.is((await long.wait()).signal, 'SIGKILL');
});

test('bind and tmpfs mounts (RUN --mount)', async (t) => {
  const cache = path.join(tmp, 'cache');
  fs.mkdirSync(cache, { recursive: true });
  fs.writeFileSync(path.join(cache, 'old'), 'cached\n');
  const secret = path.join(tmp, 'secret');
  fs.writeFileSync(secret, 's3cret\n');
  const spec = sh([
    'cat /root/.cache/old; echo new > /root/.cache/new',
    'cat /run/secrets/token; echo x > /run/secrets/token 2>/dev/null || echo secret-ro',
    'echo t > /tmp/t && grep -E " /tmp | /root/.cache | /run/secrets/token " /proc/self/mountinfo | wc -l',
  ].join('; '), {
    mounts: [
      { type: 'bind', source: cache, target: '/root/.cache' },
      { type: 'bind', source: secret, target: '/run/secrets/token', readonly: true },
      { type: 'tmpfs', target: '/tmp', sizeBytes: 1 << 20 },
    ],
  });
  const r = await run(spec);
  t.is(r.stdout, 'cached\ns3cret\nsecret-ro\n3\n', r.stderr);
  t.is(fs.readFileSync(path.join(cache, 'new'), 'utf8'), 'new\n');
  const upper = (spec.rootfs as { upperdir: string }).upperdir;
  t.false(fs.existsSync(path.join(upper, 'tmp', 't')), 'tmpfs writes stay out of the layer');
  t.false(hostMountinfo().includes(cache));
});
