#!/usr/bin/env bash
# npm run bench:registry [-- OPTIONS]: wall-clock push and pull times of tsbuild against BuildKit (dockerd)
# and Buildah, to and from the registry on 127.0.0.1:5000 (../shared/lab/anchors.sh), one run per figure,
# plus tsbuild's peak RSS (/usr/bin/time -v) and each image's compressed size as the registry stores it.
#   --variants LIST  comma-separated, of: rand (big context + 200 MB of /dev/urandom), text (big context only);
#                    default rand,text (text is skipped when rand alone took more than half of --budget)
#   --budget SECS    time budget for the whole run (default 480)
#   --keep           keep the work directory (contexts, stores, logs)
# Workload: ../shared/bench/gen-bigctx.sh 20000 (~220 MB of text files, COPY . /ctx, RUN du -s /ctx);
# the rand variant adds RUN head -c 200000000 /dev/urandom > /blob so that the image is ~200 MB compressed.
# Every push goes to a repository the registry has never seen (<tool>-bench-<variant>-<timestamp>:1).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=$(cd "$ROOT/../shared" && pwd)
ANCHORS=$SHARED/lab/anchors.sh
TSB=(node "$ROOT/dist/tsbuild.mjs")
DOCKER=/usr/bin/docker
export DOCKER_HOST=unix://${LAB:-/tmp/lab}/docker.sock DOCKER_BUILDKIT=1
REG=127.0.0.1:5000
BASE=localhost:5000/busybox:latest
VFS=--storage-driver=vfs
ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'

variants=rand,text budget=480 keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --variants) variants=$2; shift ;;
    --budget) budget=$2; shift ;;
    --keep) keep=1 ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
  esac
  shift
done

