#!/usr/bin/env python3
"""table.py RESULTS.tsv: prints the workload x scenario table from lines `workload<TAB>scenario<TAB>tool<TAB>seconds`
(seconds may be FAIL or absent). Ratios are tsbuild/other: below 1 means tsbuild was faster."""
import sys

tools = ['tsbuild', 'buildkit', 'buildah']
rows, res = [], {}
for line in open(sys.argv[1]):
    parts = line.rstrip('\n').split('\t')
    if len(parts) != 4:
        continue
    w, s, t, v = parts
    if (w, s) not in rows:
        rows.append((w, s))
    res[(w, s, t)] = v

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None

def cell(v):
    if v is None:
        return '-'
    n = num(v)
    return f'{n:.2f}s' if n is not None else v

wl = max([len(w) for w, _ in rows] + [2])
sl = max([len(s) for _, s in rows] + [4])
for w, s in rows:
    vals = {t: res.get((w, s, t)) for t in tools}
    out = f'{w:<{wl}}  {s:<{sl}}'
    for t in tools:
        out += f'  {t} {cell(vals[t]):>7}'
    out += '  ratio'
    for t, label in (('buildkit', 'vs buildkit'), ('buildah', 'vs buildah')):
        a, b = num(vals['tsbuild']), num(vals[t])
        r = f'{a / b:.2f}' if a is not None and b else '-'
        out += f'  {label} {r:>5}'
    print(out)
