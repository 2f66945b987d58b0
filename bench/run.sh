#!/usr/bin/env bash
# npm run bench [-- OPTIONS]: wall-clock build times of tsbuild against BuildKit (dockerd) and Buildah,
# one run per figure, on ../shared/bench workloads, plus a one-off check that tsbuild's w1 image has the
# same config and file tree as BuildKit's (and Buildah's).
#   --tsbuild-only  measure tsbuild alone (the anchors are not started or used)
#   --no-big        skip the large-context workload (gen-bigctx.sh, 20000 files, ~220 MB)
#   --keep          keep the work directory (contexts, stores, logs, image archives)
# The reference builders come from ../shared/lab/anchors.sh (`up` installs and starts them; needs root).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=$(cd "$ROOT/../shared" && pwd)
ANCHORS=$SHARED/lab/anchors.sh
TSB="node $ROOT/dist/tsbuild.mjs"
DOCKER=/usr/bin/docker
export DOCKER_HOST=unix://${LAB:-/tmp/lab}/docker.sock DOCKER_BUILDKIT=1
BASE=localhost:5000/busybox:latest
VFS=--storage-driver=vfs

only_tsb=0 big=1 keep=0
for a in "$@"; do
  case $a in
    --tsbuild-only) only_tsb=1 ;;
    --no-big) big=0 ;;
    --keep) keep=1 ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done