t_start=$EPOCHREALTIME
say() { printf '%s\n' "$*" >&2; }
elapsed() { awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'; }
W=$(mktemp -d /tmp/tsbuild-bench-registry.XXXXXX)
TS=$(date +%Y%m%d%H%M%S)
pushed=()     # repo:tag of every image pushed, for the registry clean-up
bk_images=()  # docker image names to remove
bh_new=()     # buildah image ids created by the bench
cleanup() {
  for r in "${pushed[@]}"; do  # delete the manifests (blobs stay until the registry's garbage collection)
    local repo=${r%:*} tag=${r##*:} dg
    dg=$(curl -fsI -H "Accept: $ACCEPT" "http://$REG/v2/$repo/manifests/$tag" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}')
    [ -n "$dg" ] && curl -fs -X DELETE "http://$REG/v2/$repo/manifests/$dg" >/dev/null
  done
  [ ${#bk_images[@]} -gt 0 ] && $DOCKER rmi -f "${bk_images[@]}" >/dev/null 2>&1
  $DOCKER builder prune -af >/dev/null 2>&1
  [ ${#bh_new[@]} -gt 0 ] && buildah rmi -f $VFS "${bh_new[@]}" >/dev/null 2>&1
  if [ "$keep" = 1 ]; then say "work directory kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
mkdir -p "$W/logs"
RES=$W/results.tsv; : > "$RES"
EXTRA=$W/extra.tsv; : > "$EXTRA"   # variant<TAB>what<TAB>value

# --- setup -----------------------------------------------------------------------------------------
npm run build >"$W/logs/npm-build.log" 2>&1 || { tail -30 "$W/logs/npm-build.log" >&2; say "bench: npm run build failed"; exit 1; }
if [ ! -x /usr/bin/time ]; then
  say "installing time (for /usr/bin/time -v)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
bash "$ANCHORS" up >"$W/logs/anchors-up.log" 2>&1 && $DOCKER info >/dev/null 2>&1 && command -v buildah >/dev/null \
  || { tail -5 "$W/logs/anchors-up.log" >&2; say "bench: the anchors are not up"; exit 1; }
$DOCKER pull -q "$BASE" >/dev/null 2>&1 || say "docker pull $BASE failed"
buildah pull $VFS --tls-verify=false -q "$BASE" >/dev/null 2>&1 || say "buildah pull $BASE failed"

# --- helpers ---------------------------------------------------------------------------------------
failed=()
# timed LOG CMD...: runs CMD with output to LOG, prints elapsed seconds (or FAIL)
timed() {
  local log=$1; shift
  local s=$EPOCHREALTIME
  if "$@" >"$log" 2>&1; then awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; else echo FAIL; fi
}
record() { # record VARIANT OP TOOL SECONDS LOG
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RES"
  say "  $3 $1 $2: $4"
  if [ "$4" = FAIL ]; then failed+=("$3 $1 $2 (log $5)"); tail -15 "$5" | sed 's/^/    | /' >&2; fi
}
extra() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$EXTRA"; }
need_ok() { # need_ok LOG WHAT CMD...: untimed step; on failure note it and return 1
  local log=$1 what=$2; shift 2
  "$@" >"$log" 2>&1 && return 0
  failed+=("$what (log $log)"); say "  $what failed:"; tail -15 "$log" | sed 's/^/    | /' >&2; return 1
}
maxrss() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1" 2>/dev/null; }
# size REPO:TAG: compressed size of a pushed image (config + layers, MB) and its layers, from the registry
size() {
  curl -fs -H "Accept: $ACCEPT" "http://$REG/v2/${1%:*}/manifests/${1##*:}" | python3 -c '
import json, sys
m = json.load(sys.stdin)
tot = m["config"]["size"] + sum(l["size"] for l in m["layers"])
print("%.1f MB (layers: %s)" % (tot / 1e6, ", ".join("%.1f" % (l["size"] / 1e6) for l in m["layers"])))' 2>/dev/null || echo "?"
}

# tsbuild VARIANT CTX: build into a fresh store (base pulled from the registry; not timed), push (timed),
# pull into another fresh store (timed); then, for reference, unpack by running `true` in the pulled image
run_tsbuild() {
  local v=$1 ctx=$2 d=$W/tsbuild-$v l=$W/logs/tsbuild-$v img=$REG/tsb-bench-$1-$TS:1 t
  mkdir -p "$d"
  export TSBUILD_ROOT=$d/root-build
  need_ok "$l-base.log" "tsbuild pull $BASE" "${TSB[@]}" pull --progress=plain "$BASE" \
    && need_ok "$l-build.log" "tsbuild build $v" "${TSB[@]}" build --progress=plain -t "$img" "$ctx" \
    || { record "$v" push tsbuild FAIL "$l-build.log"; unset TSBUILD_ROOT; return; }
  pushed+=("${img#*/}")
  t=$(timed "$l-push.log" /usr/bin/time -v -o "$l-push.time" "${TSB[@]}" push --progress=json "$img")
  record "$v" push tsbuild "$t" "$l-push.log"; extra "$v" "tsbuild push maxrss" "$(maxrss "$l-push.time")"
  extra "$v" "size tsbuild" "$(size "${img#*/}")"
  rm -rf "$d/root-build"
  export TSBUILD_ROOT=$d/root-pull
  t=$(timed "$l-pull.log" /usr/bin/time -v -o "$l-pull.time" "${TSB[@]}" pull --progress=json "$img")
  record "$v" pull tsbuild "$t" "$l-pull.log"; extra "$v" "tsbuild pull maxrss" "$(maxrss "$l-pull.time")"
  if [ "$t" != FAIL ]; then
    t=$(timed "$l-unpack.log" /usr/bin/time -v -o "$l-unpack.time" "${TSB[@]}" run --rm --network none "$img" true)
    extra "$v" "tsbuild unpack" "$t s (tsbuild run --rm IMAGE true right after the pull; peak RSS $(maxrss "$l-unpack.time") MB)"
  fi
  rm -rf "$d"
  unset TSBUILD_ROOT
}

# BuildKit VARIANT CTX: docker build (not timed), docker push (timed), rmi + builder prune, docker pull (timed)
run_buildkit() {
  local v=$1 ctx=$2 l=$W/logs/buildkit-$v img=$REG/bk-bench-$1-$TS:1 t
  bk_images+=("$img")
  need_ok "$l-build.log" "docker build $v" bash "$ANCHORS" buildkit "$ctx" --progress=plain -t "$img" \
    || { record "$v" push buildkit FAIL "$l-build.log"; return; }
  pushed+=("${img#*/}")
  record "$v" push buildkit "$(timed "$l-push.log" $DOCKER push "$img")" "$l-push.log"
  extra "$v" "size buildkit" "$(size "${img#*/}")"
  $DOCKER rmi -f "$img" >/dev/null 2>&1
  $DOCKER builder prune -af >/dev/null 2>&1
  record "$v" pull buildkit "$(timed "$l-pull.log" $DOCKER pull "$img")" "$l-pull.log"
  extra "$v" "buildkit pull layers already present" "$(grep -c 'Already exists' "$l-pull.log")"
  $DOCKER rmi -f "$img" >/dev/null 2>&1
}

# Buildah VARIANT CTX: buildah bud --layers (not timed), buildah push (timed), rmi of the image and its
# intermediate --layers images, buildah pull (timed)
run_buildah() {
  local v=$1 ctx=$2 l=$W/logs/buildah-$v img=$REG/bh-bench-$1-$TS:1 t before id
  before=$(buildah images -a -q --no-trunc $VFS 2>/dev/null)
  need_ok "$l-build.log" "buildah bud $v" bash "$ANCHORS" buildah "$ctx" --layers -t "$img"
  local ok=$?
  for id in $(buildah images -a -q --no-trunc $VFS 2>/dev/null); do
    grep -qx "$id" <<< "$before" || bh_new+=("$id")
  done
  [ $ok = 0 ] || { record "$v" push buildah FAIL "$l-build.log"; return; }
  pushed+=("${img#*/}")
  record "$v" push buildah "$(timed "$l-push.log" buildah push $VFS --tls-verify=false "$img")" "$l-push.log"
  extra "$v" "size buildah" "$(size "${img#*/}")"
  [ ${#bh_new[@]} -gt 0 ] && buildah rmi -f $VFS "${bh_new[@]}" >/dev/null 2>&1
  bh_new=()
  record "$v" pull buildah "$(timed "$l-pull.log" buildah pull $VFS --tls-verify=false "$img")" "$l-pull.log"
  extra "$v" "buildah pull layers already present" "$(grep -c 'skipped: already exists' "$l-pull.log")"
  id=$(buildah images -q --no-trunc $VFS "$img" 2>/dev/null) && [ -n "$id" ] && bh_new+=("$id")
  [ ${#bh_new[@]} -gt 0 ] && buildah rmi -f $VFS "${bh_new[@]}" >/dev/null 2>&1
  bh_new=()
}

# --- measurements ----------------------------------------------------------------------------------
say "generating the big context (20000 files)"
bash "$SHARED/bench/gen-bigctx.sh" "$W/bigctx" 20000
done_variants=() skipped=""
IFS=, read -ra vlist <<< "$variants"
for v in "${vlist[@]}"; do
  if [ ${#done_variants[@]} -gt 0 ] && [ "$(elapsed)" -gt $((budget / 2)) ]; then
    skipped+=" $v"; say "== $v skipped: $(elapsed)s spent of a ${budget}s budget"; continue
  fi
  say "== $v ($(elapsed)s in)"
  ctx=$W/ctx-$v
  cp -r --preserve=timestamps "$W/bigctx" "$ctx"
  # a per-variant marker file, so the variants' COPY layers differ and no push can mount one from another
  echo "$v $TS" > "$ctx/variant.txt"
  case $v in
    rand) echo 'RUN head -c 200000000 /dev/urandom > /blob' >> "$ctx/Dockerfile" ;;
    text) ;;
    *) say "unknown variant $v"; continue ;;
  esac
  run_tsbuild "$v" "$ctx"
  run_buildkit "$v" "$ctx"
  run_buildah "$v" "$ctx"
  rm -rf "$ctx"
  done_variants+=("$v")
done

# --- report ----------------------------------------------------------------------------------------
echo
echo "registry push/pull: tsbuild (HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), built from the working tree) vs references on $(nproc) CPUs;"
echo "one run per figure, wall-clock seconds, registry $REG (docker-registry, plain HTTP, loopback)"
echo "variants: rand = gen-bigctx.sh 20000 (COPY . /ctx, RUN du -s /ctx) + RUN head -c 200000000 /dev/urandom > /blob"
echo "          text = gen-bigctx.sh 20000 only (text compresses well)"
echo "push: to a repository the registry has never seen (the busybox base layer may already be there); image built, not timed"
echo "pull: tsbuild  - into a fresh empty TSBUILD_ROOT; fetches and verifies blobs into the content store (layers are not unpacked)"
echo "      buildkit - after docker rmi + docker builder prune -af; docker pull downloads and unpacks into dockerd's store"
echo "      buildah  - after buildah rmi of the image and its --layers intermediates; downloads and unpacks into vfs storage"
echo "tools: $($DOCKER version --format 'dockerd {{.Server.Version}}' 2>/dev/null), $(buildah --version 2>/dev/null | cut -d' ' -f1-3), node $(node --version)"
echo "ratio = tsbuild / reference: below 1 means tsbuild was faster"
echo
python3 "$ROOT/bench/table.py" "$RES"
echo
for v in "${done_variants[@]}"; do
  echo "$v:"
  awk -F'\t' -v v="$v" '$1 == v {
    val = $3
    if ($2 ~ /maxrss$/) val = (val == "" ? "?" : val " MB")
    printf "  %-38s %s\n", $2, val
  }' "$EXTRA"
done
[ -n "$skipped" ] && echo "skipped for time:$skipped"
echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed:"; printf '  %s\n' "${failed[@]}"
  [ "$keep" = 1 ] || echo "  (rerun with --keep to keep the logs)"
fi
echo "bench took $(elapsed)s"
exit 0
