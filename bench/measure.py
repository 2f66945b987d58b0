#!/usr/bin/env python3
"""measure.py: one benchmark row, tools alternating run by run.

  measure.py --results FILE --row ID --runs N [--warmup W] --logs DIR \\
      --tool NAME [--prep SHELL] --cmd 'ARGV' [--tool NAME [--prep SHELL] --cmd 'ARGV' ...]

For run i = 0..N-1 every tool runs once, in the order given on even runs and reversed on odd runs
(A B, B A, A B, ...), so drift in the machine's load lands on both tools alike. Before each timed run
the tool's --prep (a bash string: reset a store, prune a cache, touch a file) runs untimed. The timed
command (--cmd, split like a shell would split it, no shell in between) is spawned directly; its
wall-clock time is taken around spawn and wait4, and its peak RSS is the rusage of wait4 (the largest
resident set of the process or any descendant it waited for, as /usr/bin/time -v reports).
--warmup W runs prep + cmd W times per tool first, untimed (for no-change rows: builds the state).
--daemon PIDFILE (per tool): the command is a client of that daemon (dockerd); the CPU time of the
daemon's process tree during the run is added to the client's own (see cpu below).
--idle-wait S: after the prep, wait up to S seconds (default 0) for a quiet machine (less than half a
CPU busy over 0.5 s, read from /proc/stat) before starting the timed command, so that runs start in
the gaps of other work on a shared machine; the CPU busy share seen at the start is recorded either way.

Appends one JSON line per sample to --results:
  {"row", "tool", "run", "seconds", "rss_mb", "rc", "load1", "busy", "waited", "log"}
(busy: CPUs busy in the 0.5 s before the start, of os.cpu_count(); waited: seconds spent waiting for that;
 cpu: user + system CPU seconds of the command and the descendants it waited for, plus, with --daemon,
 the growth of the daemon's process tree's CPU time (its live processes' own and reaped children's):
 a figure that other work on the machine disturbs much less than the wall clock)
and prints a one-line summary per tool to stderr. A tool that fails (prep or cmd exit code != 0)
is recorded with rc and skipped for the rest of the row; the last lines of its log are printed.
"""
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


def parse(argv):
    opts = {'runs': 5, 'warmup': 0, 'idle-wait': 0.0, 'tools': []}
    i = 0
    while i < len(argv):
        a = argv[i]
        v = argv[i + 1] if i + 1 < len(argv) else None
        if a in ('--results', '--row', '--logs'):
            opts[a[2:]] = v
        elif a in ('--runs', '--warmup'):
            opts[a[2:]] = int(v)
        elif a == '--idle-wait':
            opts['idle-wait'] = float(v)
        elif a == '--tool':
            opts['tools'].append({'name': v, 'prep': None, 'cmd': None, 'daemon': None})
        elif a in ('--prep', '--cmd', '--daemon'):
            if not opts['tools']:
                sys.exit(f'measure.py: {a} before --tool')
            opts['tools'][-1][a[2:]] = v
        else:
            sys.exit(f'measure.py: unknown argument {a}')
        i += 2
    for k in ('results', 'row', 'logs'):
        if k not in opts:
            sys.exit(f'measure.py: --{k} is required')
    for t in opts['tools']:
        if not t['cmd']:
            sys.exit(f"measure.py: tool {t['name']} has no --cmd")
    return opts


def tail(path, n=15):
    try:
        with open(path, errors='replace') as f:
            return ''.join('    | ' + l for l in f.readlines()[-n:])
    except OSError:
        return ''


def run_prep(prep, log):
    if not prep:
        return 0
    with open(log, 'ab') as f:
        f.write(f'$ (prep) {prep}\n'.encode())
        f.flush()
        return subprocess.run(['bash', '-c', prep], stdout=f, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode


def cpu_ticks():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v[:8]) - idle, sum(v[:8])


def busy_cpus(window=0.5):
    """CPUs' worth of busy time over the next `window` seconds."""
    b0, t0 = cpu_ticks()
    time.sleep(window)
    b1, t1 = cpu_ticks()
    return (b1 - b0) / (t1 - t0) * os.cpu_count() if t1 > t0 else 0.0


