#!/usr/bin/env python3
"""report.py RESULTS.jsonl: the ratio table of `npm run bench` (markdown), from measure.py's samples.

Every figure is the median of that row's successful runs; ratio = tsbuild's median / the reference's
median (BuildKit for most rows; below 1 = tsbuild faster). The goal beside each row is issue 10's.
The CPU column is the same ratio for CPU time (user + system; BuildKit's includes its daemon's), which
other work on a shared machine disturbs much less than the wall clock: a check on the wall-clock ratio.
Rows with no samples are left out; a tool with failures shows how many of its runs failed.
"""
import json
import statistics
import sys

# id, label, (tool, reference), goal kind, goal value, goal text
#   kind 'ratio': met when tsbuild/reference <= value; 'abs': met when tsbuild's median <= value (seconds);
#   'rss': met when tsbuild's median peak RSS <= value (MB); None: no numeric goal
ROWS = [
    ('start', '`tsbuild --version` (reference: `node -e 0`)', ('tsbuild', 'node'), None, None, 'close to Node\'s own start-up'),
    ('w1.cold', 'w1 cold (`--no-cache`, base present)', ('tsbuild', 'buildkit'), 'ratio', 0.8, '≤ 0.8'),
    ('w1.nochange', 'w1 no-change rebuild', ('tsbuild', 'buildkit'), 'ratio', 0.9, '≤ 0.9'),
    ('w3.cold', 'w3 cold (`--no-cache`; three 2 s stages in parallel)', ('tsbuild', 'buildkit'), 'abs', 2.1, '≤ 1.05× the 2.0 s critical path (≤ 2.10 s)'),
    ('w3.nochange', 'w3 no-change rebuild', ('tsbuild', 'buildkit'), 'ratio', 0.9, '≤ 0.9'),
    ('big.first', '20k files / 220 MB context, first build (fresh store / pruned BuildKit cache)', ('tsbuild', 'buildkit'), None, None, '— (not in the issue)'),
    ('big.cold', '20k files / 220 MB context, cold (`--no-cache`)', ('tsbuild', 'buildkit'), 'ratio', 0.6, '≤ 0.6'),
    ('big.nochange', 'same, no change', ('tsbuild', 'buildkit'), 'ratio', 0.5, '≤ 0.5'),
    ('big.change', 'same, one file changed', ('tsbuild', 'buildkit'), 'ratio', 0.4, '≤ 0.4'),
    ('big.rss', 'peak RSS, 220 MB context (first build)', ('tsbuild', None), 'rss', 150, '≤ 150 MB'),
    ('big40k.rss', 'peak RSS, 40k files / 440 MB context (first build)', ('tsbuild', None), 'rss', 150, '≤ 150 MB and flat (≤ 1.1× the 220 MB figure)'),
    ('w1.store5', 'w1 no-change, store that built 5 other 20k-file contexts (reference: fresh store)', ('store5', 'fresh'), 'ratio', 1.1, 'as fast as a fresh store (≤ 1.1)'),
    ('apt.cold', 'apt: `apt-get install` curl, jq, ca-certificates; cold (`--no-cache`)', ('tsbuild', 'buildkit'), 'ratio', 1.0, '≤ 1.0 (no slower than BuildKit)'),
    ('apt.nochange', 'apt: no-change rebuild', ('tsbuild', 'buildkit'), 'ratio', 1.5, '≤ 1.5'),
    ('c.cold', 'c: gcc from apt, make, multi-stage; cold (`--no-cache`)', ('tsbuild', 'buildkit'), 'ratio', 1.0, '≤ 1.0 (no slower than BuildKit)'),
    ('c.nochange', 'c: no-change rebuild', ('tsbuild', 'buildkit'), 'ratio', 1.5, '≤ 1.5'),
    ('c.change', 'c: one source file changed (recompile, copy to slim stage)', ('tsbuild', 'buildkit'), None, None, '— (no goal in the issue)'),
    ('bigrun.cold', 'bigrun: RUN writes ~200 MB (100 MiB random + 100 MB text); cold (`--no-cache`)', ('tsbuild', 'buildkit'), 'ratio', 1.0, '≤ 1.0 (no slower than BuildKit)'),
    ('bigrun.nochange', 'bigrun: no-change rebuild', ('tsbuild', 'buildkit'), 'ratio', 1.5, '≤ 1.5'),
]
DERIVED = {'big.rss': 'big.first', 'big40k.rss': 'big40k.first'}
NAMES = {'buildkit': 'BuildKit', 'node': '`node -e 0`', 'fresh': 'fresh store', 'store5': 'used store'}


def load(path):
    samples = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        samples.setdefault((r['row'], r['tool']), []).append(r)
    return samples


def ok(rs):
    return [r for r in rs if r['rc'] == 0 and r['seconds'] is not None]


def med(rs, key):
    v = [r[key] for r in ok(rs) if r.get(key) is not None]
    return statistics.median(v) if v else None


def secs(v):
    if v is None:
        return '—'
    return f'{v:.3f} s' if v < 10 else f'{v:.2f} s'


