// RUN --mount targets and the /etc/hosts, /etc/resolv.conf files. User mounts are applied last, so they win
// over everything else; their targets resolve inside the rootfs.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../child.h"

namespace container {
namespace {

constexpr unsigned long kReadonlyRemount = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;

// Bind a read-only file holding `data` over `target`. The file lives on the container's /dev tmpfs only
// long enough to be bind-mounted, then is unlinked so it doesn't show up in /dev (the bind mount keeps the
// inode), so its bytes are never on the host.
void bindFile(int ef, const char* tmpPath, const char* target, const std::string& data, unsigned mode, unsigned uid, unsigned gid) {
  int fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) childFail(ef, kSetup, errno, "create ", tmpPath);
  writeAll(ef, fd, data.data(), data.size(), tmpPath);
  if (fchown(fd, uid, gid) != 0) childFail(ef, kSetup, errno, "chown mount file for ", target);
  if (fchmod(fd, mode) != 0) childFail(ef, kSetup, errno, "chmod mount file for ", target);
  close(fd);
  if (mount(tmpPath, target, nullptr, MS_BIND, nullptr) != 0) childFail(ef, kSetup, errno, "bind mount on ", target);
  if (mount(nullptr, target, nullptr, kReadonlyRemount, nullptr) != 0)
    childFail(ef, kSetup, errno, "remount read-only ", target);
  unlink(tmpPath);
}

// /etc/hosts and resolv.conf: root-owned 0644, skipped where the target cannot be made.
void bindContent(int ef, const char* tmpPath, const char* target, const std::string& content) {
  if (!ensureFile(ef, target)) return;  // e.g. a dangling /etc/resolv.conf symlink: leave it
  bindFile(ef, tmpPath, target, content, 0644, 0, 0);
}

// A secret: the plan's owner and mode; its target was made by makeTarget.
void mountContent(const PlanMount& m, int ef) {
  bindFile(ef, "/dev/.tsbuild-mount", m.target.c_str(), m.content, m.mode, m.uid, m.gid);
}

// A directory, or an empty file with its parent directories, to mount on.
void makeTarget(const PlanMount& m, int ef) {
  const char* target = m.target.c_str();
  if (m.type == PlanMount::kTmpfs || (m.type == PlanMount::kBind && m.isDir)) {
    mkdirAll(target);
    return;
  }
  if (ensureFile(ef, target)) return;
  char parent[4096];
  size_t n = slen(target);
  if (n < sizeof(parent)) {
    memcpy(parent, target, n + 1);
    while (n > 1 && parent[n - 1] != '/') n--;
    parent[n > 1 ? n - 1 : 1] = 0;
    mkdirAll(parent);
  }
  ensureFile(ef, target);
}

}  // namespace

void cloneMountSources(const Plan& p, int* mountFds, int ef) {
  for (size_t i = 0; i < p.mounts.size(); i++) {
    const PlanMount& m = p.mounts[i];
    mountFds[i] = -1;
    if (m.type != PlanMount::kBind) continue;
    mountFds[i] = cloneTree(m.source.c_str(), true);
    if (mountFds[i] < 0) childFail(ef, kSetup, errno, "bind mount ", m.source.c_str());
    if (m.readonly && setReadonly(mountFds[i]) != 0) childFail(ef, kSetup, errno, "make read-only ", m.source.c_str());
  }
}

void mountEtcFiles(const Plan& p, int ef) {
  if (!p.hosts && !p.resolvConf) return;
  struct stat st;
  if (stat("/etc", &st) != 0 || !S_ISDIR(st.st_mode)) return;
  if (p.hosts) bindContent(ef, "/dev/.tsbuild-hosts", "/etc/hosts", *p.hosts);
  if (p.resolvConf) bindContent(ef, "/dev/.tsbuild-resolv.conf", "/etc/resolv.conf", *p.resolvConf);
}

void attachMounts(const Plan& p, const int* mountFds, int ef) {
  for (size_t i = 0; i < p.mounts.size(); i++) {
    const PlanMount& m = p.mounts[i];
    const char* target = m.target.c_str();
    makeTarget(m, ef);
    switch (m.type) {
      case PlanMount::kTmpfs: {
        unsigned long fl = MS_NOSUID | MS_NODEV | (m.readonly ? MS_RDONLY : 0);
        if (mount("tmpfs", target, "tmpfs", fl, m.data.c_str()) != 0) childFail(ef, kSetup, errno, "mount tmpfs on ", target);
        break;
      }
      case PlanMount::kContent:
        mountContent(m, ef);
        break;
      case PlanMount::kBind:
        if (moveMount(mountFds[i], target) != 0) childFail(ef, kSetup, errno, "bind mount on ", target);
        close(mountFds[i]);
        break;
    }
  }
}

}  // namespace container
