// The end-of-run check of `npm test` (scripts/test.mjs): it must see each kind of thing a test can
// forget — a process it started, a container (a process in its own mount namespace with a mount of
// the run), a host mount, a temporary file — and nothing once they are gone.
import test from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error: a plain .mjs script without type declarations
import { leftovers, MARKER } from '../../scripts/leftovers.mjs';

interface Left {
  processes: Array<{ pid: number; cmdline: string }>;
  mounts: string[];
  files: string[];
}
const check = leftovers as (dir: string) => Left;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `ok` holds for what is left (a process needs a moment to exec or to die). */
async function until(dir: string, ok: (l: Left) => boolean): Promise<Left> {
  let l = check(dir);
  for (const end = Date.now() + 5000; !ok(l) && Date.now() < end; l = check(dir)) await sleep(20);
  return l;
}

test('finds a forgotten process, container, mount and file of a run, and nothing once they are gone', async (t) => {
  // A run directory of its own, so this test never sees the real run it is part of.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leftovers-'));
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) c.kill('SIGKILL');
    execFileSync('sh', ['-c', `umount ${dir}/host 2>/dev/null; true`]);
    rmSync(dir, { recursive: true, force: true });
  });
  t.deepEqual(check(dir), { processes: [], mounts: [], files: [] });

  const started = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess => {
    const c = spawn(cmd, args, { stdio: 'ignore', env });
    children.push(c);
    return c;
  };
  const marked = started('sleep', ['61'], { ...process.env, [MARKER]: dir });
  const naming = started(process.execPath, ['-e', 'setTimeout(() => {}, 62_000)', dir], { PATH: process.env.PATH });
  mkdirSync(path.join(dir, 'ns'));
  started('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs leftover-ns ${dir}/ns && exec sleep 63`], { PATH: process.env.PATH });
  mkdirSync(path.join(dir, 'host'));
  execFileSync('mount', ['-t', 'tmpfs', 'leftover-host', path.join(dir, 'host')]);
  writeFileSync(path.join(dir, 'forgotten'), '');
  mkdirSync(path.join(dir, `tsx-${process.getuid!()}`));

  // The namespaced one counts once its shell has exec'd sleep (before that it is `sh -c …`): wait for that too.
  const left = await until(dir, (l) => l.processes.length >= 3 && l.mounts.length >= 2 && l.processes.some((p) => p.cmdline === 'sleep 63'));
  const pids = left.processes.map((p) => p.pid);
  t.true(pids.includes(marked.pid!), 'a process with the run marker');
  t.true(pids.includes(naming.pid!), 'a process naming the run directory');
  const inContainer = left.processes.find((p) => p.cmdline === 'sleep 63');
  t.truthy(inContainer, 'a process in a mount namespace with a mount of the run');
  t.true(left.mounts.some((m) => m.includes('leftover-host') && !m.startsWith('(mount namespace')), 'the host mount');
  t.true(left.mounts.some((m) => m.includes('leftover-ns') && m.startsWith(`(mount namespace of pid ${inContainer!.pid})`)), 'the container mount');
  t.deepEqual(left.files, ['forgotten', 'host', 'ns'], "files, but not tsx's compile cache");

  for (const c of children) c.kill('SIGKILL');
  execFileSync('umount', [path.join(dir, 'host')]);
  rmSync(path.join(dir, 'forgotten'));
  rmSync(path.join(dir, 'host'), { recursive: true });
  rmSync(path.join(dir, 'ns'), { recursive: true });
  t.deepEqual(await until(dir, (l) => l.processes.length === 0), { processes: [], mounts: [], files: [] });
});
