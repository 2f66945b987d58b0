// Executor: runs one command as a container (DESIGN §4).
//
// containerSpawn(plan, onExit) clones an init process into new mount/pid/uts/ipc(/net) namespaces. The init
// mounts the rootfs inside its own mount namespace (nothing is ever mounted on the host), builds /proc, /sys,
// /dev, pivots into the rootfs, then forks the command and acts as PID 1 (forwards signals, reaps, reports the
// command's wait status over a pipe). The call blocks only until the command has exec'd (or failed to: then it
// throws), so setup errors surface synchronously. A dedicated thread waits for the init and calls onExit on the
// JS thread. The host keeps nothing but the pid, a pidfd (for race-free kill) and the stdio pipe read ends.
//
// Node is multi-threaded, so between clone() and execve() only raw syscalls are allowed: no malloc, no
// std::string, no exceptions, no glibc functions that take locks or broadcast to threads (setuid & co. do:
// their raw syscalls are used). Everything the child needs is precomputed in ChildCtx before cloning.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

// Our own names for kernel constants: glibc versions disagree on which of them <sys/mount.h> defines.
constexpr unsigned long kCloneNewns = 0x00020000, kCloneNewuts = 0x04000000, kCloneNewipc = 0x08000000,
                        kCloneNewpid = 0x20000000, kCloneNewnet = 0x40000000, kClonePidfd = 0x00001000;
constexpr unsigned kOpenTreeClone = 1, kAtRecursive = 0x8000, kAtEmptyPath = 0x1000;
constexpr unsigned kMoveMountFEmptyPath = 0x4;
constexpr uint64_t kMountAttrRdonly = 0x1;
constexpr unsigned kCloseRangeCloexec = 1u << 2;

struct MountAttr {  // struct mount_attr
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

enum ErrKind : int32_t { kSetup = 0, kExecNotFound = 1, kExecFailed = 2 };

// One error report from the child, written with a single write() (< PIPE_BUF, so atomic).
struct ErrRecord {
  int32_t err;
  int32_t kind;
  char msg[496];
};

// Host device nodes bind-mounted into the container's /dev.
const char* const kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};
constexpr int kNumDevices = sizeof(kDevices) / sizeof(kDevices[0]);

// Docker's/BuildKit's default capability set for RUN.
constexpr uint64_t kDefaultCaps =
    (1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FSETID) | (1ull << CAP_FOWNER) |
    (1ull << CAP_MKNOD) | (1ull << CAP_NET_RAW) | (1ull << CAP_SETGID) | (1ull << CAP_SETUID) |
    (1ull << CAP_SETFCAP) | (1ull << CAP_SETPCAP) | (1ull << CAP_NET_BIND_SERVICE) | (1ull << CAP_SYS_CHROOT) |
    (1ull << CAP_KILL) | (1ull << CAP_AUDIT_WRITE);

// One extra mount (RUN --mount): a recursive bind of a host path, a fresh tmpfs, or a file with given content
// (secrets) that exists only on the container's own /dev tmpfs, so nothing of it is ever on the host.
struct MountEntry {
  bool tmpfs;
  bool content;
  const char* source;    // bind: absolute host path; content: the bytes
  size_t contentLen;
  const char* target;    // absolute path inside the container
  const char* tmpfsData; // tmpfs: mount options
  bool readonly;
  bool sourceIsDir;      // bind: create the target as a directory (else as an empty file)
  unsigned mode, uid, gid;  // content: the file's mode and owner
};

