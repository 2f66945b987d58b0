// Runs the compiled tsbuild CLI against a private store, and makes the offline busybox base image.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, chmodSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = path.join(repoRoot, 'dist', 'tsbuild.mjs');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every directory tmpDir made for the tests of this file: stores, contexts, archives. */
const made: string[] = [];
test.after.always('remove the temporary directories of this file', () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, removed when this file's tests are done. */
export function tmpDir(prefix = 'tsbuild-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function tsbuild(args: string[], opts: { root: string; cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = { root: '' }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, TSBUILD_ROOT: opts.root, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    child.stdin?.end(opts.input);
    let stdout = '';
    let stderr = '';
    // stdout and stderr are pipes (stdio above); spawn's types only know that for a literal stdio.
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Fails the caller with the CLI's output when it did not succeed. */
export async function tsbuildOk(args: string[], opts: { root: string; cwd?: string; env?: NodeJS.ProcessEnv; input?: string }): Promise<CliResult> {
  const r = await tsbuild(args, opts);
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r;
}

/**
 * A store with the offline busybox base tagged as busybox:latest and localhost:5000/busybox:latest:
 * imported with the config the lab's reference base has (Env PATH, Cmd /bin/sh), so images built
 * on it compare with BuildKit's built on that one.
 */
export async function storeWithBusybox(): Promise<string> {
  const root = tmpDir('tsbuild-root-');
  const ctx = tmpDir('tsbuild-bb-');
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'busybox-context.sh'), ctx]);
  const changes = ['-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', 'CMD ["/bin/sh"]'];
  await tsbuildOk(['import', ...changes, path.join(ctx, 'rootfs'), 'busybox:latest'], { root });
  await tsbuildOk(['tag', 'busybox:latest', 'localhost:5000/busybox:latest'], { root });
  return root;
}

/** One busybox store for the tests of a file, made when the first test asks for it. */
export function sharedStore(): () => Promise<string> {
  let store: Promise<string> | undefined;
  return () => (store ??= storeWithBusybox());
}

/** What `sh -c script` prints in an image. */
export async function runSh(root: string, image: string, script: string): Promise<string> {
  return (await tsbuildOk(['run', image, 'sh', '-c', script], { root })).stdout;
}

/** A writable copy of a directory (shared/ is read-only). */
export function copyDir(src: string): string {
  const dest = tmpDir('tsbuild-ctx-');
  cpSync(src, dest, { recursive: true });
  const makeWritable = (p: string): void => {
    const st = statSync(p);
    chmodSync(p, st.mode | 0o200);
    if (st.isDirectory()) for (const n of readdirSync(p)) makeWritable(path.join(p, n));
  };
  makeWritable(dest);
  return dest;
}

/** A context directory from a map of file name → content. */
export function makeContext(files: Record<string, string>): string {
  const dir = tmpDir('tsbuild-ctx-');
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return dir;
}


export interface JsonEvent {
  type: string;
  id?: string;
  name?: string;
  data?: string;
  message?: string;
}

export function jsonEvents(stderr: string): JsonEvent[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as JsonEvent);
}
