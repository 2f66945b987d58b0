// Rootless builds (issue 13): an unprivileged user with subordinate id ranges builds w1, the example
// and a Dockerfile full of owners and whiteouts; each image equals the root build's, digest for
// digest (SOURCE_DATE_EPOCH). As that user nothing is written outside its store and temp dirs, a
// kill -9 leaves no process, and a user without ranges gets a warning, then a clear error where an
// owner cannot be represented.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath, makeContext, repoRoot, sharedDir, tmpDir, tsbuildOk, type CliResult } from '../helpers/cli.js';
import { processesWith } from '../helpers/processes.js';

// Builds must be reproducible for the digests to be compared.
const EPOCH = '1700000000';

interface User {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** A copy of dist/ and the addon the user can read (a clone may sit in a root-only directory). */
  cli: string;
}

const users: User[] = [];
test.after.always(() => {
  for (const u of users) {
    try {
      execFileSync('userdel', [u.name], { stdio: 'ignore' });
    } catch {
      // gone already
    }
  }
});

/** A fresh unprivileged user, with 65536 subordinate uids and gids when `subids`. */
function makeUser(name: string, subids: boolean): User {
  try {
    execFileSync('userdel', [name], { stdio: 'ignore' }); // left by a killed run
  } catch {
    // none
  }
  // -K: no ranges of useradd's own choosing (Debian gives new users some); only ours, or none.
  execFileSync('useradd', ['--no-create-home', '--shell', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  if (subids) execFileSync('usermod', ['--add-subuids', '400000-465535', '--add-subgids', '400000-465535', name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const home = tmpDir('tsbuild-home-');
  execFileSync('chown', [`${uid}:${gid}`, home]);
  const install = tmpDir('tsbuild-install-');
  chmodSync(install, 0o755);
  cpSync(path.join(repoRoot, 'dist'), path.join(install, 'dist'), { recursive: true });
  const addon = path.join('native', 'build', 'Release', 'tsbuild_native.node');
  mkdirSync(path.dirname(path.join(install, addon)), { recursive: true });
  cpSync(path.join(repoRoot, addon), path.join(install, addon));
  execFileSync('chmod', ['-R', 'a+rX', install]);
  const u = { name, uid, gid, home, cli: path.join(install, 'dist', path.basename(cliPath)) };
  users.push(u);
  return u;
}

let rootless: User | undefined;
const withSubids = (): User => (rootless ??= makeUser('tsbuild-rl', true));

/** A directory the test users can read. */
function readable(dir: string): string {
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

/** tsbuild as `u`, with the default store (no TSBUILD_ROOT): $HOME/.local/share/tsbuild. */
function asUser(u: User, args: string[], env: NodeJS.ProcessEnv = {}): { done: Promise<CliResult>; pid: () => number | undefined } {
  const child = spawn('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', process.execPath, u.cli, ...args], {
    cwd: u.home,
    env: { PATH: process.env.PATH, HOME: u.home, TMPDIR: process.env.TMPDIR, SOURCE_DATE_EPOCH: EPOCH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { done, pid: () => child.pid };
}

async function asUserOk(u: User, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const r = await asUser(u, args, env).done;
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(' ')} as ${u.name} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r;
}

/**
 * The busybox base storeWithBusybox makes, made with SOURCE_DATE_EPOCH by `run`, as root or as the
 * user from files the user owns (as a user's own files would be: root's are unmapped in its namespace).
 */
async function importBusybox(run: (args: string[]) => Promise<CliResult>, owner?: User): Promise<void> {
  const ctx = tmpDir('tsbuild-bb-');
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'busybox-context.sh'), ctx]);
  if (owner) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, ctx]);
  await run(['import', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', 'CMD ["/bin/sh"]', path.join(ctx, 'rootfs'), 'busybox:latest']);
  await run(['tag', 'busybox:latest', 'localhost:5000/busybox:latest']);
}
const userBusybox = (u: User): Promise<void> => importBusybox((args) => asUserOk(u, args), u);

const imageId = (r: CliResult): string => /(sha256:[a-f0-9]{64})/.exec(r.stdout + r.stderr)![1]!;

const ownersTar = (): string => {
  const dir = tmpDir('tsbuild-tar-');
  mkdirSync(path.join(dir, 't', 'a'), { recursive: true });
  mkdirSync(path.join(dir, 't', 'b'));
  writeFileSync(path.join(dir, 't', 'a', 'one'), '1');
  writeFileSync(path.join(dir, 't', 'b', 'two'), '2');
  const tar = path.join(dir, 'owners.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=7', '--group=8', '--mtime=@0', '-cf', tar, '-C', path.join(dir, 't'), 'a']);
  execFileSync('tar', ['--numeric-owner', '--owner=1000', '--group=1000', '--mtime=@0', '-rf', tar, '-C', path.join(dir, 't'), 'b']);
  return tar;
};

const OWNERS = [
  'FROM busybox',
  'RUN mkdir -p /data/sub && echo x > /data/sub/f && touch /data/keep && chown 1000:1000 /data/keep',
  // an opaque directory (sub) and a whiteout (keep)
  'RUN rm -rf /data/sub && mkdir /data/sub && echo y > /data/sub/g && rm /data/keep && chown -R 1000:1000 /data',
  'COPY --chown=123:456 c.txt /c.txt',
  'ADD owners.tar /o/',
  'RUN mkdir -p /var/x && touch /var/x/y',
  'RUN rm -rf /var && mkdir /var && echo e > /var/only',
  '',
].join('\n');

test.serial('rootless: w1, the example and a Dockerfile of owners and whiteouts give the root build\'s digests', async (t) => {
  const u = withSubids();
  const root = tmpDir('tsbuild-root-');
  const asRoot = (args: string[]): Promise<CliResult> => tsbuildOk(args, { root, env: { SOURCE_DATE_EPOCH: EPOCH } });
  await importBusybox(asRoot);
  const owners = makeContext({ Dockerfile: OWNERS, 'c.txt': 'hi\n' });
  cpSync(ownersTar(), path.join(owners, 'owners.tar'));
  const contexts = { w1: path.join(sharedDir, 'bench', 'w1-hello'), example: path.join(repoRoot, 'example'), owners: readable(owners) };
  // The shared w1 and the example may sit in root-only directories (a fresh clone): use copies.
  for (const k of ['w1', 'example'] as const) {
    const copy = tmpDir('tsbuild-ctx-');
    cpSync(contexts[k], copy, { recursive: true });
    contexts[k] = readable(copy);
  }
  await userBusybox(u);
  for (const [name, ctx] of Object.entries(contexts)) {
    // w1's `ls -la /app` writes the minute /app was last changed (during the build) into a file: two
    // builds on either side of a minute differ there, whoever runs them. Such a pair is built again.
    for (let attempt = 1; ; attempt++) {
      const minute = Math.floor(Date.now() / 60_000);
      const rootId = imageId(await asRoot(['build', '-q', '--no-cache', '-t', `${name}:1`, ctx]));
      const rootlessId = imageId(await asUserOk(u, ['build', '-q', '--no-cache', '-t', `${name}:1`, ctx]));
      if (rootlessId !== rootId && Math.floor(Date.now() / 60_000) !== minute && attempt < 3) continue;
      t.is(rootlessId, rootId, `${name}: the rootless image is the root one`);
      break;
    }
  }
  // Owners as the image says, seen from inside: uid 0 outside the namespace is the user, not root.
  const ls = (await asUserOk(u, ['run', '--rm', 'owners:1', 'sh', '-c', 'stat -c "%u:%g %n" /c.txt /data/sub /data/sub/g /o/a/one /o/b/two; ls /data; ls /var'])).stdout;
  t.is(ls, ['123:456 /c.txt', '1000:1000 /data/sub', '1000:1000 /data/sub/g', '7:8 /o/a/one', '1000:1000 /o/b/two', 'sub', 'only', ''].join('\n'));
  t.is((await asUserOk(u, ['run', '--rm', 'example:1'])).stdout, 'hello from tsbuild (running as app in /srv)\n');

  // The store is the user's default one, private; nothing else was written in its home.
  const store = path.join(u.home, '.local', 'share', 'tsbuild');
  t.is(statSync(store).uid, u.uid);
  t.is(statSync(store).mode & 0o777, 0o700);
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (path.join(dir, e.name) === store ? [] : [path.join(dir, e.name), ...(e.isDirectory() ? walk(path.join(dir, e.name)) : [])]));
  t.deepEqual(walk(u.home).map((p) => path.relative(u.home, p)), ['.local', '.local/share']);
  const shm = readdirSync('/dev/shm').filter((n) => statSync(path.join('/dev/shm', n)).uid === u.uid);
  t.deepEqual(shm, [], 'nothing of the user in /dev/shm');
});

test.serial('rootless: kill -9 mid-build leaves no process and no mount; the next build goes on', async (t) => {
  const u = withSubids();
  if (!readdirSync(path.join(u.home)).includes('.local')) await userBusybox(u);
  const marker = `40.${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}1`;
  const ctx = readable(makeContext({ Dockerfile: `FROM busybox\nRUN echo started && sleep ${marker}\n` }));
  const build = asUser(u, ['build', '--progress=plain', ctx]);
  const deadline = Date.now() + 30_000;
  while (processesWith(`sleep ${marker}`).length === 0 && Date.now() < deadline) await sleep(50);
  t.not(processesWith(`sleep ${marker}`).length, 0, 'the RUN is running');
  process.kill(build.pid()!, 'SIGKILL');
  await build.done;
  const gone = Date.now() + 5_000;
  while (processesWith(`sleep ${marker}`).length > 0 && Date.now() < gone) await sleep(50);
  t.deepEqual(processesWith(`sleep ${marker}`), [], 'the container died with the build');
  t.deepEqual(processesWith(u.cli), [], 'no tsbuild process of the user is left');
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(u.home), 'nothing of the build is mounted');
  const again = readable(makeContext({ Dockerfile: 'FROM busybox\nRUN echo again > /again\n' }));
  await asUserOk(u, ['build', '-q', again]);
  t.pass();
});

