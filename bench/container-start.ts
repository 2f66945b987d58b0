// Event-loop lag while containers start (issue 8): the largest delay of a 5 ms timer while 3 containers
// start at once, median of RUNS runs. `plain` is a bare busybox rootfs; `slow` adds deep mount targets that
// make the child's setup take ~100 ms (as in test/native/container-start.test.ts). It also prints the lag
// without the time the kernel kept the thread waiting for a CPU, which on a busy machine is most of it. Needs root.
//   npx tsx bench/container-start.ts [plain|slow] [RUNS]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnContainer, type Container, type ContainerSpec } from '../native/container.js';

const kind = process.argv[2] ?? 'plain';
const runs = Number(process.argv[3] ?? 5);
if (kind !== 'plain' && kind !== 'slow') throw new Error('usage: container-start.ts [plain|slow] [RUNS]');
const slowMounts: NonNullable<ContainerSpec['mounts']> = [
  { type: 'tmpfs', target: '/t' },
  ...Array.from({ length: 4 }, (_, i) => ({ type: 'tmpfs' as const, target: `/t/${i}${'/d'.repeat(1000)}` })),
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsbuild-bench-start-'));
const lower = path.join(tmp, 'lower');
fs.mkdirSync(path.join(lower, 'bin'), { recursive: true });
fs.copyFileSync('/usr/bin/busybox', path.join(lower, 'bin', 'true'));
fs.chmodSync(path.join(lower, 'bin', 'true'), 0o755);

let counter = 0;
function spec(): ContainerSpec {
  const dir = path.join(tmp, `run${counter++}`);
  const l = { upperdir: path.join(dir, 'upper'), workdir: path.join(dir, 'work'), mountpoint: path.join(dir, 'rootfs') };
  for (const d of Object.values(l)) fs.mkdirSync(d, { recursive: true });
  return {
    rootfs: { kind: 'overlay', lowerdirs: [lower], ...l },
    argv: ['/bin/true'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], hostname: 'bench',
    network: 'none', stdio: 'pipe', mounts: kind === 'slow' ? slowMounts : [],
  };
}

/** How long this thread has been runnable but waiting for a CPU, in ms (schedstat's run_delay). */
function cpuWaitMs(): number {
  return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
}

interface Lag {
  max: number;
  /** The same without the time the kernel gave the thread no CPU: what tsbuild itself held the loop for. */
  own: number;
}

/** Max lag of a 5 ms interval timer while `work` runs (the scheduling noise floor when it does nothing). */
async function lagDuring(work: () => Promise<void>): Promise<Lag> {
  let last = performance.now();
  let lastWait = cpuWaitMs();
  const lag = { max: 0, own: 0 };
  const timer = setInterval(() => {
    const now = performance.now();
    const wait = cpuWaitMs();
    lag.max = Math.max(lag.max, now - last - 5);
    lag.own = Math.max(lag.own, now - last - 5 - (wait - lastWait));
    last = now;
    lastWait = wait;
  }, 5);
  await new Promise((r) => setTimeout(r, 20));
  await work();
  await new Promise((r) => setTimeout(r, 10)); // a blocked loop shows in the tick after it
  clearInterval(timer);
  return lag;
}

async function once(): Promise<{ lag: Lag; start: number; idle: Lag }> {
  let start = 0;
  let containers: Container[] = [];
  const specs = [0, 1, 2].map(spec);
  const lag = await lagDuring(async () => {
    const t0 = performance.now();
    containers = await Promise.all(specs.map((s) => spawnContainer(s)));
    start = performance.now() - t0;
  });
  await Promise.all(containers.map((c) => c.wait()));
  const idle = await lagDuring(() => new Promise((r) => setTimeout(r, start)));
  return { lag, start, idle };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  const results: { lag: number; start: number }[] = [];
  for (let i = 0; i < runs; i++) results.push(await once());
  const ms = (xs: number[]) => `${xs.map((x) => x.toFixed(1)).join(', ')} ms; median ${median(xs).toFixed(1)} ms`;
  console.log(`${kind}: max timer lag per run ${ms(results.map((r) => r.lag.max))}`);
  console.log(`${kind}: the same without CPU waits ${ms(results.map((r) => r.lag.own))}`);
  console.log(`${kind}: 3 starts took (median) ${median(results.map((r) => r.start)).toFixed(1)} ms;` +
    ` idle lag over as long (median) ${median(results.map((r) => r.idle.max)).toFixed(1)} ms`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
