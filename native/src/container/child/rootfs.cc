// The rootfs: mounted inside the container's own mount namespace, so nothing is ever mounted on the host
// and nothing outlives the container; then pivot_root into it.
#include <errno.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../child.h"

namespace container {

void mountRootfs(const PlanRootfs& r, int ef) {
  // Private first, so nothing propagates back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) childFail(ef, kSetup, errno, "make / rprivate");
  const char* mp = r.mountpoint.c_str();
  if (r.kind == PlanRootfs::kDir) {
    if (mount(r.source.c_str(), mp, nullptr, MS_BIND | MS_REC, nullptr) != 0)
      childFail(ef, kSetup, errno, "bind mount rootfs ", r.source.c_str());
    return;
  }
  if (r.emptyLower && mount("tmpfs", mp, "tmpfs", 0, "mode=755,size=4k") != 0)
    childFail(ef, kSetup, errno, "mount empty lower tmpfs");
  if (r.chdir && chdir(r.chdir->c_str()) != 0) childFail(ef, kSetup, errno, "chdir ", r.chdir->c_str());
  if (mount("overlay", mp, "overlay", 0, r.data.c_str()) != 0) childFail(ef, kSetup, errno, "mount overlay");
}

// From here on, paths resolve inside the rootfs: its symlinks can't point us at host paths.
void pivotInto(const char* mountpoint, int ef) {
  if (chdir(mountpoint) != 0) childFail(ef, kSetup, errno, "chdir ", mountpoint);
  // new_root == put_old: the old root gets stacked on top of the new one and is then lazily detached.
  if (syscall(SYS_pivot_root, ".", ".") != 0) childFail(ef, kSetup, errno, "pivot_root");
  if (umount2(".", MNT_DETACH) != 0) childFail(ef, kSetup, errno, "detach old root");
  if (chdir("/") != 0) childFail(ef, kSetup, errno, "chdir /");
}

}  // namespace container
