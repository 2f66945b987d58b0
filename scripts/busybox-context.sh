#!/usr/bin/env bash
# busybox-context.sh DIR: a build context for an offline busybox base image (Debian's
# busybox-static, its applets as symlinks, a passwd with root and nobody), the same tree as
# ../shared/lab/anchors.sh pushes as localhost:5000/busybox.
set -euo pipefail
dir=$1
bb=${BUSYBOX:-/usr/bin/busybox}
[ -x "$bb" ] || { echo "busybox-context.sh: $bb not found (apt-get install busybox-static)" >&2; exit 1; }
rm -rf "$dir"; mkdir -p "$dir/rootfs"/{bin,etc,tmp,root,proc,sys,dev}
cp "$bb" "$dir/rootfs/bin/busybox"
# The applet list from this machine's busybox when it has one: a foreign-architecture busybox (BUSYBOX=)
# has the same applets and would need emulation to list them.
lister=$dir/rootfs/bin/busybox
[ -x /usr/bin/busybox ] && lister=/usr/bin/busybox
for a in $("$lister" --list); do [ "$a" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
chmod 1777 "$dir/rootfs/tmp"
printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCMD ["/bin/sh"]\n' > "$dir/Dockerfile"
