// /proc, /sys (read-only) and a minimal /dev: null, zero, full, random, urandom, tty, pts, shm.
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../child.h"

namespace container {
namespace {

// Host device nodes bind-mounted into the container's /dev.
const char* const kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};
static_assert(sizeof(kDevices) / sizeof(kDevices[0]) == kNumDevices, "HostTrees has a slot per device");

void devPath(char (&path)[32], int i) {
  memcpy(path, "/dev/", 5);
  memcpy(path + 5, kDevices[i], slen(kDevices[i]) + 1);
}

void mountDev(const HostTrees& t, int ef) {
  mkdirAll("/dev");
  if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") != 0)
    childFail(ef, kSetup, errno, "mount /dev");
  for (int i = 0; i < kNumDevices; i++) {
    char path[32];
    devPath(path, i);
    ensureFile(ef, path);
    if (moveMount(t.devices[i], path) != 0) childFail(ef, kSetup, errno, "bind mount ", path);
    close(t.devices[i]);
  }
  mkdir("/dev/pts", 0755);
  if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0)
    childFail(ef, kSetup, errno, "mount /dev/pts");
  mkdir("/dev/shm", 01777);
  if (mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0)
    childFail(ef, kSetup, errno, "mount /dev/shm");
  symlink("pts/ptmx", "/dev/ptmx");
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
}

}  // namespace

// MOUNT_ATTR_RDONLY, _NOSUID, _NODEV, _NOEXEC.
constexpr uint64_t kRdonly = 0x1, kNosuid = 0x2, kNodev = 0x4, kNoexec = 0x8;

HostTrees cloneHostTrees(int ef) {
  HostTrees t;
  for (int i = 0; i < kNumDevices; i++) {
    char path[32];
    devPath(path, i);
    t.devices[i] = cloneTree(path, false);
    if (t.devices[i] < 0) childFail(ef, kSetup, errno, "clone host mount ", path);
  }
  // Made now, while the host's /proc and /sys are still in this mount namespace: in a user namespace
  // (rootless) the kernel grants a new proc or sysfs only while a fully visible one is there.
  t.proc = freshMount("proc", kNosuid | kNodev | kNoexec);
  t.procErr = t.proc < 0 ? errno : 0;
  t.sysfs = freshMount("sysfs", kRdonly | kNosuid | kNodev | kNoexec);
  t.sysfsErr = t.sysfs < 0 ? errno : 0;
  // Only a fallback for when a fresh sysfs can't be made (e.g. host networking in a user namespace, or
  // tsbuild itself runs in a container): failing here is not an error yet.
  t.sys = t.sysfs < 0 ? cloneTree("/sys", true) : -1;
  return t;
}

void mountPseudoFs(const HostTrees& t, int ef) {
  mkdirAll("/proc");
  if (t.proc < 0) childFail(ef, kSetup, t.procErr, "mount /proc");
  if (moveMount(t.proc, "/proc") != 0) childFail(ef, kSetup, errno, "mount /proc");
  close(t.proc);
  mkdirAll("/sys");
  if (t.sysfs >= 0) {
    if (moveMount(t.sysfs, "/sys") != 0) childFail(ef, kSetup, errno, "mount /sys");
    close(t.sysfs);
  } else {
    if (t.sys < 0) childFail(ef, kSetup, t.sysfsErr, "mount /sys");
    if (setReadonly(t.sys) != 0) childFail(ef, kSetup, errno, "make /sys read-only");
    if (moveMount(t.sys, "/sys") != 0) childFail(ef, kSetup, errno, "bind mount /sys");
    close(t.sys);
  }
  mountDev(t, ef);
}

}  // namespace container
