#!/usr/bin/env bash
# npm run bench:platforms [-- --runs N]: issue 14's figures. A two-platform build (linux/amd64 and
# linux/arm64, the arm64 RUN steps under qemu-user-static) of bench/workloads/platforms, cold
# (--no-cache), against the two single-platform builds of the same Dockerfile (their medians summed)
# and against Buildah's `bud --platform linux/amd64,linux/arm64 --manifest`, alternating run by run
# (bench/measure.py). The base is a busybox index for both platforms, pushed by tsbuild to a registry
# of this script's own. Needs root, qemu-user-static with binfmt_misc, Debian's buildah, runc and
# docker-registry (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
runs=5
[ "${1:-}" = --runs ] && runs=$2
W=$(mktemp -d /tmp/tsbuild-bench-platforms.XXXXXX)
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

for p in buildah runc docker-registry qemu-user-static binfmt-support; do dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah runc docker-registry qemu-user-static binfmt-support >/dev/null; break; }; done
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
bash scripts/foreign-busybox.sh arm64 test/.cache/busybox-arm64
[ -f dist/tsbuild.mjs ] || npm run build >/dev/null
TSB="node $ROOT/dist/tsbuild.mjs"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=localhost:$port
printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' "$W/registry" "$port" > "$W/registry.yml"
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

# The base: busybox for both platforms, as one index.
mkdir -p "$W/base"
BUSYBOX=/usr/bin/busybox bash scripts/busybox-context.sh "$W/amd64" >/dev/null
BUSYBOX=$ROOT/test/.cache/busybox-arm64/busybox bash scripts/busybox-context.sh "$W/arm64" >/dev/null
mv "$W/amd64/rootfs" "$W/base/rootfs-amd64"
mv "$W/arm64/rootfs" "$W/base/rootfs-arm64"
printf 'FROM scratch\nARG TARGETARCH\nCOPY rootfs-$TARGETARCH/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCMD ["/bin/sh"]\n' > "$W/base/Dockerfile"
TSBUILD_ROOT=$W/seed $TSB build -q --platform linux/amd64,linux/arm64 -t "$REG/bb:multi" --push "$W/base" >/dev/null

cp -r bench/workloads/platforms "$W/ctx"
# The build stage's input: five files of 5,000 short lines (made here rather than kept in the repo).
mkdir -p "$W/ctx/src"
for i in 1 2 3 4 5; do seq 1 5000 | awk '{print $1 % 97}' > "$W/ctx/src/f$i.txt"; done
sed -i "s# bb:multi# $REG/bb:multi#" "$W/ctx/Dockerfile"
for s in two amd64 arm64; do TSBUILD_ROOT=$W/store-$s $TSB pull "$REG/bb:multi" >/dev/null 2>&1; done
export REGISTRIES_CONFIG_PATH=$W/registries.conf
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG" > "$REGISTRIES_CONFIG_PATH"

RES=$W/results.jsonl
M() { python3 "$ROOT/bench/measure.py" --results "$RES" --logs "$W/logs" --runs "$runs" "$@"; }
M --row cold \
  --tool tsbuild-two --cmd "env TSBUILD_ROOT=$W/store-two $TSB build -q --no-cache --platform linux/amd64,linux/arm64 $W/ctx" \
  --tool tsbuild-amd64 --cmd "env TSBUILD_ROOT=$W/store-amd64 $TSB build -q --no-cache --platform linux/amd64 $W/ctx" \
  --tool tsbuild-arm64 --cmd "env TSBUILD_ROOT=$W/store-arm64 $TSB build -q --no-cache --platform linux/arm64 $W/ctx" \
  --tool buildah-two --prep "buildah --root $W/buildah manifest rm m >/dev/null 2>&1 || true" \
    --cmd "buildah --root $W/buildah --runroot $W/buildah-run --storage-driver=overlay bud --runtime=runc --tls-verify=false --no-cache -q --platform linux/amd64,linux/arm64 --manifest m $W/ctx"

python3 - "$RES" <<'PY'
import json, statistics, sys
s = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r['rc'] == 0: s.setdefault(r['tool'], []).append(r['seconds'])
m = {t: statistics.median(v) for t, v in s.items()}
f = lambda t: f"{m[t]:.2f} s" if t in m else 'failed'
print('| two platforms, cold | tsbuild | tsbuild amd64 + arm64 alone | Buildah | tsbuild ÷ the two alone | tsbuild ÷ Buildah |')
print('|---|---|---|---|---|---|')
alone = m['tsbuild-amd64'] + m['tsbuild-arm64'] if 'tsbuild-amd64' in m and 'tsbuild-arm64' in m else None
ratio = lambda a, b: f"{a / b:.2f}" if a and b else '-'
print(f"| medians | {f('tsbuild-two')} | {f'{alone:.2f} s' if alone else 'failed'} ({f('tsbuild-amd64')} + {f('tsbuild-arm64')}) | {f('buildah-two')} | {ratio(m.get('tsbuild-two'), alone)} | {ratio(m.get('tsbuild-two'), m.get('buildah-two'))} |")
PY
