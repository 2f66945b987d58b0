// Async-signal-safe helpers for the child's setup steps (see child.h).
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../child.h"

namespace container {
namespace {

// Our own names for kernel constants: glibc versions disagree on which of them their headers define.
constexpr unsigned kOpenTreeClone = 1, kAtRecursive = 0x8000, kAtEmptyPath = 0x1000;
constexpr unsigned kMoveMountFEmptyPath = 0x4;
constexpr uint64_t kMountAttrRdonly = 0x1;
constexpr unsigned kFsopenCloexec = 1, kFsconfigCmdCreate = 6, kFsmountCloexec = 1;

struct MountAttr {  // struct mount_attr
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

}  // namespace

size_t slen(const char* s) { size_t n = 0; while (s[n]) n++; return n; }

void childFail(int ef, int kind, int err, const char* a, const char* b, const char* c, int code) {
  ErrRecord rec;
  rec.err = err;
  rec.kind = kind;
  size_t n = 0;
  for (const char* part : {a, b, c}) {
    for (size_t i = 0; part && part[i] && n < sizeof(rec.msg) - 1; i++) rec.msg[n++] = part[i];
  }
  rec.msg[n] = 0;
  ssize_t w;
  do { w = write(ef, &rec, offsetof(ErrRecord, msg) + n); } while (w < 0 && errno == EINTR);
  _exit(code);
}

// mkdir -p, root-owned 0755 (umask is 022). Errors are left for the following mount/chdir to report.
void mkdirAll(const char* path) {
  char buf[4096];
  size_t n = slen(path);
  if (n >= sizeof(buf)) return;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i < n; i++) {
    if (buf[i] != '/') continue;
    buf[i] = 0;
    mkdir(buf, 0755);
    buf[i] = '/';
  }
  mkdir(buf, 0755);
}

// Create an empty file as a bind-mount target. Returns false when the parent directory does not exist.
bool ensureFile(int ef, const char* path) {
  struct stat st;
  if (stat(path, &st) == 0) return true;
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    childFail(ef, kSetup, errno, "create mount target ", path);
  }
  close(fd);
  return true;
}

void writeAll(int ef, int fd, const char* data, size_t len, const char* what) {
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      childFail(ef, kSetup, errno, "write ", what);
    }
    data += w;
    len -= size_t(w);
  }
}

long moveMount(int fromFd, const char* to) {
  return syscall(SYS_move_mount, fromFd, "", AT_FDCWD, to, kMoveMountFEmptyPath);
}

// A detached copy of the mount tree at path: it stays usable after pivot_root has hidden the host's tree.
int cloneTree(const char* path, bool recursive) {
  return int(syscall(SYS_open_tree, AT_FDCWD, path, kOpenTreeClone | (recursive ? kAtRecursive : 0) | O_CLOEXEC));
}

int freshMount(const char* fstype, uint64_t attrs) {
  int fs = int(syscall(SYS_fsopen, fstype, kFsopenCloexec));
  if (fs < 0) return -1;
  int m = -1;
  if (syscall(SYS_fsconfig, fs, kFsconfigCmdCreate, nullptr, nullptr, 0) == 0) m = int(syscall(SYS_fsmount, fs, kFsmountCloexec, attrs));
  int e = errno;
  close(fs);
  errno = e;
  return m;
}

long setReadonly(int treeFd) {
  MountAttr attr{kMountAttrRdonly, 0, 0, 0};
  return syscall(SYS_mount_setattr, treeFd, "", kAtEmptyPath | kAtRecursive, &attr, sizeof(attr));
}

}  // namespace container
