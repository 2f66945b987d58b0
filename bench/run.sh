#!/usr/bin/env bash
# npm run bench [-- OPTIONS]: tsbuild against BuildKit (Debian's dockerd 20.10, BuildKit v0.8, a warm daemon).
# Every figure is the median of --runs runs, the two builders alternating run by run (bench/measure.py:
# A B, B A, ...; the untimed preparation of each run, such as a fresh store or a pruned build cache, runs
# right before it). Prints a markdown ratio table (tsbuild ÷ BuildKit; below 1 = tsbuild faster) with
# issue 10's goal beside each row, then the machine's load and the noise of the run.
#   --runs N        runs per figure (default 5; --runs 3 is a quick mode for development, not for judging)
#   --tsbuild-only  measure tsbuild alone (the lab is not started or used)
#   --no-big        skip the 20k-file / 220 MB and 40k-file / 440 MB contexts
#   --no-real       skip the Debian workloads (bench/workloads/)
#   --only LIST     only these sections, comma-separated, of: start,w1,w3,big,real
#   --no-build      measure dist/ as it is (default: npm run build first, so the figures are the source's)
#   --keep          keep the work directory (contexts, stores, logs, results.jsonl)
#   --keep-lab      leave the lab running (and its images) if this run started it; default: stop it
#   --idle-wait S   before each timed run, wait up to S seconds (default 10; 0: never) for the machine to
#                   be quiet (under half a CPU busy), so that runs start in the gaps of other work
# Workloads: ../shared/bench/w1-hello and w3-parallel on the busybox base; gen-bigctx.sh 20000 and 40000;
# bench/workloads/{apt,c-multistage,bigrun} on a Debian bookworm minbase made by debootstrap from the Debian
# mirror in the host's apt sources (downloaded once, cached in $BENCH_CACHE, default bench/.cache).
# The lab is ../shared/lab/anchors.sh with LAB=$BENCH_LAB (default /tmp/tsbuild-bench-lab: a dockerd of
# the bench's own, so other users of the shared lab neither disturb nor see it; the registry on
# 127.0.0.1:5000 is shared when it is already up). Needs root (namespaces, dockerd, apt-get).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=$(cd "$ROOT/../shared" && pwd)
ANCHORS=$SHARED/lab/anchors.sh
export LAB=${BENCH_LAB:-/tmp/tsbuild-bench-lab}
export DOCKER_HOST=unix://$LAB/docker.sock DOCKER_BUILDKIT=1
DOCKER=/usr/bin/docker   # Debian's 20.10 client, the one that matches the lab's dockerd
TSBJS=$ROOT/dist/tsbuild.mjs
CACHE=${BENCH_CACHE:-$ROOT/bench/.cache}
REG=127.0.0.1:5000
BB=localhost:5000/busybox:latest
DEB=localhost:5000/bench/debian:bookworm
ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'

runs=5 idle=10 only_tsb=0 keep=0 keep_lab=0 build=1 sections=start,w1,w3,big,real
usage() { sed -n '2,23p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] && [ "$2" -ge 1 ] 2>/dev/null || usage; runs=$2; shift ;;
    --idle-wait) [ $# -ge 2 ] || usage; idle=$2; shift ;;
    --tsbuild-only) only_tsb=1 ;;
    --no-big) sections=${sections//big/} ;;
    --no-real) sections=${sections//real/} ;;
    --only) [ $# -ge 2 ] || usage; sections=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --keep-lab) keep_lab=1 ;;
    *) usage ;;
  esac
  shift
done
has() { [[ ",$sections," == *",$1,"* ]]; }

