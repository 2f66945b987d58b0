#!/usr/bin/env bash
# npm run example: builds the example image offline (a busybox base made from Debian's
# busybox-static, then example/Dockerfile with its RUN steps) and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/busybox ] || ! /usr/bin/busybox --list >/dev/null 2>&1 || [ -n "$(ldd /usr/bin/busybox 2>/dev/null | grep '=>')" ]; then
  echo "installing busybox-static (the offline base image's only binary)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
base=$(mktemp -d)
trap 'rm -rf "$base"' EXIT
bash scripts/busybox-context.sh "$base"
node dist/tsbuild.mjs build -t busybox:latest "$base"
node dist/tsbuild.mjs build -t example:1 example
node dist/tsbuild.mjs run --rm example:1
