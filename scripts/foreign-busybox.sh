#!/usr/bin/env bash
# foreign-busybox.sh ARCH DEST: DEST/busybox, Debian's busybox-static for another architecture (arm64,
# armhf, ...), offline from then on: apt-get download of busybox-static:ARCH (after dpkg
# --add-architecture ARCH), unpacked. For multi-platform tests; running it needs emulation
# (qemu-user-static, binfmt_misc), fetching it does not.
set -euo pipefail
arch=$1 dest=$2
[ -x "$dest/busybox" ] && exit 0
mkdir -p "$dest"
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  dpkg --add-architecture "$arch"
  apt-get update -qq
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"   # apt's _apt user downloads into it
(cd "$work" && apt-get download -qq "busybox-static:$arch" 2>/dev/null || { apt-get update -qq && apt-get download -qq "busybox-static:$arch"; })
dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$work/x"
cp "$work/x/bin/busybox" "$dest/busybox.tmp"
mv "$dest/busybox.tmp" "$dest/busybox"