// Everything the child reads. Plain data only: it is copied with the address space by clone().
struct ChildCtx {
  // rootfs
  bool overlay;
  const char* mountpoint;
  const char* overlayData;     // overlay mount options
  const char* overlayChdir;    // directory the relative paths in overlayData are relative to, or null
  bool emptyLowerTmpfs;        // mount an empty tmpfs on mountpoint first: it is the (only) lower
  const char* bindSource;      // dir rootfs
  // container
  const char* hostname;
  bool newNet;
  const char* hosts;  size_t hostsLen;     // null: leave /etc/hosts alone
  const char* resolv; size_t resolvLen;
  const char* cwd;
  unsigned uid, gid;
  const gid_t* groups; size_t ngroups;
  bool privileged;
  char* const* argv;
  char* const* envp;
  const char* const* candidates; size_t ncandidates;
  // fds (all O_CLOEXEC in the parent)
  bool pipeStdio;
  int devnull, outW, errW;      // stdio sources when pipeStdio
  int errPipeW, statusW;
  int parentPidfd;              // -1 if pidfd_open is unavailable
  char* argArea; size_t argAreaLen;  // this process's argv memory (/proc/pid/cmdline), or null
  const MountEntry* mounts; size_t nmounts;
  int* mountFds;                     // nmounts slots, filled in by the child (its copy of the memory)
};

// ---------- child side: async-signal-safe helpers only ----------

size_t slen(const char* s) { size_t n = 0; while (s[n]) n++; return n; }

[[noreturn]] void childFail(int fd, int kind, int err, const char* a, const char* b = nullptr,
                            const char* c = nullptr, int code = 1) {
  ErrRecord rec;
  rec.err = err;
  rec.kind = kind;
  size_t n = 0;
  for (const char* part : {a, b, c}) {
    for (size_t i = 0; part && part[i] && n < sizeof(rec.msg) - 1; i++) rec.msg[n++] = part[i];
  }
  rec.msg[n] = 0;
  ssize_t w;
  do { w = write(fd, &rec, offsetof(ErrRecord, msg) + n); } while (w < 0 && errno == EINTR);
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
bool ensureFile(int errFd, const char* path) {
  struct stat st;
  if (stat(path, &st) == 0) return true;
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    childFail(errFd, kSetup, errno, "create mount target ", path);
  }
  close(fd);
  return true;
}

void writeAll(int errFd, int fd, const char* data, size_t len, const char* what) {
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      childFail(errFd, kSetup, errno, "write ", what);
    }
    data += w;
    len -= size_t(w);
  }
}

long moveMount(int fromFd, const char* to) {
  return syscall(SYS_move_mount, fromFd, "", AT_FDCWD, to, kMoveMountFEmptyPath);
}

// Bind a read-only file with `content` over `target` (inside the new root). The file lives on the /dev tmpfs
// only long enough to be bind-mounted, then is unlinked so it doesn't show up in /dev.
void bindContent(const ChildCtx& c, const char* tmpPath, const char* target, const char* content, size_t len) {
  if (!ensureFile(c.errPipeW, target)) return;  // e.g. a dangling /etc/resolv.conf symlink: leave it
  int fd = open(tmpPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) childFail(c.errPipeW, kSetup, errno, "create ", tmpPath);
  writeAll(c.errPipeW, fd, content, len, tmpPath);
  close(fd);
  if (mount(tmpPath, target, nullptr, MS_BIND, nullptr) != 0) childFail(c.errPipeW, kSetup, errno, "bind mount ", target);
  if (mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
    childFail(c.errPipeW, kSetup, errno, "remount read-only ", target);
  unlink(tmpPath);
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

// Move fd to >= 3 so that dup2 onto 0-2 in the command can't clobber it.
int aboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

pid_t rawFork() { return pid_t(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)); }

[[noreturn]] void execCommand(const ChildCtx& c) {
  const int ef = c.errPipeW;
  if (!c.privileged) {
    for (int cap = 0; cap < 64; cap++) {
      if (kDefaultCaps & (1ull << cap)) continue;
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) childFail(ef, kSetup, errno, "drop capabilities");
    }
  }
  // Raw syscalls: glibc's wrappers try to broadcast the change to threads that don't exist in this process.
  if (syscall(SYS_setgroups, c.ngroups, c.groups) != 0) childFail(ef, kSetup, errno, "setgroups");
  if (syscall(SYS_setresgid, c.gid, c.gid, c.gid) != 0) childFail(ef, kSetup, errno, "setgid");
  if (syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) childFail(ef, kSetup, errno, "setuid");
  if (!c.privileged && c.uid == 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    data[0].effective = data[0].permitted = uint32_t(kDefaultCaps);
    data[1].effective = data[1].permitted = uint32_t(kDefaultCaps >> 32);
    if (syscall(SYS_capset, &hdr, data) != 0) childFail(ef, kSetup, errno, "capset");
  }
  if (chdir(c.cwd) != 0) childFail(ef, kSetup, errno, "chdir to cwd (\"", c.cwd, "\") set in config");
  if (c.pipeStdio) {
    int src[3] = {aboveStdio(c.devnull), aboveStdio(c.outW), aboveStdio(c.errW)};
    for (int i = 0; i < 3; i++)
      if (src[i] < 0 || dup2(src[i], i) < 0) childFail(ef, kSetup, errno, "set up stdio");
  } else {
    // Node marks its own stdio close-on-exec.
    for (int i = 0; i < 3; i++) fcntl(i, F_SETFD, 0);
  }
  // Nothing but 0-2 crosses exec (the error pipe is closed by exec itself, which is how the host sees success).
  syscall(SYS_close_range, 3u, ~0u, kCloseRangeCloexec);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  // Like execvp: skip candidates that don't exist, remember permission errors, stop at anything else.
  int lastErr = ENOENT;
  bool sawEacces = false;
  for (size_t i = 0; i < c.ncandidates; i++) {
    execve(c.candidates[i], c.argv, c.envp);
    int e = errno;
    if (e == EACCES) { sawEacces = true; continue; }
    if (e == ENOENT || e == ENOTDIR) continue;
    childFail(ef, kExecFailed, e, c.argv[0], nullptr, nullptr, 126);
  }
  if (sawEacces) childFail(ef, kExecFailed, EACCES, c.argv[0], nullptr, nullptr, 126);
  const bool searched = strchr(c.argv[0], '/') == nullptr;
  childFail(ef, searched ? kExecNotFound : kExecFailed, lastErr, c.argv[0], nullptr, nullptr, 127);
}

