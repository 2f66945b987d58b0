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

HostTrees cloneHostTrees(int ef) {
  HostTrees t;
  for (int i = 0; i < kNumDevices; i++) {
    char path[32];
    devPath(path, i);
    t.devices[i] = cloneTree(path, false);
    if (t.devices[i] < 0) childFail(ef, kSetup, errno, "clone host mount ", path);
  }
  // Only a fallback for when a fresh sysfs can't be mounted (see below): failing here is not an error yet.
  t.sys = cloneTree("/sys", true);
  return t;
}

void mountPseudoFs(const HostTrees& t, int ef) {
  mkdirAll("/proc");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    childFail(ef, kSetup, errno, "mount /proc");
  mkdirAll("/sys");
  // Where a fresh sysfs can't be mounted (e.g. tsbuild itself runs in a container), bind the host's read-only.
  if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    int e = errno;
    if (t.sys < 0) childFail(ef, kSetup, e, "mount /sys");
    if (setReadonly(t.sys) != 0) childFail(ef, kSetup, errno, "make /sys read-only");
    if (moveMount(t.sys, "/sys") != 0) childFail(ef, kSetup, errno, "bind mount /sys");
  }
  if (t.sys >= 0) close(t.sys);
  mountDev(t, ef);
}

}  // namespace container
