// The container's init, from clone() to the command's execve (DESIGN §4), as named steps.
//
// Node is multi-threaded, so between clone() and execve() only raw syscalls are allowed: no malloc, no
// std::string construction, no exceptions, no glibc functions that take locks or broadcast to threads (setuid
// & co. do: their raw syscalls are used). Everything the child needs is precomputed by the host before cloning;
// the plan is only read. A failing step reports on the error pipe (childFail) and exits.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "plan.h"

namespace container {

enum ErrKind : int32_t { kSetup = 0, kExecNotFound = 1, kExecFailed = 2 };

// One error report from the child, written with a single write() (< PIPE_BUF, so atomic).
struct ErrRecord {
  int32_t err;
  int32_t kind;
  char msg[496];
};

// What the host prepared besides the plan. Plain data, copied with the address space by clone().
struct ChildCtx {
  const Plan* plan;
  char* const* argv;                // null-terminated views of plan->argv, plan->env, plan->candidates
  char* const* envp;
  const char* const* candidates;
  int devnull, outW, errW;          // the command's stdio when plan->pipeStdio
  int errPipe;                      // write end of the error pipe (O_CLOEXEC: exec closes it)
  int statusW;                      // write end of the pipe the init reports the command's wait status on
  int parentPidfd;                  // -1 if pidfd_open is unavailable
  char* argArea; size_t argAreaLen; // this process's argv memory (/proc/pid/cmdline), or null
  int* mountFds;                    // plan->mounts.size() slots, filled in by the child (its copy of the memory)
};

// init.cc: the steps below in order, then PID 1 of the container.
[[noreturn]] void childMain(ChildCtx c);

// sys.cc: helpers for the steps.
[[noreturn]] void childFail(int ef, int kind, int err, const char* a, const char* b = nullptr,
                            const char* c = nullptr, int code = 1);
size_t slen(const char* s);
void mkdirAll(const char* path);
bool ensureFile(int ef, const char* path);
void writeAll(int ef, int fd, const char* data, size_t len, const char* what);
long moveMount(int fromFd, const char* to);
long setReadonly(int treeFd);
int cloneTree(const char* path, bool recursive);
// A new detached mount of a filesystem that needs no source (proc, sysfs), with MOUNT_ATTR_* attrs; -1 + errno.
int freshMount(const char* fstype, uint64_t attrs);

// rootfs.cc: mount the rootfs on its mountpoint (in this mount namespace only), later pivot into it.
void mountRootfs(const PlanRootfs& r, int ef);
void pivotInto(const char* mountpoint, int ef);

// pseudofs.cc: /proc, /sys and a minimal /dev. The host's device nodes and /sys are cloned, and the new proc
// and sysfs made, before the pivot.
constexpr int kNumDevices = 6;
// proc and sysfs: fresh detached mounts made before the pivot (-1 and procErr/sysfsErr where refused).
struct HostTrees { int devices[kNumDevices]; int sys; int proc; int procErr; int sysfs; int sysfsErr; };
HostTrees cloneHostTrees(int ef);
void mountPseudoFs(const HostTrees& t, int ef);

// mounts.cc: RUN --mount sources are cloned before the pivot (host paths), attached after it (container
// paths); /etc/hosts and resolv.conf are content files bound read-only.
void cloneMountSources(const Plan& p, int* mountFds, int ef);
void mountEtcFiles(const Plan& p, int ef);
void attachMounts(const Plan& p, const int* mountFds, int ef);

// user.cc: rlimits, capabilities, groups, gid, uid (in that order: dropping uid first would forbid the rest).
void dropPrivileges(const Plan& p, int ef);

// exec.cc: cwd, stdio, then execve like execvp. Runs in the command's process.
[[noreturn]] void execCommand(const ChildCtx& c, int ef);

}  // namespace container
