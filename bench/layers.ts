// `npm run stress:layers [-- --layers N]`: issue 12's scale check, an image of N (default 1,000)
// layers above busybox built, run, pushed to a real registry (docker-registry, started here), pulled
// into a fresh store and run again; prints each phase's time. Too slow for the suite on a loaded
// machine (test/e2e/deep-chain.test.ts does 200 layers); run it by hand.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { deepContext, deepSum } from '../test/helpers/deep-image.js';
import { startRegistry } from '../test/helpers/registry.js';

const repo = path.resolve(import.meta.dirname, '..');
const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));

/** Runs the built CLI on store `root`; rejects with its output unless it succeeds. */
function tsbuildOk(args: string[], opts: { root: string }): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repo, 'dist', 'tsbuild.mjs'), ...args], { env: { ...process.env, TSBUILD_ROOT: opts.root }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ stdout }) : reject(new Error(`tsbuild ${args.join(' ')}: exit ${code}\n${stderr.slice(-3000)}`))));
  });
}

/** A store with the offline busybox base as busybox:latest (as the tests' storeWithBusybox). */
async function storeWithBusybox(): Promise<string> {
  const root = tmp('tsbuild-root-');
  const bb = tmp('tsbuild-bb-');
  try {
    execFileSync('bash', [path.join(repo, 'scripts', 'busybox-context.sh'), bb]);
    await tsbuildOk(['import', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-c', 'CMD ["/bin/sh"]', path.join(bb, 'rootfs'), 'busybox:latest'], { root });
  } finally {
    rmSync(bb, { recursive: true, force: true });
  }
  return root;
}

const { values } = parseArgs({ options: { layers: { type: 'string', default: '1000' } } });
const layers = Number(values.layers);
if (!Number.isInteger(layers) || layers < 2) throw new Error(`--layers must be an integer of at least 2, not ${values.layers}`);

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const r = await fn();
  process.stdout.write(`${label.padEnd(34)} ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
  return r;
}

const root = await storeWithBusybox();
const fresh = tmp('tsbuild-root-');
const ctx = deepContext(tmp('tsbuild-deep-'), layers);
const reg = await startRegistry();
let failed = false;
try {
  const name = `${reg.host}/deep/chain:${layers}`;
  process.stdout.write(`${layers} layers above busybox (${layers - 1} COPY + 1 RUN); load ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}\n`);
  await timed('build', () => tsbuildOk(['build', '-q', '-t', name, ctx], { root }));
  const check = async (label: string, r: string): Promise<void> => {
    const out = await timed(label, async () => (await tsbuildOk(['run', name, 'cat', '/sum'], { root: r })).stdout);
    if (out !== deepSum(layers)) throw new Error(`${label}: /sum is ${JSON.stringify(out)}, want ${JSON.stringify(deepSum(layers))}`);
  };
  await check('run', root);
  await timed('push', () => tsbuildOk(['push', name], { root }));
  const info = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`], { encoding: 'utf8' })) as { Layers: string[] };
  if (info.Layers.length !== layers + 1) throw new Error(`the pushed manifest has ${info.Layers.length} layers, want ${layers + 1}`);
  process.stdout.write(`pushed manifest: ${info.Layers.length} layers\n`);
  await timed('pull (fresh store)', () => tsbuildOk(['pull', name], { root: fresh }));
  await check('run (fresh store, flattens again)', fresh);
} catch (e) {
  failed = true;
  process.stderr.write(`${(e as Error).message}\n`);
} finally {
  await reg.stop();
  for (const d of [root, fresh, ctx]) rmSync(d, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
