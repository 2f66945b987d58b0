// What a test run left behind. The run gets a private TMPDIR (every temporary file of a test, store
// and tool goes there) and a marker in the environment of everything it starts; afterwards, whatever
// still carries the marker, names that directory, or is mounted from it, was forgotten by a test.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The environment variable that marks a test run's processes; its value is the run's TMPDIR. */
export const MARKER = 'TSBUILD_TEST_RUN';

function read(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // exited meanwhile, or not ours to read
  }
}

function mountNamespace(pid) {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return '';
  }
}

/**
 * Processes, mounts and files the run with TMPDIR `dir` left: processes that carry its marker, name
 * `dir` on their command line or live in a mount namespace that mounts something of it (a container);
 * mounts of it on the host or in such a namespace; entries of `dir` except tsx's compile cache.
 */
export function leftovers(dir) {
  const own = mountNamespace('self');
  const processes = [];
  const mounts = new Set();
  for (const l of [...read('/proc/self/mountinfo').split('\n'), ...read('/proc/1/mountinfo').split('\n')]) if (l.includes(dir)) mounts.add(l);
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    // A zombie holds nothing; whoever its parent is will reap it.
    if (read(`/proc/${pid}/stat`).split(') ')[1]?.[0] === 'Z') continue;
    const cmdline = read(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
    const marked = read(`/proc/${pid}/environ`).split('\0').includes(`${MARKER}=${dir}`);
    const ns = mountNamespace(pid);
    const nsMounts = ns && ns !== own ? read(`/proc/${pid}/mountinfo`).split('\n').filter((l) => l.includes(dir)) : [];
    for (const l of nsMounts) mounts.add(`(mount namespace of pid ${pid}) ${l}`);
    if (marked || cmdline.includes(dir) || nsMounts.length > 0) processes.push({ pid: Number(pid), cmdline });
  }
  const uid = process.getuid?.() ?? 0;
  let files = [];
  try {
    files = readdirSync(dir).filter((n) => n !== `tsx-${uid}`).sort();
  } catch {
    // no directory, no files
  }
  return { processes, mounts: [...mounts], files };
}
