#!/usr/bin/env python3
"""tui-lines.py [--runs N] [--lines N]: a RUN that prints N lines (default 100,000), built with
--progress=tty in a real terminal (tmux) against --progress=plain: wall time and peak RSS (issue 11's
figure; goal: the TUI under 5% more than plain).

Three modes, alternating run by run (A B C, C B A, ...) so drift in the machine's load lands on all alike:
  tty          --progress=tty in a tmux window (120x40)
  plain-tty    --progress=plain in the same kind of window (the terminal's cost without the TUI)
  plain-file   --progress=plain to a file (a CI log)
Every build is --no-cache on one store (busybox base, made once), so each run runs the RUN. In tmux,
the build runs under this script's --child mode, which takes wall time around spawn and wait4 and
peak RSS from wait4's rusage (the largest resident set of tsbuild or a descendant it waited for).
Prints a markdown table of medians and the ratios to plain-file and plain-tty, with the load average.
Needs root (the build's namespaces), tmux and busybox-static; run after npm run build.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, 'dist', 'tsbuild.mjs')
NODE = shutil.which('node') or sys.execpath


def child(out, argv):
    """--child OUT ARGV...: run ARGV on this terminal; write its wall time, peak RSS and exit code to OUT."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    with open(out + '.tmp', 'w') as f:
        json.dump({'seconds': wall, 'rss_mb': ru.ru_maxrss / 1024, 'rc': os.waitstatus_to_exitcode(status)}, f)
    os.rename(out + '.tmp', out)


def terminal_env(store):
    # As test/helpers/terminal.ts: ink draws only a last frame when it thinks it runs in CI.
    env = {k: v for k, v in os.environ.items() if k not in ('CI', 'CONTINUOUS_INTEGRATION') and not k.startswith('CI_')}
    env.update(TERM='xterm-256color', TSBUILD_ROOT=store)
    return env


def main():
    args = sys.argv[1:]
    if args[:1] == ['--child']:
        return child(args[1], args[2:])
    runs, lines = 5, 100_000
    while args:
        if args[0] == '--runs':
            runs = int(args[1])
        elif args[0] == '--lines':
            lines = int(args[1])
        else:
            sys.exit(__doc__)
        args = args[2:]
    work = tempfile.mkdtemp(prefix='tsbuild-tui-bench-')
    sock = os.path.join(work, 'tmux')
    store = os.path.join(work, 'store')
    env = terminal_env(store)
    try:
        bb = os.path.join(work, 'bb')
        subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'busybox-context.sh'), bb], check=True)
        subprocess.run([NODE, CLI, '--root', store, 'import', '-c', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                        os.path.join(bb, 'rootfs'), 'busybox:latest'], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx = os.path.join(work, 'ctx')
        os.makedirs(ctx)
        with open(os.path.join(ctx, 'Dockerfile'), 'w') as f:
            f.write(f'FROM busybox\nRUN seq 1 {lines}\n')
        build = [NODE, CLI, 'build', '--no-cache', ctx]
        tmux = ['tmux', '-S', sock, '-f', '/dev/null']
        # A session that stays: without one, tmux's server exits after each build's and the next races its exit.
        subprocess.run([*tmux, 'new-session', '-d', '-s', 'keep', 'sleep', '86400'], check=True, env=env)

        def in_tmux(progress, n):
            out = os.path.join(work, f'r{n}.json')
            cmd = [sys.executable, os.path.abspath(__file__), '--child', out, *build, f'--progress={progress}']
            subprocess.run([*tmux, 'new-session', '-d', '-s', f'b{n}', '-x', '120', '-y', '40', *cmd], check=True, env=env)
            while not os.path.exists(out):
                time.sleep(0.05)
            subprocess.run([*tmux, 'kill-session', '-t', f'b{n}'], stderr=subprocess.DEVNULL, env=env)
            with open(out) as f:
                return json.load(f)

        def to_file(n):
            out = os.path.join(work, f'r{n}.log')
            with open(out, 'w') as log:
                t0 = time.monotonic()
                p = subprocess.Popen([*build, '--progress=plain'], stdout=log, stderr=log, env=env)
                _, status, ru = os.wait4(p.pid, 0)
                return {'seconds': time.monotonic() - t0, 'rss_mb': ru.ru_maxrss / 1024, 'rc': os.waitstatus_to_exitcode(status)}

        modes = {'tty': lambda n: in_tmux('tty', n), 'plain-tty': lambda n: in_tmux('plain', n), 'plain-file': to_file}
        samples = {m: [] for m in modes}
        loads = []
        n = 0
        for i in range(runs + 1):
            order = list(modes) if i % 2 == 0 else list(reversed(modes))
            for m in order:
                n += 1
                r = modes[m](n)
                if r['rc'] != 0:
                    sys.exit(f'{m}: tsbuild exited {r["rc"]} (logs in {work})')
                # Run 0 warms the page cache and the store; it is not counted.
                if i > 0:
                    samples[m].append(r)
                    loads.append(os.getloadavg()[0])
                print(f'run {i} {m}: {r["seconds"]:.2f}s {r["rss_mb"]:.0f}MB', file=sys.stderr)
        med = {m: (statistics.median(s['seconds'] for s in v), statistics.median(s['rss_mb'] for s in v)) for m, v in samples.items()}
        print(f'\n{lines} lines, median of {runs} alternating runs, load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs\n')
        print('| mode | wall s | ÷ plain-file | ÷ plain-tty | peak RSS MB | ÷ plain-file |')
        print('|---|---|---|---|---|---|')
        for m, (s, rss) in med.items():
            print(f'| {m} | {s:.2f} | {s / med["plain-file"][0]:.3f} | {s / med["plain-tty"][0]:.3f} | {rss:.0f} | {rss / med["plain-file"][1]:.3f} |')
    finally:
        subprocess.run(['tmux', '-S', sock, 'kill-server'], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
