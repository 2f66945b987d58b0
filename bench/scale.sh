#!/usr/bin/env bash
# npm run bench:scale [-- --runs N]: issue 12's scale figures, tsbuild alone (no reference builder has
# these goals): a 100,000-file context's no-change rebuild (goal: under 1 s), and peak RSS of a cold
# build of a single-file context of 1 GB against one of 5 GB (goal: flat memory, the file streams).
# Medians of --runs runs (default 5). Needs about 12 GB of free disk under /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
runs=5
[ "${1:-}" = --runs ] && runs=$2
W=$(mktemp -d /tmp/tsbuild-bench-scale.XXXXXX)
trap 'rm -rf "$W"' EXIT
[ -f dist/tsbuild.mjs ] || npm run build >/dev/null
TSB="node $ROOT/dist/tsbuild.mjs"
RES=$W/results.jsonl
M() { python3 "$ROOT/bench/measure.py" --results "$RES" --logs "$W/logs" --runs "$runs" "$@"; }

# 100k files: built once (warm-up), then rebuilt unchanged.
bash "$ROOT/../shared/bench/gen-bigctx.sh" "$W/ctx100k" 100000 >/dev/null
printf 'FROM scratch\nCOPY . /ctx\n' > "$W/ctx100k/Dockerfile"
M --row files100k-nochange --warmup 1 --tool tsbuild --cmd "env TSBUILD_ROOT=$W/store $TSB build -q $W/ctx100k"

# One big file: 1 GB and 5 GB of incompressible bytes, each built cold into a fresh store.
for gb in 1 5; do
  mkdir -p "$W/big$gb"
  # (head ends openssl with SIGPIPE: keep that out of pipefail)
  head -c "${gb}G" < <(openssl enc -aes-128-ctr -pass pass:tsbuild -nosalt -pbkdf2 </dev/zero 2>/dev/null) > "$W/big$gb/blob"
  printf 'FROM scratch\nCOPY blob /blob\n' > "$W/big$gb/Dockerfile"
  M --row "file${gb}g-cold" --tool tsbuild --prep "rm -rf $W/store$gb" --cmd "env TSBUILD_ROOT=$W/store$gb $TSB build -q $W/big$gb"
  rm -rf "$W/store$gb"
done

python3 - "$RES" <<'PY'
import json, statistics, sys
s = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r['rc'] == 0: s.setdefault(r['row'], []).append(r)
med = lambda row, k: statistics.median(x[k] for x in s[row]) if row in s else float('nan')
print('| scale | median | peak RSS | goal |')
print('|---|---|---|---|')
print(f"| 100,000-file context, no-change rebuild | {med('files100k-nochange', 'seconds'):.2f} s | {med('files100k-nochange', 'rss_mb'):.0f} MB | under 1 s |")
for gb in (1, 5):
    print(f"| {gb} GB single-file context, cold | {med(f'file{gb}g-cold', 'seconds'):.1f} s | {med(f'file{gb}g-cold', 'rss_mb'):.0f} MB | RSS flat from 1 to 5 GB |")
PY
