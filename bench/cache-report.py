#!/usr/bin/env python3
"""cache-report.py RESULTS.jsonl BYTES.tsv: the tables of `npm run bench:cache` (markdown).

Times are medians of each tool's successful runs (bench/measure.py's samples); ratio = tsbuild's
median / the reference's (below 1 = tsbuild faster). CPU is user + system seconds, BuildKit's with its
daemon's. Bytes come from one extra run per figure, counted in the registry's access log (bench/cache.sh).
The export step's own time is read from the JSON progress of tsbuild's --cache-to runs.
"""
import json
import statistics
import sys


def load(path):
    rows = {}
    for line in open(path):
        r = json.loads(line)
        rows.setdefault(r['row'], {}).setdefault(r['tool'], []).append(r)
    return rows


def med(samples, key='seconds'):
    v = [s[key] for s in samples if s['rc'] == 0 and s.get(key) is not None]
    return statistics.median(v) if v else None


def fmt(v, unit='s'):
    return '—' if v is None else f'{v:.2f} {unit}'


def ratio(a, b):
    return '—' if a is None or not b else f'{a / b:.2f}'


def export_step_ms(samples):
    """Median duration of the cache-to step in the JSON progress of each run's log."""
    out = []
    for s in samples:
        if s['rc'] != 0:
            continue
        total = 0
        try:
            for line in open(s['log'], errors='replace'):
                if line.startswith('{') and '"vertex-done"' in line and '"cache-to:' in line:
                    total += json.loads(line).get('duration', 0)
        except OSError:
            continue
        out.append(total)
    return statistics.median(out) if out else None


def main():
    rows = load(sys.argv[1])
    fresh, cold, export = rows.get('fresh', {}), rows.get('cold', {}), rows.get('export', {})
    ft, fb = med(fresh.get('tsbuild', [])), med(fresh.get('buildkit', []))
    ct, cb = med(cold.get('tsbuild', [])), med(cold.get('buildkit', []))
    print('| figure | tsbuild | BuildKit (inline cache) | tsbuild ÷ BuildKit | CPU tsbuild ÷ BuildKit |')
    print('|---|---|---|---|---|')
    for label, row, t, b in (('fresh runner, unchanged commit, `--cache-from` + push', fresh, ft, fb),
                             ('fresh runner, cold (no cache) + push', cold, ct, cb)):
        print(f"| {label} | {fmt(t)} | {fmt(b)} | {ratio(t, b)} | {ratio(med(row.get('tsbuild', []), 'cpu'), med(row.get('buildkit', []), 'cpu'))} |")
    print(f'| with the cache ÷ cold, same tool | {ratio(ft, ct)} | {ratio(fb, cb)} | | |')
    print()
    print('| bytes pulled from the registry (one run) | blob bodies | blob GETs | manifests, tags, other GETs | HEADs |')
    print('|---|---|---|---|---|')
    for line in open(sys.argv[2]):
        row, tool, blobs, nb, other, heads = line.rstrip('\n').split('\t')
        print(f'| {row}: {tool} | {int(blobs):,} B | {nb} | {int(other):,} B | {heads} |')
    print()
    with_cache, without, bk = (med(export.get(t, [])) for t in ('tsbuild+cache-to', 'tsbuild', 'buildkit+inline'))
    step = export_step_ms(export.get('tsbuild+cache-to', []))
    print('| warm store, unchanged build + push | median |')
    print('|---|---|')
    print(f'| tsbuild with `--cache-to type=registry,mode=max` | {fmt(with_cache)} |')
    print(f'| tsbuild without `--cache-to` | {fmt(without)} |')
    print(f'| BuildKit with its inline cache (`BUILDKIT_INLINE_CACHE=1`) | {fmt(bk)} |')
    print(f"| tsbuild's export step alone (`exporting cache to …`, from its progress) | {'—' if step is None else f'{step:.0f} ms'} |")
    print(f"| cost of the export: with ÷ without `--cache-to` | {ratio(with_cache, without)} |")
    print(f"| tsbuild with `--cache-to` ÷ BuildKit inline | {ratio(with_cache, bk)} |")


main()