t_start=$EPOCHREALTIME
say() { printf '%s\n' "$*" >&2; }
W=$(mktemp -d /tmp/tsbuild-bench.XXXXXX)
cleanup() { if [ "$keep" = 1 ]; then say "work directory kept: $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
mkdir -p "$W/logs" "$W/img"
RES=$W/results.tsv; : > "$RES"

# --- 1. tsbuild itself ---------------------------------------------------------------------------
# Always build, so the figures are those of the checked-out source.
npm run build >"$W/logs/npm-build.log" 2>&1 || { tail -30 "$W/logs/npm-build.log" >&2; say "bench: npm run build failed"; exit 1; }
if [ ! -x /usr/bin/busybox ] || [ -n "$(ldd /usr/bin/busybox 2>/dev/null | grep '=>')" ]; then
  say "installing busybox-static (tsbuild's offline base image)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
bash scripts/busybox-context.sh "$W/bbctx"

# --- 2. the anchors --------------------------------------------------------------------------------
anchors=0 why=""
if [ "$only_tsb" = 1 ]; then
  why="--tsbuild-only given"
elif [ "$(id -u)" != 0 ] && ! $DOCKER info >/dev/null 2>&1; then
  why="anchors not running and starting them needs root"
else
  say "starting the anchors (anchors.sh up; the first time installs Debian packages)"
  if bash "$ANCHORS" up >"$W/logs/anchors-up.log" 2>&1 && $DOCKER info >/dev/null 2>&1 && command -v buildah >/dev/null; then
    anchors=1
  else
    why="anchors.sh up failed: $(tail -3 "$W/logs/anchors-up.log" | tr '\n' ' ')"
  fi
fi
[ "$anchors" = 1 ] || say "reference builders skipped: $why"

# --- helpers ---------------------------------------------------------------------------------------
# timed LOG CMD...: runs CMD with output to LOG, prints elapsed seconds (or FAIL)
timed() {
  local log=$1; shift
  local s=$EPOCHREALTIME
  if "$@" >"$log" 2>&1; then
    awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
  else
    echo FAIL
  fi
}
failed=()
record() { # record WORKLOAD SCENARIO TOOL SECONDS LOG
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RES"
  say "  $3 $1 $2: $4"
  if [ "$4" = FAIL ]; then failed+=("$3 $1 $2 (log $5)"); tail -15 "$5" | sed 's/^/    | /' >&2; fi
}
# fresh copy of a workload, writable so the one-file change can be applied; the same file mtimes for
# every tool (w1's RUN ls -la lands in the image)
context() { # context SRC DEST
  rm -rf "$2"; cp -r --preserve=timestamps "$1" "$2"; chmod -R u+w "$2"
}
CHANGE='// bench: one-line change'

# tsbuild WORKLOAD SRC CHANGEFILE: fresh store with the busybox base in it (not timed); cold, rebuild, change
run_tsbuild() {
  local w=$1 src=$2 change=$3 d=$W/tsbuild-$1 l=$W/logs/tsbuild-$1
  mkdir -p "$d"; export TSBUILD_ROOT=$d/root
  local out=()
  [ "$w" = w1 ] && out=(-o "type=oci,dest=$W/img/tsbuild-base.tar")
  if ! $TSB build -q -t busybox:latest -t "$BASE" "${out[@]}" "$W/bbctx" >"$l-base.log" 2>&1; then
    record "$w" cold tsbuild FAIL "$l-base.log"; return
  fi
  context "$src" "$d/ctx"
  record "$w" cold tsbuild "$(timed "$l-cold.log" $TSB build --progress=plain -t "bench-$w" "$d/ctx")" "$l-cold.log"
  record "$w" rebuild tsbuild "$(timed "$l-rebuild.log" $TSB build --progress=plain -t "bench-$w" "$d/ctx")" "$l-rebuild.log"
  if [ "$w" = w1 ]; then  # export for the comparison (cached, not timed)
    $TSB build -q -t "bench-$w" -o "type=oci,dest=$W/img/tsbuild-w1.tar" "$d/ctx" >"$l-export.log" 2>&1 \
      || say "  tsbuild w1 export failed (log $l-export.log)"
  fi
  if [ -n "$change" ]; then
    echo "$CHANGE" >> "$d/ctx/$change"
    record "$w" change tsbuild "$(timed "$l-change.log" $TSB build --progress=plain -t "bench-$w" "$d/ctx")" "$l-change.log"
  fi
  unset TSBUILD_ROOT
}

bk_old=()
# BuildKit WORKLOAD SRC CHANGEFILE: cold = build cache pruned, base image kept in dockerd's image store
run_buildkit() {
  local w=$1 src=$2 change=$3 d=$W/buildkit-$1 l=$W/logs/buildkit-$1
  mkdir -p "$d"; context "$src" "$d/ctx"
  $DOCKER rmi -f "bench-$w" >/dev/null 2>&1
  $DOCKER builder prune -af >/dev/null 2>&1
  record "$w" cold buildkit "$(timed "$l-cold.log" bash "$ANCHORS" buildkit "$d/ctx" --progress=plain -t "bench-$w")" "$l-cold.log"
  record "$w" rebuild buildkit "$(timed "$l-rebuild.log" bash "$ANCHORS" buildkit "$d/ctx" --progress=plain -t "bench-$w")" "$l-rebuild.log"
  if [ "$w" = w1 ]; then
    $DOCKER save -o "$W/img/buildkit-w1.tar" "bench-$w" 2>>"$l-export.log" || say "  docker save bench-w1 failed"
  fi
  if [ -n "$change" ]; then
    bk_old+=("$($DOCKER image inspect -f '{{.Id}}' "bench-$w" 2>/dev/null)")  # untagged by the next build
    echo "$CHANGE" >> "$d/ctx/$change"
    record "$w" change buildkit "$(timed "$l-change.log" bash "$ANCHORS" buildkit "$d/ctx" --progress=plain -t "bench-$w")" "$l-change.log"
  fi
}

# Buildah WORKLOAD SRC CHANGEFILE: cold = all images (so all --layers cache) removed, base pulled again (not timed)
buildah_reset() {
  buildah rmi -af $VFS >/dev/null 2>&1
  buildah pull $VFS --tls-verify=false -q "$BASE" >/dev/null 2>&1
}
run_buildah() {
  local w=$1 src=$2 change=$3 d=$W/buildah-$1 l=$W/logs/buildah-$1
  mkdir -p "$d"; context "$src" "$d/ctx"
  buildah_reset
  record "$w" cold buildah "$(timed "$l-cold.log" bash "$ANCHORS" buildah "$d/ctx" --layers -t "bench-$w")" "$l-cold.log"
  record "$w" rebuild buildah "$(timed "$l-rebuild.log" bash "$ANCHORS" buildah "$d/ctx" --layers -t "bench-$w")" "$l-rebuild.log"
  if [ "$w" = w1 ]; then
    buildah push $VFS "bench-$w" "oci-archive:$W/img/buildah-w1.tar" >>"$l-export.log" 2>&1 || say "  buildah push bench-w1 failed"
  fi
  if [ -n "$change" ]; then
    echo "$CHANGE" >> "$d/ctx/$change"
    record "$w" change buildah "$(timed "$l-change.log" bash "$ANCHORS" buildah "$d/ctx" --layers -t "bench-$w")" "$l-change.log"
  fi
}

# --- 3. measurements -------------------------------------------------------------------------------
if [ "$anchors" = 1 ]; then
  $DOCKER pull -q "$BASE" >/dev/null 2>&1 || say "docker pull $BASE failed"
  $DOCKER save -o "$W/img/buildkit-base.tar" "$BASE" 2>/dev/null || say "docker save $BASE failed"
  buildah_reset
  buildah push $VFS "$BASE" "oci-archive:$W/img/buildah-base.tar" >/dev/null 2>&1 || say "buildah push $BASE failed"
fi
workloads=("w1|$SHARED/bench/w1-hello|app.js" "w3|$SHARED/bench/w3-parallel|")
if [ "$big" = 1 ]; then
  say "generating the big context (20000 files)"
  bash "$SHARED/bench/gen-bigctx.sh" "$W/bigctx" 20000
  workloads+=("big|$W/bigctx|")
fi
for spec in "${workloads[@]}"; do
  IFS='|' read -r w src change <<< "$spec"
  say "== $w"
  run_tsbuild "$w" "$src" "$change"
  if [ "$anchors" = 1 ]; then
    run_buildkit "$w" "$src" "$change"
    run_buildah "$w" "$src" "$change"
    rm -rf "$W/buildah-$w" "$W/buildkit-$w"
  fi
  rm -rf "$W/tsbuild-$w/ctx"
done

# --- 4. report -------------------------------------------------------------------------------------
echo
echo "tsbuild (HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), built from the working tree) vs references on $(nproc) CPUs; one run per figure, wall-clock seconds"
echo "workloads: w1 = ../shared/bench/w1-hello, w3 = ../shared/bench/w3-parallel$( [ "$big" = 1 ] && echo ', big = gen-bigctx.sh 20000 (COPY 20k files + RUN du)')"
echo "scenarios: cold = first build with no build cache; rebuild = same build again, nothing changed;"
echo "           change = after appending one line to app.js (w1 only)"
echo "cold means: tsbuild  - fresh TSBUILD_ROOT holding only the busybox base (built locally from the same tree, not pulled)"
if [ "$anchors" = 1 ]; then
  echo "            buildkit - 'docker builder prune -af', base image kept in dockerd's image store (docker pull, not timed);"
  echo "                       the build still resolves the base's manifest against the registry on localhost:5000"
  echo "            buildah  - 'buildah rmi -af' (images and --layers cache gone), base re-pulled from localhost:5000 (not timed);"
  echo "                       vfs storage driver, runc, --layers on every build so the cache applies"
  echo "tools: $($DOCKER version --format 'dockerd {{.Server.Version}}' 2>/dev/null) (DOCKER_BUILDKIT=1), $(buildah --version 2>/dev/null | cut -d' ' -f1-3)"
else
  echo "reference builders not measured: $why"
fi
echo "ratio = tsbuild / reference: below 1 means tsbuild was faster"
echo
python3 "$ROOT/bench/table.py" "$RES"

if [ "$anchors" = 1 ]; then
  echo
  echo "output equivalence, w1 (config + file tree minus each tool's own base image; want = reference, got = tsbuild):"
  S=$SHARED/lab/image-summary.py C=$SHARED/lab/image-compare.py I=$W/img
  summ() { [ -f "$I/$1-w1.tar" ] && [ -f "$I/$1-base.tar" ] && python3 "$S" "$I/$1-w1.tar" "$I/$1-base.tar" > "$I/$1-w1.json"; }
  if summ tsbuild; then
    for ref in buildkit buildah; do
      if summ "$ref"; then
        out=$(python3 "$C" "$I/$ref-w1.json" "$I/tsbuild-w1.json"); rc=$?
        if [ $rc = 0 ]; then echo "  vs $ref: identical"; else echo "  vs $ref: differences:"; printf '%s\n' "$out" | sed 's/^/    /'; fi
        case $out in *"tree /listing:"*)
          echo "    (/listing is w1's 'ls -la /app' output, so it differs when a mode, size or mtime (to the minute) in /app differs)" ;; esac
        case $out in *"tree /etc/hosts:"*|*"tree /etc/hostname:"*|*"tree /etc/resolv.conf:"*)
          echo "    (/etc/hosts, /etc/hostname, /etc/resolv.conf, /run: RUN-step mount points left in a layer by whichever side has them)" ;; esac
      else
        echo "  vs $ref: no image to compare (export or summary failed)"
      fi
    done
    # the bases themselves: anchors.sh makes its base with ADD rootfs.tar.gz, tsbuild's is COPY rootfs/
    python3 "$S" "$I/buildkit-base.tar" > "$I/buildkit-base.json" 2>/dev/null && python3 "$S" "$I/tsbuild-base.tar" > "$I/tsbuild-base.json" \
      && { out=$(python3 "$C" "$I/buildkit-base.json" "$I/tsbuild-base.json") && echo "  base images (registry's vs tsbuild's): identical" \
           || { echo "  base images (registry's vs tsbuild's): differences:"; printf '%s\n' "$out" | sed 's/^/    /'; }; }
  else
    echo "  tsbuild's w1 image could not be exported or summarised"
  fi
  # leave the anchors as `up` left them, minus the bench's images and cache
  $DOCKER rmi -f bench-w1 bench-w3 bench-big "${bk_old[@]}" >/dev/null 2>&1
  $DOCKER builder prune -af >/dev/null 2>&1
  buildah_reset
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed builds:"; printf '  %s\n' "${failed[@]}"
  [ "$keep" = 1 ] || echo "  (rerun with --keep to keep the logs)"
fi
awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "bench took %.0fs\n", b - a }'
exit 0