t_start=$EPOCHREALTIME
say() { printf '%s\n' "$*" >&2; }
elapsed() { awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'; }
die() { say "bench: $*"; exit 1; }
W=$(mktemp -d /tmp/tsbuild-bench.XXXXXX)
mkdir -p "$W/logs" "$W/img" "$W/ctx" "$W/src" "$W/stores" "$W/trash"
RES=$W/results.jsonl; : > "$RES"
T0=$W/stores/template
tsb() { node "$TSBJS" "$@"; }
# trash DIR...: out of the way at once (a rename); deleted with the work directory at the end, so that
# deleting 20k-file trees never competes with a measurement
trash() { local d; for d in "$@"; do [ -e "$d" ] && mv "$d" "$W/trash/$(date +%s%N)-${d##*/}"; done; return 0; }

# --- clean-up: what this run made, and the lab if this run started it -------------------------------
anchors=0 started_dockerd=0 started_registry=0 pushed_deb=0
stop_pid() { # stop_pid PIDFILE NAME: SIGTERM, then wait up to 30 s for the process to go
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  say "bench: $2 (pid $pid) did not stop within 30 s"; return 1
}
cleanup() {
  if [ "$anchors" = 1 ]; then
    lab_stopped=0
    if [ "$started_dockerd" = 1 ] && [ "$keep_lab" = 0 ]; then
      stop_pid "$LAB/dockerd/pid" dockerd && lab_stopped=1
    else  # a dockerd that stays up: remove the bench's images and build cache from it
      $DOCKER images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep '^bench-' | xargs -r $DOCKER rmi -f >/dev/null 2>&1
      [ "$keep_lab" = 1 ] || $DOCKER rmi -f "$DEB" >/dev/null 2>&1
      $DOCKER image prune -f >/dev/null 2>&1
      $DOCKER builder prune -af >/dev/null 2>&1
    fi
    if [ "$started_registry" = 1 ] && [ "$keep_lab" = 0 ]; then
      stop_pid "$LAB/registry.pid" docker-registry
    elif [ "$pushed_deb" = 1 ] && [ "$keep_lab" = 0 ]; then  # delete the pushed base's manifest
      local dg
      dg=$(curl -fsI -H "Accept: $ACCEPT" "http://$REG/v2/bench/debian/manifests/bookworm" | tr -d '\r' \
        | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}')
      [ -n "$dg" ] && curl -fs -X DELETE "http://$REG/v2/bench/debian/manifests/$dg" >/dev/null
    fi
    if [ "$lab_stopped" = 1 ]; then  # its images and build cache go with it
      rm -rf "$LAB/dockerd" "$LAB/busybox" "$LAB/dockerd.log"
      [ "$started_registry" = 1 ] && ! curl -fs "http://$REG/v2/" >/dev/null 2>&1 && rm -rf "$LAB"
      rmdir "$LAB" 2>/dev/null
    fi
    [ "$keep_lab" = 1 ] && say "lab left running: DOCKER_HOST=$DOCKER_HOST (stop it with LAB=$LAB bash $ANCHORS down)"
  fi
  if [ "$keep" = 1 ]; then rm -rf "$W/trash"; say "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. tsbuild itself and the tools ---------------------------------------------------------------
if [ "$build" = 1 ]; then
  say "building tsbuild (npm run build)"
  npm run build >"$W/logs/npm-build.log" 2>&1 || { tail -30 "$W/logs/npm-build.log" >&2; die "npm run build failed"; }
fi
[ -f "$TSBJS" ] || die "$TSBJS missing (npm run build)"
need_pkgs=()
{ [ -x /usr/bin/busybox ] && [ -z "$(ldd /usr/bin/busybox 2>/dev/null | grep '=>')" ]; } || need_pkgs+=(busybox-static)
has real && ! command -v debootstrap >/dev/null && need_pkgs+=(debootstrap)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || die "apt-get install ${need_pkgs[*]} failed"
fi

# --- 2. the lab (BuildKit in dockerd, the registry) -----------------------------------------------
why=""
if [ "$only_tsb" = 1 ]; then
  why="--tsbuild-only given"
elif [ "$(id -u)" != 0 ]; then
  why="starting the lab needs root"
else
  $DOCKER info >/dev/null 2>&1 || started_dockerd=1
  curl -fs "http://$REG/v2/" >/dev/null 2>&1 || started_registry=1
  anchors=1  # from here on, clean-up takes care of the lab
  say "starting the lab (LAB=$LAB; the first time installs Debian packages)"
  if bash "$ANCHORS" up >"$W/logs/anchors-up.log" 2>&1 && $DOCKER info >/dev/null 2>&1; then
    $DOCKER pull -q "$BB" >"$W/logs/docker-pull.log" 2>&1 || die "docker pull $BB failed (log $W/logs/docker-pull.log)"
  else
    die "anchors.sh up failed: $(tail -3 "$W/logs/anchors-up.log" | tr '\n' ' ')"
  fi
fi
[ "$anchors" = 1 ] || say "BuildKit not measured: $why"

# --- 3. base images --------------------------------------------------------------------------------
# tsbuild: one template store holding the bases, each already unpacked (a build used it once, then
# `prune --all` removed that build's cache and the stat cache). Every first-build run starts from a copy of it.
say "making the base images"
bash scripts/busybox-context.sh "$W/bbctx"
tsb --root "$T0" build -q -t busybox:latest -t "$BB" -o "type=oci,dest=$W/img/tsbuild-base.tar" "$W/bbctx" \
  >"$W/logs/base-busybox.log" 2>&1 || { tail "$W/logs/base-busybox.log" >&2; die "tsbuild: busybox base failed"; }

# debian_rootfs: a bookworm minbase root filesystem as a tar in $CACHE (debootstrap's download is cached
# as its --make-tarball, the finished tree as a tar; later runs use the tar and download nothing)
DEBTAR=$CACHE/bookworm-minbase-rootfs.tar
debian_rootfs() {
  [ -s "$DEBTAR" ] && return 0
  mkdir -p "$CACHE"
  local tgz=$CACHE/bookworm-minbase.tgz mirror
  mirror=$(apt-cache policy 2>/dev/null | awk '$3 == "bookworm/main" { print $2; exit }')
  if [ -z "$mirror" ]; then apt-get update -qq; mirror=$(apt-cache policy 2>/dev/null | awk '$3 == "bookworm/main" { print $2; exit }'); fi
  [ -n "$mirror" ] || { say "no bookworm/main mirror in the host's apt sources"; return 1; }
  if [ ! -s "$tgz" ]; then
    say "debootstrap: downloading bookworm minbase (once; cached in $CACHE)"
    debootstrap --variant=minbase --make-tarball="$tgz.part" bookworm "$W/debootstrap-dl" "$mirror" \
      >"$W/logs/debootstrap-download.log" 2>&1 && mv "$tgz.part" "$tgz" || { tail "$W/logs/debootstrap-download.log" >&2; return 1; }
    rm -rf "$W/debootstrap-dl"
  fi
  say "debootstrap: installing bookworm minbase from $tgz"
  debootstrap --variant=minbase --unpack-tarball="$tgz" bookworm "$W/debootstrap-root" "$mirror" \
    >"$W/logs/debootstrap-install.log" 2>&1 || { tail "$W/logs/debootstrap-install.log" >&2; return 1; }
  rm -f "$W/debootstrap-root"/var/cache/apt/archives/*.deb
  tar --sort=name --numeric-owner -C "$W/debootstrap-root" -cf "$DEBTAR.part" . && mv "$DEBTAR.part" "$DEBTAR"
  local rc=$?
  rm -rf "$W/debootstrap-root"
  return $rc
}
if has real; then
  if debian_rootfs; then
    mkdir -p "$W/debian-rootfs" && tar -C "$W/debian-rootfs" -xf "$DEBTAR" \
      && tsb --root "$T0" import "$W/debian-rootfs/" "$DEB" -c 'CMD ["bash"]' >"$W/logs/base-debian.log" 2>&1 \
      && mkdir -p "$W/warm" && printf 'FROM %s\nRUN true\n' "$DEB" > "$W/warm/Dockerfile" \
      && tsb --root "$T0" build -q "$W/warm" >>"$W/logs/base-debian.log" 2>&1 \
      || { tail "$W/logs/base-debian.log" >&2; die "tsbuild: debian base failed"; }
    rm -rf "$W/debian-rootfs"
    if [ "$anchors" = 1 ]; then
      { $DOCKER import -c 'CMD ["bash"]' "$DEBTAR" "$DEB" && $DOCKER push "$DEB"; } >"$W/logs/base-debian-docker.log" 2>&1 \
        || { tail "$W/logs/base-debian-docker.log" >&2; die "docker import/push of the debian base failed"; }
      pushed_deb=1
    fi
  else
    say "no Debian base: the realistic workloads are skipped"; sections=${sections//real/}
  fi
fi
tsb --root "$T0" prune --all >"$W/logs/template-prune.log" 2>&1

# --- 4. measurements -------------------------------------------------------------------------------
M() { python3 "$ROOT/bench/measure.py" --results "$RES" --logs "$W/logs" --runs "$runs" --idle-wait "$idle" "$@"; }
context() { # context SRC DEST: a writable copy with the same mtimes (w1 lists them into its image)
  trash "$2"; cp -r --preserve=timestamps "$1" "$2"; chmod -R u+w "$2"
}
# workload NAME SRC: one context copy per builder, and tsbuild's store for it (a copy of the template)
workload() {
  context "$2" "$W/ctx/tsbuild-$1"; [ "$anchors" = 1 ] && context "$2" "$W/ctx/buildkit-$1"
  trash "$W/stores/$1"; cp -a "$T0" "$W/stores/$1"
}
# pair ROW NAME MODE: one row, tsbuild and BuildKit alternating; MODE is
#   cold        issue 10's cold: `build --no-cache`, base present, on a store / daemon that has built this
#               context before (one untimed warm-up build first), as a developer's "rebuild everything"
#   first       the very first build: tsbuild from a fresh copy of the template store; BuildKit with the
#               image removed and `builder prune -af` (its base stays in dockerd's image store), so its
#               context is transferred in full
#   nochange    the same build again (one untimed warm-up build first)
#   change:FILE a new line appended to FILE in the context before each run (for a .c file, a new
#               string constant, so that the compiled program changes too)
# Every preparation ends with `sync`, so no run pays for writing back the previous run's files.
pair() {
  local row=$1 w=$2 mode=$3 st=$W/stores/$2 ct=$W/ctx/tsbuild-$2 cb=$W/ctx/buildkit-$2
  local tprep=sync bprep=sync opts=() flags=
  case $mode in
    cold) opts=(--warmup 1); flags=--no-cache ;;
    first) tprep="{ [ ! -e '$st' ] || mv '$st' '$W/trash/'\$(date +%s%N); } && cp -a '$T0' '$st' && sync"
          bprep="$DOCKER rmi -f bench-$w >/dev/null 2>&1; $DOCKER builder prune -af >/dev/null && sync" ;;
    nochange) opts=(--warmup 1) ;;
    change:*) local f=${mode#change:} line='echo "// bench: changed $(date +%s%N)"'
          [[ $f == *.c ]] && line='n=$(date +%s%N); echo "const char bench_stamp_$n[] = \"$n\";"'
          tprep="$line >> '$ct/$f' && sync"
          bprep="$line >> '$cb/$f' && sync" ;;
  esac
  local args=(--row "$row" "${opts[@]}"
    --tool tsbuild --prep "$tprep" --cmd "node $TSBJS --root $st build $flags --progress=plain -t bench-$w $ct")
  [ "$anchors" = 1 ] && args+=(--tool buildkit --prep "$bprep" --daemon "$LAB/dockerd/pid" --cmd "$DOCKER build --network=host $flags --progress=plain -t bench-$w $cb")
  say "== $row ($(elapsed)s in)"
  M "${args[@]}"
}

if has start; then
  say "== start ($(elapsed)s in)"
  M --row start --runs $(( runs * 4 > 20 ? runs * 4 : 20 )) --warmup 2 \
    --tool tsbuild --cmd "node $TSBJS --version" --tool node --cmd "node -e 0"
fi

if has w1; then
  workload w1 "$SHARED/bench/w1-hello"
  pair w1.cold w1 cold
  pair w1.nochange w1 nochange
  # output equivalence, checked once at the end: both w1 images, exported (cached builds, not timed)
  tsb --root "$W/stores/w1" build -q -t bench-w1 -o "type=oci,dest=$W/img/tsbuild-w1.tar" "$W/ctx/tsbuild-w1" >"$W/logs/export-w1.log" 2>&1 \
    || say "  tsbuild w1 export failed (log $W/logs/export-w1.log)"
  if [ "$anchors" = 1 ]; then
    $DOCKER save -o "$W/img/buildkit-w1.tar" bench-w1 2>>"$W/logs/export-w1.log" || say "  docker save bench-w1 failed"
    $DOCKER save -o "$W/img/buildkit-base.tar" "$BB" 2>>"$W/logs/export-w1.log" || say "  docker save $BB failed"
  fi
fi

if has w3; then
  workload w3 "$SHARED/bench/w3-parallel"
  pair w3.cold w3 cold
  pair w3.nochange w3 nochange
  trash "$W/stores/w3" "$W/ctx/"*-w3
fi

if has big; then
  say "generating the 20k-file context"
  bash "$SHARED/bench/gen-bigctx.sh" "$W/src/big" 20000
  workload big "$W/src/big"
  pair big.first big first
  pair big.cold big cold
  pair big.nochange big nochange
  pair big.change big change:pkg000/lib00/f000000.js
  trash "$W/stores/big" "$W/ctx/"*-big

  # w1 no-change on a store that has built 5 different 20k-file contexts, against a store that has
  # built only w1 (both tsbuild, alternating)
  say "== w1.store5: building 5 different 20k-file contexts into one store ($(elapsed)s in)"
  [ -d "$W/ctx/tsbuild-w1" ] || workload w1 "$SHARED/bench/w1-hello"
  cp -a "$T0" "$W/stores/fresh"; cp -a "$T0" "$W/stores/store5"
  ok5=1
  for st in fresh store5; do
    tsb --root "$W/stores/$st" build -q -t bench-w1 "$W/ctx/tsbuild-w1" >>"$W/logs/store5-setup.log" 2>&1 || ok5=0
  done
  for k in 1 2 3 4 5; do
    context "$W/src/big" "$W/ctx/store5-$k"
    echo "context $k" > "$W/ctx/store5-$k/marker.txt"
    tsb --root "$W/stores/store5" build -q -t "bench-big-$k" "$W/ctx/store5-$k" >>"$W/logs/store5-setup.log" 2>&1 || ok5=0
  done
  if [ "$ok5" = 1 ]; then
    M --row w1.store5 --warmup 1 \
      --tool store5 --prep sync --cmd "node $TSBJS --root $W/stores/store5 build --progress=plain -t bench-w1 $W/ctx/tsbuild-w1" \
      --tool fresh --prep sync --cmd "node $TSBJS --root $W/stores/fresh build --progress=plain -t bench-w1 $W/ctx/tsbuild-w1"
  else
    say "  setting up the 5-context store failed (log $W/logs/store5-setup.log)"
  fi
  trash "$W/stores/store5" "$W/stores/fresh" "$W/ctx/"store5-*

  # flat memory: the 40k-file / 440 MB context, first build, tsbuild alone (only its peak RSS is a goal;
  # the 20k figure it is held against is big.first's)
  say "generating the 40k-file context"
  trash "$W/src/big"
  bash "$SHARED/bench/gen-bigctx.sh" "$W/src/big40k" 40000
  context "$W/src/big40k" "$W/ctx/tsbuild-big40k"
  trash "$W/src/big40k"
  say "== big40k.first ($(elapsed)s in)"
  M --row big40k.first \
    --tool tsbuild --prep "{ [ ! -e '$W/stores/big40k' ] || mv '$W/stores/big40k' '$W/trash/'\$(date +%s%N); } && cp -a '$T0' '$W/stores/big40k' && sync" \
    --cmd "node $TSBJS --root $W/stores/big40k build --progress=plain -t bench-big40k $W/ctx/tsbuild-big40k"
  trash "$W/stores/big40k" "$W/ctx/tsbuild-big40k"
fi

if has real; then
  for w in apt c-multistage bigrun; do
    id=${w%-multistage}
    workload "$w" "$ROOT/bench/workloads/$w"
    pair "$id.cold" "$w" cold
    pair "$id.nochange" "$w" nochange
    [ "$w" = c-multistage ] && pair c.change "$w" change:src/table.c
    trash "$W/stores/$w" "$W/ctx/"*-"$w"
    [ "$anchors" = 1 ] && { $DOCKER rmi -f "bench-$w" >/dev/null 2>&1; $DOCKER image prune -f >/dev/null 2>&1; $DOCKER builder prune -af >/dev/null 2>&1; }
  done
fi

# --- 5. report -------------------------------------------------------------------------------------
code_paths=(builder snapshotter cmd frontend native common scripts package-lock.json)
src_commit=$(git -C "$ROOT" log -1 --format='%h (%ad)' --date=short -- "${code_paths[@]}" 2>/dev/null)
dirty=$(git -C "$ROOT" status --porcelain -- "${code_paths[@]}" 2>/dev/null | head -1)
echo "## npm run bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- tsbuild: sources as of commit $src_commit$([ -n "$dirty" ] && echo ', with uncommitted changes'), branch $(git -C "$ROOT" rev-parse --abbrev-ref HEAD 2>/dev/null) at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); node $(node --version)"
if [ "$anchors" = 1 ]; then
  echo "- reference: $($DOCKER version --format 'dockerd {{.Server.Version}}' 2>/dev/null) (BuildKit backend, \`docker build --network=host\`), a warm daemon of the bench's own"
else
  echo "- reference: not measured ($why)"
fi
echo "- machine: $(nproc) CPUs, $(free -h | awk '/^Mem:/ {print $2}') memory, kernel $(uname -r)"
echo "- method: median of $runs runs per figure (start-up: $(( runs * 4 > 20 ? runs * 4 : 20 ))), the builders alternating run by run; wall clock of the client process (node dist/tsbuild.mjs, /usr/bin/docker), peak RSS and CPU time from wait4 (BuildKit's CPU time adds its dockerd's process tree's); each run waited up to ${idle} s for a quiet machine"
[ "$runs" -lt 5 ] && echo "- **quick mode ($runs runs): not a figure to judge by**"
echo
python3 "$ROOT/bench/report.py" "$RES"
echo
echo "Rows: cold = \`build --no-cache\` with the base present, on a store / daemon that has built the same context"
echo "before (issue 10's definition; BuildKit re-sends only changed context files). first build = tsbuild from a fresh"
echo "copy of a store holding only the unpacked base images; BuildKit after \`docker rmi\` and \`docker builder prune -af\`"
echo "(its base stays in dockerd's image store; it still resolves the base's tag against the registry)."
echo "no-change = the same build again. change = a line appended to one file"
echo "(big: pkg000/lib00/f000000.js; c: a new string constant in src/table.c). Each run's preparation ends with \`sync\`."

if [ "$anchors" = 1 ] && [ -f "$W/img/tsbuild-w1.tar" ] && [ -f "$W/img/buildkit-w1.tar" ]; then
  echo
  S=$SHARED/lab/image-summary.py C=$SHARED/lab/image-compare.py I=$W/img
  if python3 "$S" "$I/tsbuild-w1.tar" "$I/tsbuild-base.tar" > "$I/tsbuild-w1.json" 2>/dev/null \
     && python3 "$S" "$I/buildkit-w1.tar" "$I/buildkit-base.tar" > "$I/buildkit-w1.json" 2>/dev/null; then
    if out=$(python3 "$C" "$I/buildkit-w1.json" "$I/tsbuild-w1.json"); then
      echo "Output check, w1 (config and file tree above each builder's base): identical to BuildKit's."
    else
      echo "Output check, w1 (config and file tree above each builder's base; want = BuildKit, got = tsbuild):"
      printf '%s\n' "$out" | sed 's/^/    /'
      case $out in *"tree /listing:"*)
        echo "    (/listing is w1's \`ls -la /app\` output: it differs when a mode, size or mtime (to the minute) in /app differs)" ;; esac
    fi
  else
    echo "Output check, w1: an image could not be summarised"
  fi
fi
echo
echo "bench took $(elapsed)s"
exit 0
