#!/usr/bin/env bash
# corpus-expect.sh [CASE...]: regenerate test/corpus/<case>/expected.json with BuildKit (the lab dockerd's,
# ../shared/lab/anchors.sh) for all cases or the named ones.
#   Each case directory, minus expected.json and args, is the build context; `args` holds extra
#   `docker build` arguments, one per line (--build-arg K=V, --target S, -f PATH relative to the context).
#   The image is `docker save`d and reduced by test/corpus/normalize.py against the busybox base;
#   a build BuildKit rejects records {"error": "<BuildKit's message>"}.
#   Cases listed in test/corpus/no-reference.json are skipped (the lab BuildKit lacks the feature).
# Needs the anchors: bash ../shared/lab/anchors.sh up
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CORPUS=$ROOT/test/corpus
SHARED=$(cd "$ROOT/../shared" && pwd)
export DOCKER_HOST=unix://${LAB:-/tmp/lab}/docker.sock DOCKER_BUILDKIT=1
DOCKER=/usr/bin/docker
BASE=localhost:5000/busybox:latest

$DOCKER info >/dev/null 2>&1 || { echo "corpus-expect: no dockerd at $DOCKER_HOST (bash ../shared/lab/anchors.sh up)" >&2; exit 1; }
W=$(mktemp -d /tmp/corpus-expect.XXXXXX)
trap 'rm -rf "$W"' EXIT
$DOCKER pull -q "$BASE" >/dev/null
$DOCKER save -o "$W/base.tar" "$BASE"

if [ $# -gt 0 ]; then cases=("$@"); else
  cases=(); for d in "$CORPUS"/*/; do [ -f "$d/Dockerfile" ] || [ -f "$d/args" ] && cases+=("$(basename "$d")"); done
fi
noref() { python3 -c 'import json,sys; print(sys.argv[1] in json.load(open(sys.argv[2])))' "$1" "$CORPUS/no-reference.json"; }

n=0 nerr=0 nskip=0
for c in "${cases[@]}"; do
  src=$CORPUS/$c
  [ -d "$src" ] || { echo "corpus-expect: no case $c" >&2; exit 1; }
  if [ -f "$CORPUS/no-reference.json" ] && [ "$(noref "$c")" = True ]; then
    rm -f "$src/expected.json"; nskip=$((nskip + 1)); echo "$c: skipped (no-reference.json)"; continue
  fi
  ctx=$W/ctx-$c; rm -rf "$ctx"; cp -a "$src" "$ctx"; rm -f "$ctx/expected.json" "$ctx/args"
  args=(); if [ -f "$src/args" ]; then while IFS= read -r l; do [ -n "$l" ] && args+=("$l"); done < "$src/args"; fi
  tag=corpus-expect-$(echo "$c" | tr 'A-Z' 'a-z')
  if (cd "$ctx" && $DOCKER build --network=host --progress=plain -t "$tag" "${args[@]}" .) >"$W/log-$c" 2>&1; then
    if ! $DOCKER save -o "$W/img.tar" "$tag" 2>"$W/save-$c"; then
      echo "corpus-expect: $c: docker save failed: $(cat "$W/save-$c")" >&2; exit 1
    fi
    python3 "$CORPUS/normalize.py" "$W/img.tar" "$W/base.tar" > "$src/expected.json"
    $DOCKER rmi -f "$tag" >/dev/null
    echo "$c: ok"
  else
    # BuildKit's message is the last non-empty line (docker 20.10: "failed to solve with frontend dockerfile.v0: ...")
    msg=$(grep -v '^\s*$' "$W/log-$c" | tail -1 | sed -E 's/^(ERROR: |error: )//')
    python3 -c 'import json,sys; print(json.dumps({"error": sys.argv[1]}, indent=1))' "$msg" > "$src/expected.json"
    nerr=$((nerr + 1)); echo "$c: error: $msg"
  fi
  rm -rf "$ctx"; n=$((n + 1))
done
$DOCKER builder prune -af >/dev/null 2>&1 || true
echo "corpus-expect: $n generated ($nerr BuildKit errors), $nskip skipped; $($DOCKER version --format 'dockerd {{.Server.Version}}')"