test.serial('rootless: RUN has the host network by default and only lo with --network=none; the copying snapshotter gives the same file tree', async (t) => {
  const u = withSubids();
  if (!readdirSync(u.home).includes('.local')) await userBusybox(u);
  const ctx = readable(makeContext({ Dockerfile: 'FROM busybox\nRUN cat /proc/net/dev > /host-net\nRUN --network=none cat /proc/net/dev > /none-net\n' }));
  await asUserOk(u, ['build', '-q', '-t', 'net:1', ctx]);
  const ifaces = (file: string): string[] => file.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
  const host = ifaces(readFileSync('/proc/net/dev', 'utf8'));
  t.deepEqual(ifaces((await asUserOk(u, ['run', '--rm', 'net:1', 'cat', '/host-net'])).stdout), host);
  t.deepEqual(ifaces((await asUserOk(u, ['run', '--rm', 'net:1', 'cat', '/none-net'])).stdout), ['lo']);
  // Whiteouts and opaque dirs made by copying instead of overlayfs (hosts without it). The layers
  // may differ (an opaque dir there is whiteouts of its entries here), the file tree may not.
  const owners = makeContext({ Dockerfile: OWNERS, 'c.txt': 'hi\n' });
  cpSync(ownersTar(), path.join(owners, 'owners.tar'));
  readable(owners);
  const tree = async (mode: 'overlay' | 'copy'): Promise<string> => {
    await asUserOk(u, ['build', '-q', '--no-cache', '-t', `tree:${mode}`, owners], { TSBUILD_SNAPSHOTTER: mode });
    return (await asUserOk(u, ['run', '--rm', `tree:${mode}`, 'sh', '-c', 'find / -xdev | sort | xargs stat -c "%n %u:%g %a %s"'])).stdout;
  };
  const overlay = await tree('overlay');
  t.regex(overlay, /^\/data\/sub\/g 1000:1000 644 2$/m);
  t.notRegex(overlay, /\/data\/keep|\/data\/sub\/f|\/var\/x/);
  t.is(await tree('copy'), overlay);
});

test.serial('rootless without subordinate ids: a warning, root-owned builds work, other owners are a clear error', async (t) => {
  const u = makeUser('tsbuild-rl1', false);
  const ok = readable(makeContext({ Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'A' }));
  const r = await asUserOk(u, ['build', '-q', '-t', 'single:1', ok]);
  t.regex(r.stderr, /WARNING: rootless with only your own id mapped \(no range for tsbuild-rl1 in \/etc\/subuid; no range for tsbuild-rl1 in \/etc\/subgid\)/);
  t.regex(r.stderr, /usermod --add-subuids 100000-165535 --add-subgids 100000-165535 tsbuild-rl1/);
  const bad = readable(makeContext({ Dockerfile: 'FROM scratch\nCOPY --chown=5:5 a /a\n', a: 'A' }));
  const f = await asUser(u, ['build', bad]).done;
  t.is(f.code, 1);
  t.regex(f.stderr, /owner 5:5 is outside the ids this rootless build can give files \(0-0\)/);
  t.regex(f.stderr, /hint: give your user a subordinate id range/);
  t.notRegex(f.stderr, /bug in tsbuild|\n\s+at /, 'a user error, no stack trace');
});
