// ADD of git repositories (a real git daemon on loopback) and RUN --mount=type=ssh with a real ssh-agent.
import test from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { makeContext, sharedStore, tmpDir, tsbuild, tsbuildOk } from '../helpers/cli.js';
import { gitServer } from '../helpers/gitserver.js';

const root = sharedStore();
/** The ssh-agents started here (each leads its own process group). */
const children: ChildProcess[] = [];
test.after.always(() => {
  for (const c of children) process.kill(-c.pid!, 'SIGKILL');
});

test('ADD of a git repository: default branch, a tag, a subdir, --keep-git-dir', async (t) => {
  const { url, v1 } = await gitServer();
  const ctx = makeContext({
    Dockerfile: [
      'FROM busybox',
      `ADD ${url} /head`,
      `ADD ${url}#v1 /tagged`,
      `ADD ${url}#main:sub /sub`,
      `ADD --keep-git-dir=true ${url}#v1 /withgit`,
      '',
    ].join('\n'),
  });
  await tsbuildOk(['build', '-t', 'remote:git', ctx], { root: await root() });
  const out = (await tsbuildOk(['run', 'remote:git', 'sh', '-c', 'cat /head/README /tagged/README /sub/file.txt; ls -a /head | grep -c "^.git$"; ls -d /withgit/.git'], { root: await root() })).stdout;
  t.is(out, 'version two\nversion one\nin subdir\n0\n/withgit/.git\n');
  void v1;
});

test('a bad git ref fails clearly', async (t) => {
  const { url } = await gitServer();
  const r = await tsbuild(['build', makeContext({ Dockerfile: `FROM busybox\nADD ${url}#nosuchref /x\n` })], { root: await root() });
  t.is(r.code, 1);
  t.regex(r.stderr, /git ref "nosuchref" not found/);
});

test('RUN --mount=type=ssh forwards an ssh-agent socket given with --ssh; required without it fails', async (t) => {
  const dir = tmpDir('tsbuild-ssh-');
  const sock = path.join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore', detached: true });
  children.push(agent);
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('test', ['-S', sock]);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const ctx = makeContext({ Dockerfile: 'FROM busybox\nRUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /sock\n' });
  await tsbuildOk(['build', '-t', 'remote:ssh', '--ssh', `default=${sock}`, ctx], { root: await root() });
  t.is((await tsbuildOk(['run', 'remote:ssh', 'cat', '/sock'], { root: await root() })).stdout, '/run/buildkit/ssh_agent.0\n');
  const missing = await tsbuild(['build', '--no-cache', ctx], { root: await root() });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /ssh agent "default" is required but was not provided/);
});