def wait_idle(limit):
    start = time.monotonic()
    busy = busy_cpus()
    while busy >= 0.5 and time.monotonic() - start < limit:
        busy = busy_cpus()
    return busy, time.monotonic() - start


TICK = os.sysconf('SC_CLK_TCK')


def tree_cpu(pidfile):
    """CPU seconds of the process tree under the pid in pidfile: utime + stime + cutime + cstime of each."""
    if not pidfile:
        return 0.0
    try:
        root = int(open(pidfile).read().strip())
    except (OSError, ValueError):
        return 0.0
    kids, ticks = {}, {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            st = open(f'/proc/{d}/stat').read()
        except OSError:
            continue
        f = st[st.rfind(')') + 2:].split()
        pid, ppid = int(d), int(f[1])
        kids.setdefault(ppid, []).append(pid)
        ticks[pid] = sum(int(x) for x in f[11:15])
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo.extend(kids.get(p, []))
    return total / TICK


def timed(argv, log, daemon=None):
    """Spawn argv with stdout+stderr to log; return (seconds, peak RSS in MB, exit code, CPU seconds)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open('/dev/null', os.O_RDONLY)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)]
        d0 = tree_cpu(daemon)
        t0 = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter()
        d1 = tree_cpu(daemon)
    finally:
        os.close(fd)
        os.close(null)
    return t1 - t0, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime + max(0.0, d1 - d0)


def main():
    o = parse(sys.argv[1:])
    os.makedirs(o['logs'], exist_ok=True)
    tools = o['tools']
    for t in tools:
        t['argv'] = shlex.split(t['cmd'])
        t['ok'] = True
        t['samples'] = []

    def log_of(t, what):
        return os.path.join(o['logs'], f"{o['row']}.{t['name']}.{what}.log")

    for w in range(o['warmup']):
        for t in tools:
            log = log_of(t, f'warmup{w}')
            if run_prep(t['prep'], log) != 0 or timed(t['argv'], log, t['daemon'])[2] != 0:
                print(f"  {o['row']} {t['name']}: warm-up failed (log {log})\n{tail(log)}", file=sys.stderr)
                t['ok'] = False

    with open(o['results'], 'a') as res:
        for i in range(o['runs']):
            order = tools if i % 2 == 0 else list(reversed(tools))
            for t in order:
                if not t['ok']:
                    continue
                log = log_of(t, f'run{i}')
                load1 = os.getloadavg()[0]
                rc = run_prep(t['prep'], log)
                secs = rss = busy = waited = cpu = None
                if rc != 0:
                    rc = f'prep {rc}'
                else:
                    busy, waited = wait_idle(o['idle-wait'])
                    secs, rss, rc, cpu = timed(t['argv'], log, t['daemon'])
                rec = {'row': o['row'], 'tool': t['name'], 'run': i, 'seconds': secs, 'rss_mb': rss,
                       'rc': rc, 'load1': load1, 'busy': busy, 'waited': waited, 'cpu': cpu, 'log': log}
                res.write(json.dumps(rec) + '\n')
                res.flush()
                if rc != 0:
                    t['ok'] = False
                    print(f"  {o['row']} {t['name']} run {i} failed ({rc}; log {log})\n{tail(log)}", file=sys.stderr)
                else:
                    t['samples'].append((secs, rss, cpu))

    for t in tools:
        s = t['samples']
        if not s:
            print(f"  {o['row']:<16} {t['name']:<9} no successful run", file=sys.stderr)
            continue
        secs = [x for x, _, _ in s]
        rss = [y for _, y, _ in s]
        cpu = [z for _, _, z in s]
        print(f"  {o['row']:<16} {t['name']:<9} median {statistics.median(secs):8.3f}s  "
              f"min {min(secs):.3f}  max {max(secs):.3f}  n={len(s)}  rss {statistics.median(rss):.0f} MB  "
              f"cpu {statistics.median(cpu):.3f}s",
              file=sys.stderr)


if __name__ == '__main__':
    main()