[[noreturn]] void childMain(ChildCtx c) {
  // Node installs handlers (SIGCHLD writes into libuv's pipe) and ignores SIGPIPE; the command must see defaults.
  // All signals are still blocked from before clone().
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(s, &sa, nullptr);  // glibc refuses its internal signals: fine
  }
  // Die with tsbuild. getppid() is 0 in a new pid namespace, so the race with the parent dying before prctl
  // is checked on a pidfd of the parent instead.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (c.parentPidfd >= 0) {
    struct pollfd p{c.parentPidfd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) _exit(1);
    close(c.parentPidfd);
  }
  c.errPipeW = aboveStdio(c.errPipeW);
  c.statusW = aboveStdio(c.statusW);
  if (c.pipeStdio) { c.devnull = aboveStdio(c.devnull); c.outW = aboveStdio(c.outW); c.errW = aboveStdio(c.errW); }
  {
    int keep[5] = {c.errPipeW, c.statusW, c.pipeStdio ? c.devnull : -1, c.pipeStdio ? c.outW : -1,
                   c.pipeStdio ? c.errW : -1};
    closeAllExcept(keep, 5);
  }
  const int ef = c.errPipeW;
  umask(022);
  // The init never execs: without this it would show up as a copy of tsbuild's node command line in ps.
  prctl(PR_SET_NAME, "tsbuild-init", 0, 0, 0);
  if (c.argArea && c.argAreaLen > sizeof("tsbuild-init")) {
    memset(c.argArea, 0, c.argAreaLen);
    memcpy(c.argArea, "tsbuild-init", sizeof("tsbuild-init"));
  }

  // Rootfs, mounted in this mount namespace only: private first, so nothing propagates back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) childFail(ef, kSetup, errno, "make / rprivate");
  if (c.overlay) {
    if (c.emptyLowerTmpfs && mount("tmpfs", c.mountpoint, "tmpfs", 0, "mode=755,size=4k") != 0)
      childFail(ef, kSetup, errno, "mount empty lower tmpfs");
    if (c.overlayChdir && chdir(c.overlayChdir) != 0) childFail(ef, kSetup, errno, "chdir ", c.overlayChdir);
    if (mount("overlay", c.mountpoint, "overlay", 0, c.overlayData) != 0) childFail(ef, kSetup, errno, "mount overlay");
  } else if (mount(c.bindSource, c.mountpoint, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    childFail(ef, kSetup, errno, "bind mount rootfs ", c.bindSource);
  }

  // Detached clones of host things needed after pivot_root (when the host tree is gone).
  int devFds[kNumDevices];
  for (int i = 0; i < kNumDevices; i++) {
    char path[32] = "/dev/";
    memcpy(path + 5, kDevices[i], slen(kDevices[i]) + 1);
    devFds[i] = int(syscall(SYS_open_tree, AT_FDCWD, path, kOpenTreeClone | O_CLOEXEC));
    if (devFds[i] < 0) childFail(ef, kSetup, errno, "clone host mount ", path);
  }
  int sysFd = int(syscall(SYS_open_tree, AT_FDCWD, "/sys", kOpenTreeClone | kAtRecursive | O_CLOEXEC));
  for (size_t i = 0; i < c.nmounts; i++) {
    const MountEntry& m = c.mounts[i];
    c.mountFds[i] = -1;
    if (m.tmpfs || m.content) continue;
    c.mountFds[i] = int(syscall(SYS_open_tree, AT_FDCWD, m.source, kOpenTreeClone | kAtRecursive | O_CLOEXEC));
    if (c.mountFds[i] < 0) childFail(ef, kSetup, errno, "bind mount ", m.source);
    if (m.readonly) {
      MountAttr attr{kMountAttrRdonly, 0, 0, 0};
      if (syscall(SYS_mount_setattr, c.mountFds[i], "", kAtEmptyPath | kAtRecursive, &attr, sizeof(attr)) != 0)
        childFail(ef, kSetup, errno, "make read-only ", m.source);
    }
  }

  if (chdir(c.mountpoint) != 0) childFail(ef, kSetup, errno, "chdir ", c.mountpoint);
  // new_root == put_old: the old root gets stacked on top of the new one and is then lazily detached.
  if (syscall(SYS_pivot_root, ".", ".") != 0) childFail(ef, kSetup, errno, "pivot_root");
  if (umount2(".", MNT_DETACH) != 0) childFail(ef, kSetup, errno, "detach old root");
  if (chdir("/") != 0) childFail(ef, kSetup, errno, "chdir /");

  // From here on, paths resolve inside the rootfs: its symlinks can't point us at host paths.
  mkdirAll("/proc");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    childFail(ef, kSetup, errno, "mount /proc");
  mkdirAll("/sys");
  if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    int e = errno;
    if (sysFd < 0) childFail(ef, kSetup, e, "mount /sys");
    MountAttr attr{kMountAttrRdonly, 0, 0, 0};
    if (syscall(SYS_mount_setattr, sysFd, "", kAtEmptyPath | kAtRecursive, &attr, sizeof(attr)) != 0)
      childFail(ef, kSetup, errno, "make /sys read-only");
    if (moveMount(sysFd, "/sys") != 0) childFail(ef, kSetup, errno, "bind mount /sys");
  }
  if (sysFd >= 0) close(sysFd);

  mkdirAll("/dev");
  if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") != 0)
    childFail(ef, kSetup, errno, "mount /dev");
  for (int i = 0; i < kNumDevices; i++) {
    char path[32] = "/dev/";
    memcpy(path + 5, kDevices[i], slen(kDevices[i]) + 1);
    ensureFile(ef, path);
    if (moveMount(devFds[i], path) != 0) childFail(ef, kSetup, errno, "bind mount ", path);
    close(devFds[i]);
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

  if (c.hosts || c.resolv) {
    struct stat st;
    if (stat("/etc", &st) == 0 && S_ISDIR(st.st_mode)) {
      if (c.hosts) bindContent(c, "/dev/.tsbuild-hosts", "/etc/hosts", c.hosts, c.hostsLen);
      if (c.resolv) bindContent(c, "/dev/.tsbuild-resolv.conf", "/etc/resolv.conf", c.resolv, c.resolvLen);
    }
  }

  // User mounts last, so they win over everything above. Targets resolve inside the rootfs.
  for (size_t i = 0; i < c.nmounts; i++) {
    const MountEntry& m = c.mounts[i];
    if (m.tmpfs || m.sourceIsDir) {
      mkdirAll(m.target);
    } else if (!ensureFile(ef, m.target)) {
      // Parent directory missing: create it, then the file.
      char parent[4096];
      size_t n = slen(m.target);
      if (n < sizeof(parent)) {
        memcpy(parent, m.target, n + 1);
        while (n > 1 && parent[n - 1] != '/') n--;
        parent[n > 1 ? n - 1 : 1] = 0;
        mkdirAll(parent);
      }
      ensureFile(ef, m.target);
    }
    if (m.tmpfs) {
      unsigned long fl = MS_NOSUID | MS_NODEV | (m.readonly ? MS_RDONLY : 0);
      if (mount("tmpfs", m.target, "tmpfs", fl, m.tmpfsData) != 0) childFail(ef, kSetup, errno, "mount tmpfs on ", m.target);
    } else if (m.content) {
      const char* tmp = "/dev/.tsbuild-mount";
      int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) childFail(ef, kSetup, errno, "create ", tmp);
      writeAll(ef, fd, m.source, m.contentLen, tmp);
      if (fchown(fd, m.uid, m.gid) != 0) childFail(ef, kSetup, errno, "chown mount file for ", m.target);
      if (fchmod(fd, m.mode) != 0) childFail(ef, kSetup, errno, "chmod mount file for ", m.target);
      close(fd);
      if (mount(tmp, m.target, nullptr, MS_BIND, nullptr) != 0) childFail(ef, kSetup, errno, "bind mount on ", m.target);
      if (mount(nullptr, m.target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
        childFail(ef, kSetup, errno, "remount read-only ", m.target);
      unlink(tmp);  // the bind mount keeps the inode; nothing of it shows in /dev
    } else {
      if (moveMount(c.mountFds[i], m.target) != 0) childFail(ef, kSetup, errno, "bind mount on ", m.target);
      close(c.mountFds[i]);
    }
  }

  if (c.newNet) {
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
  if (sethostname(c.hostname, slen(c.hostname)) != 0) childFail(ef, kSetup, errno, "sethostname");
  mkdirAll(c.cwd);  // as root, before dropping privileges (like runc)

  // Init: the forwarded signals and SIGCHLD stay blocked and are taken with sigwaitinfo.
  sigset_t waitSet;
  sigemptyset(&waitSet);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&waitSet, s);
  sigprocmask(SIG_SETMASK, &waitSet, nullptr);
  pid_t cmd = rawFork();
  if (cmd < 0) childFail(ef, kSetup, errno, "fork command");
  if (cmd == 0) execCommand(c);
  close(ef);
  if (c.pipeStdio) { close(c.devnull); close(c.outW); close(c.errW); }

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&waitSet, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) { kill(cmd, sig); continue; }
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      if (p != cmd) continue;
      // Exiting kills whatever else is left in the pid namespace.
      ssize_t w;
      do { w = write(c.statusW, &status, sizeof(status)); } while (w < 0 && errno == EINTR);
      _exit(0);
    }
  }
}

