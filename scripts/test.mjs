#!/usr/bin/env node
// `npm test`: ava (with any arguments given) in a private TMPDIR, then a check that the run left
// nothing behind. A process, a mount or a temporary file of the run fails it as a failed test does,
// and is then removed, so one careless test does not leave the machine to the next run.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { leftovers, MARKER } from './leftovers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-test-run-'));
// As open as /tmp: some tests act as another user, who must reach their files as in /tmp.
chmodSync(dir, 0o1777);
const ava = spawn(process.execPath, [path.join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: dir, [MARKER]: dir },
});
// Ctrl-C reaches ava as well: let it stop its workers, then check what they left.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => ava.kill('SIGTERM'));
const avaStatus = await new Promise((resolve) => ava.on('exit', (code, signal) => resolve(code ?? 128 + os.constants.signals[signal])));

// A process a test killed at its end may take a moment to go.
let left = leftovers(dir);
for (const until = Date.now() + 5000; (left.processes.length > 0 || left.mounts.length > 0) && Date.now() < until; left = leftovers(dir)) {
  await new Promise((r) => setTimeout(r, 100));
}

const report = [
  ...left.processes.map((p) => `process ${p.pid}: ${p.cmdline}`),
  ...left.mounts.map((m) => `mount: ${m}`),
  ...left.files.slice(0, 20).map((f) => `temporary file: ${f}`),
  ...(left.files.length > 20 ? [`temporary files: ${left.files.length - 20} more`] : []),
];
if (report.length > 0) {
  // The ✘ marks are what .ci/run counts as failures.
  console.log(`\n  Tests left behind (in TMPDIR ${dir}):`);
  for (const line of report) console.log(`  ✘ [leftover] ${line}`);
  console.log('  Each test must stop what it starts and remove what it makes (t.teardown, test.after.always).\n');
}
for (const p of left.processes) {
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}
// Never delete through a mount: what is mounted there belongs to someone else.
if (left.mounts.length === 0) rmSync(dir, { recursive: true, force: true });
else console.log(`  ${dir} is kept: something is still mounted under it.`);
process.exit(avaStatus !== 0 ? avaStatus : report.length > 0 ? 1 : 0);
