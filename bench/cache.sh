#!/usr/bin/env bash
# npm run bench:cache [-- OPTIONS]: issue 9's figures for the CI cache, tsbuild against BuildKit's inline
# cache (Debian's dockerd 20.10, BuildKit v0.8) on the same registry (127.0.0.1:5000, ../shared/lab/anchors.sh).
# Every time is the median of --runs runs, the tools alternating run by run (bench/measure.py); bytes pulled
# are counted in the registry's access log, in one extra untimed run per figure (they do not vary).
#   --runs N      runs per figure (default 5)
#   --no-build    measure dist/ as it is (default: npm run build first)
#   --keep        keep the work directory (context, stores, logs, results.jsonl)
#   --keep-lab    leave the lab running if this run started it (default: anchors.sh down at the end)
#   --idle-wait S before each timed run, wait up to S seconds (default 5) for a quiet machine
# Rows (every build on a fresh runner pushes its image, as a CI job does):
#   fresh   a fresh runner rebuilds an unchanged commit: tsbuild with --cache-from its registry cache
#           (pushed with --cache-to type=registry,mode=max) on an empty store; BuildKit with --cache-from
#           the image pushed with --build-arg BUILDKIT_INLINE_CACHE=1, after docker rmi of the image and
#           the base and docker builder prune -af; both then push the image back
#   cold    the same fresh runner without a cache: every RUN runs, new layers are pushed
#   export  on a warm store, an unchanged build that pushes its image: tsbuild with --cache-to
#           type=registry,mode=max against tsbuild without it (the export's own cost), and BuildKit with
#           the inline cache (its cache leaves with the image push)
# Workload: two stages on the lab's busybox: RUN sleep 1 + 20 MB of /dev/urandom in a build stage, COPY of a
# file and of the build stage's artifact, RUN sleep 1 + 10 MB of /dev/urandom (layers that do not compress).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=$(cd "$ROOT/../shared" && pwd)
ANCHORS=$SHARED/lab/anchors.sh
export LAB=${BENCH_LAB:-/tmp/tsbuild-bench-lab}
export DOCKER_HOST=unix://$LAB/docker.sock DOCKER_BUILDKIT=1
DOCKER=/usr/bin/docker
TSBJS=$ROOT/dist/tsbuild.mjs
REG=localhost:5000
BB=$REG/busybox:latest

runs=5 idle=5 keep=0 keep_lab=0 build=1
usage() { sed -n '2,21p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] && [ "$2" -ge 1 ] 2>/dev/null || usage; runs=$2; shift ;;
    --idle-wait) [ $# -ge 2 ] || usage; idle=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --keep-lab) keep_lab=1 ;;
    *) usage ;;
  esac
  shift
