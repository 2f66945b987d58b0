// childMain: the cloned init runs the setup steps in order, forks the command, and then acts as PID 1
// (forwards signals, reaps, reports the command's wait status on a pipe). It never execs itself.
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../child.h"

namespace container {
namespace {

// Node installs handlers (SIGCHLD writes into libuv's pipe) and ignores SIGPIPE; the command must see defaults.
// All signals are still blocked from before clone().
void resetSignals() {
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(s, &sa, nullptr);  // glibc refuses its internal signals: fine
  }
}

// Die with tsbuild. getppid() is 0 in a new pid namespace, so the race with the parent dying before prctl
// is checked on a pidfd of the parent instead.
void dieWithParent(int parentPidfd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (parentPidfd < 0) return;
  struct pollfd p{parentPidfd, POLLIN, 0};
  if (poll(&p, 1, 0) > 0) _exit(1);
  close(parentPidfd);
}

// Move fd to >= 3 so that dup2 onto 0-2 in the command can't clobber it.
int aboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

// Close every inherited fd except 0-2 and `keep` (Node's epoll fd, other children's pipes...): the init never
// execs, so O_CLOEXEC doesn't help, and holding e.g. another child's pipe would delay its EOF.
void closeAllExcept(int* keep, int n) {
  for (int i = 1; i < n; i++)  // insertion sort, n is tiny
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) { int t = keep[j]; keep[j] = keep[j - 1]; keep[j - 1] = t; }
  unsigned next = 3;
  for (int i = 0; i < n; i++) {
    if (keep[i] < 0 || unsigned(keep[i]) < next) continue;
    if (unsigned(keep[i]) > next) syscall(SYS_close_range, next, unsigned(keep[i]) - 1, 0);
    next = unsigned(keep[i]) + 1;
  }
  syscall(SYS_close_range, next, ~0u, 0);
}

// Keep only the fds the init and the command need, all above stdio.
void keepOwnFds(ChildCtx& c) {
  c.errPipe = aboveStdio(c.errPipe);
  c.statusW = aboveStdio(c.statusW);
  if (c.plan->pipeStdio) { c.devnull = aboveStdio(c.devnull); c.outW = aboveStdio(c.outW); c.errW = aboveStdio(c.errW); }
  int keep[5] = {c.errPipe, c.statusW, -1, -1, -1};
  if (c.plan->pipeStdio) { keep[2] = c.devnull; keep[3] = c.outW; keep[4] = c.errW; }
  closeAllExcept(keep, 5);
}

// Without this the init would show up as a copy of tsbuild's node command line in ps.
void nameInit(char* argArea, size_t argAreaLen) {
  prctl(PR_SET_NAME, "tsbuild-init", 0, 0, 0);
  if (argArea && argAreaLen > sizeof("tsbuild-init")) {
    memset(argArea, 0, argAreaLen);
    memcpy(argArea, "tsbuild-init", sizeof("tsbuild-init"));
  }
}

// A new net namespace has only lo, and it is down.
void bringUpLoopback(int ef) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) childFail(ef, kSetup, errno, "socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) childFail(ef, kSetup, errno, "get lo flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) childFail(ef, kSetup, errno, "bring up lo");
  close(s);
}

// The namespaces besides pid (see spawn.cc), before anything is mounted.
void enterNamespaces(const Plan& p, int ef) {
  int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (p.newNet ? CLONE_NEWNET : 0);
  if (syscall(SYS_unshare, flags) != 0) childFail(ef, kSetup, errno, "unshare namespaces");
}

pid_t rawFork() { return pid_t(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)); }

// PID 1: the forwarded signals and SIGCHLD stay blocked and are taken with sigwaitinfo. Exiting when the
// command does kills whatever else is left in the pid namespace.
[[noreturn]] void runInit(const ChildCtx& c, int ef) {
  sigset_t waitSet;
  sigemptyset(&waitSet);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&waitSet, s);
  sigprocmask(SIG_SETMASK, &waitSet, nullptr);
  pid_t cmd = rawFork();
  if (cmd < 0) childFail(ef, kSetup, errno, "fork command");
  if (cmd == 0) {
    dropPrivileges(*c.plan, ef);
    execCommand(c, ef);
  }
  close(ef);
  if (c.plan->pipeStdio) { close(c.devnull); close(c.outW); close(c.errW); }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&waitSet, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) { kill(cmd, sig); continue; }
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      if (p != cmd) continue;
      ssize_t w;
      do { w = write(c.statusW, &status, sizeof(status)); } while (w < 0 && errno == EINTR);
      _exit(0);
    }
  }
}

}  // namespace

void childMain(ChildCtx c) {
  resetSignals();
  dieWithParent(c.parentPidfd);
  keepOwnFds(c);
  const int ef = c.errPipe;
  const Plan& p = *c.plan;
  umask(022);
  nameInit(c.argArea, c.argAreaLen);
  enterNamespaces(p, ef);

  mountRootfs(p.rootfs, ef);
  // Host paths are gone after the pivot: clone what we need from the host first.
  HostTrees host = cloneHostTrees(ef);
  cloneMountSources(p, c.mountFds, ef);
  pivotInto(p.rootfs.mountpoint.c_str(), ef);
  mountPseudoFs(host, ef);
  mountEtcFiles(p, ef);
  attachMounts(p, c.mountFds, ef);

  if (p.newNet) bringUpLoopback(ef);
  if (sethostname(p.hostname.c_str(), p.hostname.size()) != 0) childFail(ef, kSetup, errno, "sethostname");
  mkdirAll(p.cwd.c_str());  // as root, before dropping privileges (like runc)
  runInit(c, ef);
}

}  // namespace container