def spread(rs, key='seconds'):
    v = sorted(r[key] for r in ok(rs))
    if not v:
        return '—'
    fmt = (lambda x: f'{x:.0f}') if key == 'rss_mb' else (lambda x: f'{x:.3f}' if x < 10 else f'{x:.1f}')
    return f'{fmt(v[0])}–{fmt(v[-1])}'


def count(rs):
    good = len(ok(rs))
    bad = len(rs) - good
    return f'{good}' + (f' ({bad} failed)' if bad else '')


def main():
    s = load(sys.argv[1])
    out = []
    out.append('| row | tsbuild | reference | ratio | goal | met | CPU-time ratio | range tsbuild / reference | runs |')
    out.append('|---|---|---|---|---|---|---|---|---|')
    rss20 = med(s.get(('big.first', 'tsbuild'), []), 'rss_mb')
    realistic = []
    for rid, label, (tool, ref), kind, goal, gtext in ROWS:
        src = DERIVED.get(rid, rid)
        a = s.get((src, tool), [])
        b = s.get((src, ref), []) if ref else []
        if not a and not b:
            continue
        refname = NAMES.get(ref, ref) if ref else ''
        if kind == 'rss':
            va = med(a, 'rss_mb')
            cell_a = f'{va:.0f} MB' if va is not None else '—'
            cell_b = '—'
            ratio = '—'
            met = '—' if va is None else ('yes' if va <= goal else 'no')
            if rid == 'big40k.rss' and va is not None and rss20:
                flat = va / rss20
                ratio = f'{flat:.2f}× the 220 MB figure'
                met = 'yes' if va <= goal and flat <= 1.1 else 'no'
            rng = spread(a, 'rss_mb') + ' MB'
            n = count(a)
            cpu = '—'
        else:
            va, vb = med(a, 'seconds'), med(b, 'seconds')
            cell_a = secs(va)
            cell_b = (secs(vb) + (f' ({refname})' if ref not in ('buildkit',) else '')) if b else '—'
            r = va / vb if va is not None and vb else None
            ratio = f'{r:.2f}' if r is not None else '—'
            if kind == 'ratio':
                met = '—' if r is None else ('yes' if r <= goal else 'no')
            elif kind == 'abs':
                met = '—' if va is None else ('yes' if va <= goal else 'no')
            else:
                met = '—'
            if rid == 'start' and va is not None and vb is not None:
                ratio += f' (+{(va - vb) * 1000:.0f} ms)'
            if rid.endswith('.cold') and rid.split('.')[0] in ('apt', 'c', 'bigrun') and r is not None:
                realistic.append((rid, r))
            ca, cb = med(a, 'cpu'), med(b, 'cpu')
            cpu = f'{ca / cb:.2f} ({ca:.2f} / {cb:.2f} s)' if ca is not None and cb else '—'
            rng = spread(a) + (' / ' + spread(b) if b else '')
            n = count(a) + (' / ' + count(b) if b else '')
        out.append(f'| {label} | {cell_a} | {cell_b} | {ratio} | {gtext} | {met} | {cpu} | {rng} | {n} |')
    print('\n'.join(out))

    if realistic:
        rs = [r for _, r in realistic]
        print(f'\nRealistic workloads, cold: tsbuild took {min(rs):.2f}–{max(rs):.2f}× BuildKit\'s time '
              f'(median {statistics.median(rs):.2f}× over {len(rs)} cases).')
    loads = [r['load1'] for rs in s.values() for r in rs if r.get('load1') is not None]
    if loads:
        print(f'Load average (1 min) when each run started: min {min(loads):.1f}, median {statistics.median(loads):.1f}, '
              f'max {max(loads):.1f} (on the machine\'s CPUs; above their count, other work competed for them).')
    busy = [r['busy'] for rs in s.values() for r in rs if r.get('busy') is not None]
    if busy:
        waited = [r['waited'] for rs in s.values() for r in rs if r.get('waited') is not None]
        nb = sum(1 for b in busy if b >= 0.5)
        print(f'CPU busy in the 0.5 s before each run: {nb} of {len(busy)} runs started with half a CPU or more busy '
              f'(median {statistics.median(busy):.2f} CPUs, max {max(busy):.2f}); the quiet checks (0.5 s each) and waits took {sum(waited):.0f} s in all.')
    # noise: the relative spread of every timed row
    worst = []
    for (row, tool), rs in s.items():
        v = [r['seconds'] for r in ok(rs)]
        if len(v) >= 3:
            m = statistics.median(v)
            mad = statistics.median(abs(x - m) for x in v)
            worst.append((mad / m if m else 0, row, tool))
    if worst:
        worst.sort(reverse=True)
        typical = statistics.median(w for w, _, _ in worst)
        print(f'Noise: median absolute deviation / median is {typical * 100:.0f}% for the typical row and tool; largest: '
              + ', '.join(f'{row} {tool} {w * 100:.0f}%' for w, row, tool in worst[:3]) + '.')


if __name__ == '__main__':
    main()