done

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
t_start=$EPOCHREALTIME
W=$(mktemp -d /tmp/tsbuild-bench-cache.XXXXXX)
TS=$(date +%Y%m%d%H%M%S)
TSB_IMG=$REG/bench-cache/tsb:$TS TSB_CACHE=$REG/bench-cache/tsb:cache-$TS TSB_COLD=$REG/bench-cache/tsb:cold-$TS
BK_IMG=$REG/bench-cache/bk:$TS BK_COLD=$REG/bench-cache/bk:cold-$TS
started_lab=0
curl -fs "http://127.0.0.1:5000/v2/" >/dev/null && $DOCKER info >/dev/null 2>&1 || started_lab=1
cleanup() {
  $DOCKER rmi -f "$BK_IMG" "$BK_COLD" >/dev/null 2>&1
  $DOCKER builder prune -af >/dev/null 2>&1
  if [ "$started_lab" = 1 ] && [ "$keep_lab" = 0 ]; then bash "$ANCHORS" down >/dev/null 2>&1; fi
  if [ "$keep" = 1 ]; then say "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
mkdir -p "$W/logs" "$W/ctx"
RES=$W/results.jsonl
BYTES=$W/bytes.tsv; : > "$BYTES"

# --- setup (untimed) -------------------------------------------------------------------------------
if [ "$build" = 1 ]; then npm run build >"$W/logs/npm-build.log" 2>&1 || { tail -30 "$W/logs/npm-build.log" >&2; die "npm run build failed"; }; fi
bash "$ANCHORS" up >"$W/logs/anchors-up.log" 2>&1 && $DOCKER info >/dev/null 2>&1 || { tail -5 "$W/logs/anchors-up.log" >&2; die "the anchors are not up"; }
REGLOG=$LAB/registry.log
cat > "$W/ctx/Dockerfile" <<EOF
FROM $BB AS build
RUN sleep 1 && head -c 20000000 /dev/urandom > /artifact
FROM $BB
COPY app.txt /app.txt
COPY --from=build /artifact /artifact
RUN sleep 1 && head -c 10000000 /dev/urandom > /noise
EOF
echo "bench $TS" > "$W/ctx/app.txt"
tsb() { node "$TSBJS" "$@"; }
say "seeding: tsbuild's registry cache and BuildKit's inline-cache image"
tsb build --root "$W/origin" -q -t "$TSB_IMG" --push --cache-to "type=registry,ref=$TSB_CACHE,mode=max" "$W/ctx" >"$W/logs/seed-tsbuild.log" 2>&1 || { tail "$W/logs/seed-tsbuild.log" >&2; die "tsbuild seed failed"; }
{ $DOCKER build --network=host --build-arg BUILDKIT_INLINE_CACHE=1 -t "$BK_IMG" "$W/ctx" && $DOCKER push "$BK_IMG"; } >"$W/logs/seed-buildkit.log" 2>&1 || { tail "$W/logs/seed-buildkit.log" >&2; die "BuildKit seed failed"; }

# Fresh runners: an empty tsbuild store; dockerd without the image, the base or any build cache.
TSB_FRESH="rm -rf $W/fresh"
BK_FRESH="$DOCKER rmi -f $BK_IMG $BK_COLD $BB >/dev/null 2>&1; $DOCKER builder prune -af >/dev/null; sync"
tsb_fresh_cmd="node $TSBJS build --root $W/fresh -q -t $TSB_IMG --push --cache-from type=registry,ref=$TSB_CACHE $W/ctx"
bk_fresh_cmd="bash -c '$DOCKER build --network=host -q --build-arg BUILDKIT_INLINE_CACHE=1 --cache-from $BK_IMG -t $BK_IMG $W/ctx && $DOCKER push $BK_IMG'"
tsb_cold_cmd="node $TSBJS build --root $W/fresh -q -t $TSB_COLD --push $W/ctx"
bk_cold_cmd="bash -c '$DOCKER build --network=host -q -t $BK_COLD $W/ctx && $DOCKER push $BK_COLD'"
tsb_export_cmd="node $TSBJS build --root $W/origin --progress=json -t $TSB_IMG --push --cache-to type=registry,ref=$TSB_CACHE,mode=max $W/ctx"
tsb_noexport_cmd="node $TSBJS build --root $W/origin -q -t $TSB_IMG --push $W/ctx"
bk_export_cmd="bash -c '$DOCKER build --network=host -q --build-arg BUILDKIT_INLINE_CACHE=1 -t $BK_IMG $W/ctx && $DOCKER push $BK_IMG'"

# --- bytes pulled (one untimed run each, counted in the registry's access log) ---------------------
# bytes TOOL ROW PREP CMD: GET bytes of blob bodies and of everything else while CMD runs
bytes() {
  local tool=$1 row=$2 prep=$3 cmd=$4 from
  bash -c "$prep" >/dev/null 2>&1
  from=$(wc -l < "$REGLOG")
  eval "$cmd" >"$W/logs/bytes-$row-$tool.log" 2>&1 || say "  $tool $row (bytes run) failed: $W/logs/bytes-$row-$tool.log"
  sleep 0.3 # the registry logs a request after its response
  tail -n +"$((from + 1))" "$REGLOG" | awk -v t="$tool" -v r="$row" '
    $6 == "\"GET" { n = $10 + 0; if ($7 ~ /\/blobs\/sha256:/) { blobs += n; nb++ } else other += n }
    $6 == "\"HEAD" { heads++ }
    END { printf "%s\t%s\t%d\t%d\t%d\t%d\n", r, t, blobs, nb, other, heads }' >> "$BYTES"
}
say "bytes pulled"
bytes tsbuild fresh "$TSB_FRESH" "$tsb_fresh_cmd"
bytes buildkit fresh "$BK_FRESH" "$bk_fresh_cmd"
bytes tsbuild cold "$TSB_FRESH" "$tsb_cold_cmd"
bytes buildkit cold "$BK_FRESH" "$bk_cold_cmd"

# --- times -----------------------------------------------------------------------------------------
M() { python3 "$ROOT/bench/measure.py" --results "$RES" --logs "$W/logs" --runs "$runs" --idle-wait "$idle" "$@"; }
say "fresh runner, unchanged commit, with the cache"
M --row fresh --tool tsbuild --prep "$TSB_FRESH" --cmd "$tsb_fresh_cmd" --tool buildkit --prep "$BK_FRESH" --daemon "$LAB/dockerd/pid" --cmd "$bk_fresh_cmd"
say "fresh runner, no cache"
M --row cold --tool tsbuild --prep "$TSB_FRESH" --cmd "$tsb_cold_cmd" --tool buildkit --prep "$BK_FRESH" --daemon "$LAB/dockerd/pid" --cmd "$bk_cold_cmd"
say "warm store, unchanged build, cache exported"
# BuildKit's warm state: the image built once more with its inline cache (the fresh runs removed it).
$DOCKER build --network=host -q --build-arg BUILDKIT_INLINE_CACHE=1 --cache-from "$BK_IMG" -t "$BK_IMG" "$W/ctx" >"$W/logs/warm-buildkit.log" 2>&1
M --row export --warmup 1 --tool tsbuild+cache-to --cmd "$tsb_export_cmd" --tool tsbuild --cmd "$tsb_noexport_cmd" --tool buildkit+inline --daemon "$LAB/dockerd/pid" --cmd "$bk_export_cmd"

# --- report ----------------------------------------------------------------------------------------
echo
echo "CI cache: tsbuild (HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), built from the working tree) vs BuildKit's inline cache on $(nproc) CPUs;"
echo "medians of $runs runs, tools alternating (bench/measure.py); registry $REG (docker-registry, plain HTTP, loopback)"
echo "tools: $($DOCKER version --format 'dockerd {{.Server.Version}}' 2>/dev/null), node $(node --version)"
echo
python3 "$ROOT/bench/cache-report.py" "$RES" "$BYTES"
echo
echo "bench took $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s"
