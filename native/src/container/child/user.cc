// The command's credentials: resource limits (raising a hard limit needs CAP_SYS_RESOURCE, so they come
// first), Docker's default capability set unless privileged, then groups, gid, uid.
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "../child.h"

namespace container {
namespace {

// Docker's/BuildKit's default capability set for RUN.
constexpr uint64_t kDefaultCaps =
    (1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FSETID) | (1ull << CAP_FOWNER) |
    (1ull << CAP_MKNOD) | (1ull << CAP_NET_RAW) | (1ull << CAP_SETGID) | (1ull << CAP_SETUID) |
    (1ull << CAP_SETFCAP) | (1ull << CAP_SETPCAP) | (1ull << CAP_NET_BIND_SERVICE) | (1ull << CAP_SYS_CHROOT) |
    (1ull << CAP_KILL) | (1ull << CAP_AUDIT_WRITE);

}  // namespace

void dropPrivileges(const Plan& p, int ef) {
  for (const PlanRlimit& r : p.rlimits) {
    struct rlimit lim{r.soft, r.hard};
    if (syscall(SYS_prlimit64, 0, r.resource, &lim, nullptr) != 0) childFail(ef, kSetup, errno, "set ulimit");
  }
  if (!p.privileged) {
    for (int cap = 0; cap < 64; cap++) {
      if (kDefaultCaps & (1ull << cap)) continue;
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) childFail(ef, kSetup, errno, "drop capabilities");
    }
  }
  // Raw syscalls: glibc's wrappers try to broadcast the change to threads that don't exist in this process.
  if (syscall(SYS_setgroups, p.groups.size(), p.groups.data()) != 0) childFail(ef, kSetup, errno, "setgroups");
  if (syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) childFail(ef, kSetup, errno, "setgid");
  if (syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) childFail(ef, kSetup, errno, "setuid");
  // A uid change clears the effective set by itself; root keeps its full one unless we narrow it.
  if (!p.privileged && p.uid == 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    data[0].effective = data[0].permitted = uint32_t(kDefaultCaps);
    data[1].effective = data[1].permitted = uint32_t(kDefaultCaps >> 32);
    if (syscall(SYS_capset, &hdr, data) != 0) childFail(ef, kSetup, errno, "capset");
  }
}

}  // namespace container
