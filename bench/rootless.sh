#!/usr/bin/env bash
# npm run bench:rootless [-- --runs N]: issue 13's figures. ../shared/bench/w1-hello cold (--no-cache)
# and no-change, built by tsbuild as root, by tsbuild as an unprivileged user (rootless), and by rootless
# Buildah (overlay storage, runc), the three alternating run by run (bench/measure.py); prints medians
# and the ratios rootless ÷ root and tsbuild rootless ÷ Buildah rootless. Needs root (it makes the user,
# tsbench-rl, with a subordinate id range, and removes it after) and Debian's buildah, runc and
# docker-registry (a registry on 127.0.0.1:5000 holds w1's base: the lab's if it is up, else our own).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
runs=5
[ "${1:-}" = --runs ] && runs=$2
U=tsbench-rl
W=$(mktemp -d /tmp/tsbuild-bench-rootless.XXXXXX)
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  userdel "$U" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
chmod 755 "$W"

for p in buildah runc docker-registry uidmap; do dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah runc docker-registry uidmap >/dev/null; break; }; done
[ -f dist/tsbuild.mjs ] || npm run build >/dev/null
# w1 is FROM localhost:5000/busybox:latest: a registry there (the lab's, or one of our own) with the
# offline busybox base pushed by tsbuild.
if ! curl -fs http://127.0.0.1:5000/v2/ >/dev/null; then
  printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:5000}\n' "$W/registry" > "$W/registry.yml"
  docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do curl -fs http://127.0.0.1:5000/v2/ >/dev/null && break; sleep 0.1; done
fi
bash scripts/busybox-context.sh "$W/bb" >/dev/null
TSBUILD_ROOT=$W/seed node dist/tsbuild.mjs import -c 'CMD ["/bin/sh"]' "$W/bb/rootfs" localhost:5000/busybox:latest >/dev/null
TSBUILD_ROOT=$W/seed node dist/tsbuild.mjs push localhost:5000/busybox:latest >/dev/null

userdel "$U" 2>/dev/null || true
useradd --no-create-home --shell /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$U"
usermod --add-subuids 500000-565535 --add-subgids 500000-565535 "$U"
uid=$(id -u "$U") gid=$(id -g "$U")
home=$W/home run=$W/run
mkdir -p "$home" "$run" "$W/install/native/build/Release"
chown "$uid:$gid" "$home" "$run"
chmod 700 "$run"
# A copy the user can read wherever the checkout is.
cp -r dist "$W/install/"
cp native/build/Release/tsbuild_native.node "$W/install/native/build/Release/"
chmod -R a+rX "$W/install"
cp -r "$ROOT/../shared/bench/w1-hello" "$W/w1"
chmod -R a+rX "$W/w1"
AS="setpriv --reuid=$uid --regid=$gid --init-groups env HOME=$home XDG_RUNTIME_DIR=$run PATH=$PATH"
TSB="node $W/install/dist/tsbuild.mjs"
# The busybox base for each builder: tsbuild pulls it from the lab's registry (root and rootless alike).
TSBUILD_ROOT=$W/root-store $TSB pull localhost:5000/busybox:latest >/dev/null
$AS $TSB pull localhost:5000/busybox:latest >/dev/null
$AS buildah pull --storage-driver=overlay --tls-verify=false localhost:5000/busybox:latest >/dev/null 2>&1

RES=$W/results.jsonl
M() { python3 "$ROOT/bench/measure.py" --results "$RES" --logs "$W/logs" --runs "$runs" "$@"; }
buildah="buildah bud --storage-driver=overlay --runtime=runc --network=host --layers --tls-verify=false -q"
M --row cold \
  --tool root --cmd "env TSBUILD_ROOT=$W/root-store $TSB build -q --no-cache $W/w1" \
  --tool rootless --cmd "$AS $TSB build -q --no-cache $W/w1" \
  --tool buildah --cmd "$AS $buildah --no-cache $W/w1"
M --row nochange --warmup 1 \
  --tool root --cmd "env TSBUILD_ROOT=$W/root-store $TSB build -q $W/w1" \
  --tool rootless --cmd "$AS $TSB build -q $W/w1" \
  --tool buildah --cmd "$AS $buildah $W/w1"

python3 - "$RES" <<'PY'
import json, statistics, sys
s = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r['rc'] == 0: s.setdefault((r['row'], r['tool']), []).append(r['seconds'])
print('| w1 | tsbuild root | tsbuild rootless | Buildah rootless | rootless ÷ root | tsbuild ÷ Buildah (rootless) |')
print('|---|---|---|---|---|---|')
for row, label in (('cold', 'cold (--no-cache)'), ('nochange', 'no-change rebuild')):
    m = {t: statistics.median(s[(row, t)]) for t in ('root', 'rootless', 'buildah') if (row, t) in s}
    f = lambda t: f"{m[t]:.3f} s" if t in m else 'failed'
    ratio = lambda a, b: f"{m[a] / m[b]:.2f}" if a in m and b in m else '-'
    print(f"| {label} | {f('root')} | {f('rootless')} | {f('buildah')} | {ratio('rootless', 'root')} | {ratio('rootless', 'buildah')} |")
PY