// ---------- host side ----------

struct Fd {  // closes on scope exit unless released
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() { if (fd >= 0) close(fd); fd = -1; }
  int release() { int f = fd; fd = -1; return f; }
};

void makePipe(Fd& r, Fd& w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + strerror(errno));
  r.fd = p[0];
  w.fd = p[1];
}

std::string getString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("containerSpawn: ") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<std::string> getStrings(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string("containerSpawn: ") + key + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) throw Napi::TypeError::New(o.Env(), std::string("containerSpawn: ") + key + " must hold strings");
    std::string s = e.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(o.Env(), std::string("containerSpawn: NUL in ") + key);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<char*> cArray(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int selfPidfd() {
  static int fd = int(syscall(SYS_pidfd_open, getpid(), 0));  // O_CLOEXEC by default
  return fd;
}

// The argv area of this process (fields arg_start/arg_end of /proc/self/stat), read once.
std::pair<char*, size_t> argArea() {
  static std::pair<char*, size_t> area = [] {
    std::pair<char*, size_t> none{nullptr, 0};
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return none;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return none;
    buf[n] = 0;
    char* p = strrchr(buf, ')');  // comm may contain spaces; fields after it start at 3 (state)
    if (!p) return none;
    unsigned long long start = 0, end = 0;
    int field = 2;
    for (char* tok = strtok(p + 1, " "); tok; tok = strtok(nullptr, " ")) {
      ++field;
      if (field == 48) start = strtoull(tok, nullptr, 10);
      if (field == 49) { end = strtoull(tok, nullptr, 10); break; }
    }
    if (start == 0 || end <= start) return none;
    return std::pair<char*, size_t>{reinterpret_cast<char*>(start), size_t(end - start)};
  }();
  return area;
}

struct ExitInfo { int initStatus; int cmdStatus; bool haveCmd; };

Napi::Value ExitValue(Napi::Env env, const ExitInfo& e) {
  int st = e.haveCmd ? e.cmdStatus : e.initStatus;
  Napi::Object o = Napi::Object::New(env);
  if (WIFEXITED(st)) {
    o.Set("exitCode", WEXITSTATUS(st));
    o.Set("signal", env.Null());
  } else {
    o.Set("exitCode", env.Null());
    o.Set("signal", WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL);
  }
  return o;
}

// containerSpawn(plan, onExit) -> { pid, pidfd, stdoutFd, stderrFd } (fds -1 with inherited stdio).
// Throws an Error with .startError = true (and .errno, .kind) when setup or exec fails.
Napi::Value ContainerSpawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "containerSpawn(plan, onExit)");
  Napi::Object plan = info[0].As<Napi::Object>();
  Napi::Function onExit = info[1].As<Napi::Function>();

  // Precompute everything the child needs; these live until clone() has returned.
  std::vector<std::string> argv = getStrings(plan, "argv"), envv = getStrings(plan, "env"),
                           candidates = getStrings(plan, "candidates");
  if (argv.empty() || argv[0].empty()) throw Napi::TypeError::New(env, "containerSpawn: argv must not be empty");
  std::vector<char*> argvC = cArray(argv), envC = cArray(envv), candC = cArray(candidates);
  std::string kind = getString(plan, "kind"), mountpoint = getString(plan, "mountpoint");
  std::string overlayData, overlayChdir, bindSource;
  bool emptyLower = false;
  if (kind == "overlay") {
    overlayData = getString(plan, "overlayData");
    if (plan.Get("overlayChdir").IsString()) overlayChdir = getString(plan, "overlayChdir");
    emptyLower = plan.Get("emptyLower").ToBoolean();
  } else if (kind == "dir") {
    bindSource = getString(plan, "bindSource");
  } else {
    throw Napi::TypeError::New(env, "containerSpawn: unknown rootfs kind");
  }
  std::string hostname = getString(plan, "hostname"), cwd = getString(plan, "cwd");
  bool haveHosts = plan.Get("hosts").IsString(), haveResolv = plan.Get("resolvConf").IsString();
  std::string hosts = haveHosts ? getString(plan, "hosts") : "", resolv = haveResolv ? getString(plan, "resolvConf") : "";
  std::vector<gid_t> groups;
  {
    Napi::Array a = plan.Get("groups").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) groups.push_back(gid_t(a.Get(i).As<Napi::Number>().Uint32Value()));
  }
  bool pipeStdio = plan.Get("pipeStdio").ToBoolean();
  std::vector<std::string> mountStrings;  // source, target, data per mount (reserved: pointers must stay valid)
  std::vector<MountEntry> mounts;
  if (plan.Get("mounts").IsArray()) {
    Napi::Array a = plan.Get("mounts").As<Napi::Array>();
    mountStrings.reserve(size_t(a.Length()) * 3);
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Object m = a.Get(i).As<Napi::Object>();
      MountEntry e{};
      std::string type = getString(m, "type");
      e.tmpfs = type == "tmpfs";
      e.content = type == "content";
      if (e.content) {
        Napi::Buffer<char> b = m.Get("content").As<Napi::Buffer<char>>();
        mountStrings.push_back(std::string(b.Data(), b.Length()));
        e.contentLen = b.Length();
        e.mode = m.Get("mode").As<Napi::Number>().Uint32Value();
        e.uid = m.Get("uid").As<Napi::Number>().Uint32Value();
        e.gid = m.Get("gid").As<Napi::Number>().Uint32Value();
      } else {
        mountStrings.push_back(e.tmpfs ? "" : getString(m, "source"));
      }
      e.source = mountStrings.back().data();
      mountStrings.push_back(getString(m, "target"));
      e.target = mountStrings.back().c_str();
      mountStrings.push_back(e.tmpfs ? getString(m, "data") : "");
      e.tmpfsData = mountStrings.back().c_str();
      e.readonly = m.Get("readonly").ToBoolean();
      e.sourceIsDir = m.Get("isDir").ToBoolean();
      mounts.push_back(e);
    }
  }
  std::vector<int> mountFds(mounts.size(), -1);
  bool newNet = plan.Get("newNet").ToBoolean();

  Fd errR, errW, statR, statW, outR, outW, eR, eW, devnull;
  try {
    makePipe(errR, errW);
    makePipe(statR, statW);
    if (pipeStdio) {
      makePipe(outR, outW);
      makePipe(eR, eW);
      devnull.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (devnull.fd < 0) throw std::runtime_error(std::string("open /dev/null: ") + strerror(errno));
    }
  } catch (const std::runtime_error& e) {
    throw Napi::Error::New(env, e.what());
  }

  ChildCtx c{};
  c.overlay = kind == "overlay";
  c.mountpoint = mountpoint.c_str();
  c.overlayData = overlayData.c_str();
  c.overlayChdir = overlayChdir.empty() ? nullptr : overlayChdir.c_str();
  c.emptyLowerTmpfs = emptyLower;
  c.bindSource = bindSource.c_str();
  c.hostname = hostname.c_str();
  c.newNet = newNet;
  c.hosts = haveHosts ? hosts.c_str() : nullptr;
  c.hostsLen = hosts.size();
  c.resolv = haveResolv ? resolv.c_str() : nullptr;
  c.resolvLen = resolv.size();
  c.cwd = cwd.c_str();
  c.uid = plan.Get("uid").As<Napi::Number>().Uint32Value();
  c.gid = plan.Get("gid").As<Napi::Number>().Uint32Value();
  c.groups = groups.data();
  c.ngroups = groups.size();
  c.privileged = plan.Get("privileged").ToBoolean();
  c.argv = argvC.data();
  c.envp = envC.data();
  c.candidates = candC.data();
  c.ncandidates = candidates.size();
  c.pipeStdio = pipeStdio;
  c.devnull = devnull.fd;
  c.outW = outW.fd;
  c.errW = eW.fd;
  c.errPipeW = errW.fd;
  c.statusW = statW.fd;
  c.parentPidfd = selfPidfd();
  std::tie(c.argArea, c.argAreaLen) = argArea();
  c.mounts = mounts.data();
  c.nmounts = mounts.size();
  c.mountFds = mountFds.data();

  unsigned long flags = kCloneNewns | kCloneNewpid | kCloneNewuts | kCloneNewipc | kClonePidfd | SIGCHLD;
  if (newNet) flags |= kCloneNewnet;
  // Block every signal across clone() so no Node handler runs in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  // Raw clone without a new stack behaves like fork(), minus glibc's atfork handlers (which take locks).
  long pid = syscall(SYS_clone, flags, 0, &pidfd, 0, 0);
  if (pid == 0) childMain(c);
  int cloneErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) throw Napi::Error::New(env, std::string("clone: ") + strerror(cloneErr));
  Fd pidfdOwner(pidfd);

  errW.reset();
  statW.reset();
  outW.reset();
  eW.reset();
  devnull.reset();

  // Wait for exec (EOF on the CLOEXEC error pipe) or an error record. Blocks the JS thread for the few ms of
  // setup; bounded so a wedged mount can't hang tsbuild forever.
  ErrRecord rec;
  size_t got = 0;
  bool timedOut = false;
  for (int waited = 0;;) {
    struct pollfd p{errR.fd, POLLIN, 0};
    int r = poll(&p, 1, 1000);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      if (++waited >= 120) { timedOut = true; break; }
      continue;
    }
    ssize_t n = read(errR.fd, reinterpret_cast<char*>(&rec) + got, sizeof(rec) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
    if (got == sizeof(rec)) break;
  }
  if (timedOut || got > 0) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    int st;
    while (waitpid(pid_t(pid), &st, 0) < 0 && errno == EINTR) {}
    std::string msg;
    int err = 0, kindNo = kSetup;
    if (timedOut) {
      msg = "container setup timed out";
      err = ETIMEDOUT;
    } else if (got < offsetof(ErrRecord, msg)) {
      msg = "container setup failed (truncated error report)";
    } else {
      reinterpret_cast<char*>(&rec)[got < sizeof(rec) ? got : sizeof(rec) - 1] = 0;
      err = rec.err;
      kindNo = rec.kind;
      std::string what(rec.msg);
      if (kindNo == kExecNotFound) msg = "exec: \"" + what + "\": executable file not found in $PATH";
      else if (kindNo == kExecFailed) msg = "exec: \"" + what + "\": " + strerror(err);
      else msg = what + ": " + strerror(err);
    }
    Napi::Error e = Napi::Error::New(env, msg);
    e.Set("startError", Napi::Boolean::New(env, true));
    e.Set("errno", Napi::Number::New(env, err));
    e.Set("kind", Napi::String::New(env, kindNo == kExecNotFound ? "not-found" : kindNo == kExecFailed ? "exec" : "setup"));
    throw e;
  }
  errR.reset();

  // Waiter: a thread blocked in waitpid on this pid only (libuv reaps only its own children by pid).
  auto tsfn = Napi::ThreadSafeFunction::New(env, onExit, "tsbuild container wait", 0, 1);
  int statusFd = statR.release();
  try {
    std::thread([tsfn, pid, statusFd]() mutable {
      sigset_t allSigs;
      sigfillset(&allSigs);
      pthread_sigmask(SIG_SETMASK, &allSigs, nullptr);
      auto* e = new ExitInfo{0, 0, false};
      while (waitpid(pid_t(pid), &e->initStatus, 0) < 0) {
        if (errno != EINTR) { e->initStatus = SIGKILL; break; }  // can't happen: it's our child
      }
      // The init has exited, so the write (if any) is complete; an empty pipe means the init was killed.
      ssize_t n;
      do { n = read(statusFd, &e->cmdStatus, sizeof(e->cmdStatus)); } while (n < 0 && errno == EINTR);
      e->haveCmd = n == sizeof(e->cmdStatus);
      close(statusFd);
      napi_status s = tsfn.BlockingCall(e, [](Napi::Env env, Napi::Function cb, ExitInfo* d) {
        Napi::Value v = ExitValue(env, *d);
        delete d;
        cb.Call({v});
      });
      if (s != napi_ok) delete e;
      tsfn.Release();
    }).detach();
  } catch (...) {
    close(statusFd);
    tsfn.Release();
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    int st;
    while (waitpid(pid_t(pid), &st, 0) < 0 && errno == EINTR) {}
    throw Napi::Error::New(env, "containerSpawn: cannot start waiter thread");
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, double(pid)));
  out.Set("pidfd", Napi::Number::New(env, pidfdOwner.release()));
  out.Set("stdoutFd", Napi::Number::New(env, outR.release()));
  out.Set("stderrFd", Napi::Number::New(env, eR.release()));
  return out;
}

// containerKill(pidfd, signo): pidfd-based, so a reaped and reused pid can never be hit.
Napi::Value ContainerKill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0 && errno != ESRCH)
    throw Napi::Error::New(env, std::string("kill container: ") + strerror(errno));
  return env.Undefined();
}

}  // namespace

Napi::Object InitContainer(Napi::Env env, Napi::Object exports) {
  exports.Set("containerSpawn", Napi::Function::New(env, ContainerSpawn, "containerSpawn"));
  exports.Set("containerKill", Napi::Function::New(env, ContainerKill, "containerKill"));
  return exports;
}
