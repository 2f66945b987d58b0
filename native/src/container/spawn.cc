// Executor, host side (DESIGN §4): containerSpawn(plan, onStart, onExit) clones the container's init
// (child/init.cc) into new mount/pid/uts/ipc(/net) namespaces and returns at once. The clone happens on the
// calling (JS main) thread, because PR_SET_PDEATHSIG fires when the *thread* that cloned exits. A watcher
// thread then waits for the command's exec (or a setup failure) without blocking the event loop, calls
// onStart(null | failure), and, if it started, waits for the init and calls onExit(status). The host keeps
// nothing but the pid, a pidfd (for race-free kill) and the stdio pipe read ends.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "child.h"

namespace container {
namespace {

constexpr unsigned long kCloneNewpid = 0x20000000, kClonePidfd = 0x00001000;

// Bounded so a wedged mount can't hang tsbuild forever.
constexpr std::chrono::seconds kSetupTimeout{120};

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

void makePipe(Napi::Env env, Fd& r, Fd& w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw Napi::Error::New(env, std::string("pipe: ") + strerror(errno));
  r.fd = p[0];
  w.fd = p[1];
}

// Null-terminated views for execve; valid as long as the strings are.
std::vector<char*> cStrings(std::vector<std::string>& v) {
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

void reap(pid_t pid, int* status) {
  while (waitpid(pid, status, 0) < 0) {
    if (errno != EINTR) { *status = SIGKILL; return; }  // can't happen: it's our child
  }
}

// ---------- the watcher thread ----------

struct StartReport {
  bool timedOut = false;
  size_t got = 0;  // bytes of rec received; 0 (EOF at once) means the command exec'd
  ErrRecord rec;
};

// EOF on the CLOEXEC error pipe means exec succeeded (or the init was killed); anything else is a report.
StartReport awaitExec(int errR) {
  StartReport r;
  const auto deadline = std::chrono::steady_clock::now() + kSetupTimeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) { r.timedOut = true; return r; }
    struct pollfd p{errR, POLLIN, 0};
    int n = poll(&p, 1, int(left.count()));
    if (n == 0 || (n < 0 && errno == EINTR)) continue;
    ssize_t k = read(errR, reinterpret_cast<char*>(&r.rec) + r.got, sizeof(r.rec) - r.got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return r;
    r.got += size_t(k);
    if (r.got == sizeof(r.rec)) return r;
  }
}

// On the JS thread: null, or { message, reason, errno } for a ContainerStartError.
Napi::Value StartValue(Napi::Env env, StartReport& r) {
  if (!r.timedOut && r.got == 0) return env.Null();
  std::string msg;
  int err = 0, kind = kSetup;
  if (r.timedOut) {
    msg = "container setup timed out";
    err = ETIMEDOUT;
  } else if (r.got < offsetof(ErrRecord, msg)) {
    msg = "container setup failed (truncated error report)";
  } else {
    reinterpret_cast<char*>(&r.rec)[r.got < sizeof(r.rec) ? r.got : sizeof(r.rec) - 1] = 0;
    err = r.rec.err;
    kind = r.rec.kind;
    std::string what(r.rec.msg);
    if (kind == kExecNotFound) msg = "exec: \"" + what + "\": executable file not found in $PATH";
    else if (kind == kExecFailed) msg = "exec: \"" + what + "\": " + strerror(err);
    else msg = what + ": " + strerror(err);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("message", msg);
  o.Set("reason", kind == kExecNotFound ? "not-found" : kind == kExecFailed ? "exec" : "setup");
  o.Set("errno", err);
  return o;
}

struct ExitInfo { int initStatus = 0; int cmdStatus = 0; bool haveCmd = false; };

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

// Calls fn once on the JS thread with *data converted by toJs, then gives fn up.
template <class T, class ToJs>
void deliver(Napi::ThreadSafeFunction& fn, T* data, ToJs toJs) {
  napi_status s = fn.BlockingCall(data, [toJs](Napi::Env env, Napi::Function cb, T* d) {
    Napi::Value v = toJs(env, *d);
    delete d;
    cb.Call({v});
  });
  if (s != napi_ok) delete data;
  fn.Release();
}

void watch(pid_t pid, int errR, int statusR, Napi::ThreadSafeFunction onStart, Napi::ThreadSafeFunction onExit) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
  auto* start = new StartReport(awaitExec(errR));
  close(errR);
  const bool started = !start->timedOut && start->got == 0;
  if (!started) {
    // Not reaped yet, so the pid can't have been reused.
    kill(pid, SIGKILL);
    int st;
    reap(pid, &st);
    close(statusR);
  }
  deliver(onStart, start, StartValue);
  if (!started) {
    onExit.Release();
    return;
  }
  auto* e = new ExitInfo;
  reap(pid, &e->initStatus);
  // The init has exited, so the write (if any) is complete; an empty pipe means the init was killed.
  ssize_t n;
  do { n = read(statusR, &e->cmdStatus, sizeof(e->cmdStatus)); } while (n < 0 && errno == EINTR);
  e->haveCmd = n == sizeof(e->cmdStatus);
  close(statusR);
  deliver(onExit, e, ExitValue);
}

// ---------- the bindings ----------

// containerSpawn(plan, onStart, onExit) -> { pid, pidfd, stdoutFd, stderrFd } (fds -1 with inherited stdio).
Napi::Value ContainerSpawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsFunction() || !info[2].IsFunction())
    throw Napi::TypeError::New(env, "containerSpawn(plan, onStart, onExit)");
  // Everything the child reads lives until clone() has returned.
  Plan plan = ReadPlan(info[0]);
  std::vector<char*> argv = cStrings(plan.argv), envp = cStrings(plan.env), candidates = cStrings(plan.candidates);
  std::vector<int> mountFds(plan.mounts.size(), -1);

  Fd errR, errW, statR, statW, outR, outW, eR, eW, devnull;
  makePipe(env, errR, errW);
  makePipe(env, statR, statW);
  if (plan.pipeStdio) {
    makePipe(env, outR, outW);
    makePipe(env, eR, eW);
    devnull.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull.fd < 0) throw Napi::Error::New(env, std::string("open /dev/null: ") + strerror(errno));
  }

  ChildCtx c{};
  c.plan = &plan;
  c.argv = argv.data();
  c.envp = envp.data();
  c.candidates = candidates.data();
  c.devnull = devnull.fd;
  c.outW = outW.fd;
  c.errW = eW.fd;
  c.errPipe = errW.fd;
  c.statusW = statW.fd;
  c.parentPidfd = selfPidfd();
  std::tie(c.argArea, c.argAreaLen) = argArea();
  c.mountFds = mountFds.data();

  // Only the pid namespace must be new at clone (the init is its PID 1); the child unshares the others, so
  // copying the mount table and making a net namespace (which waits for RTNL) happen off the event loop.
  const unsigned long flags = kCloneNewpid | kClonePidfd | SIGCHLD;
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

  auto onStart = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "tsbuild container start", 0, 1);
  auto onExit = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "tsbuild container wait", 0, 1);
  try {
    std::thread(watch, pid_t(pid), errR.fd, statR.fd, onStart, onExit).detach();
  } catch (...) {
    onStart.Release();
    onExit.Release();
    kill(pid_t(pid), SIGKILL);
    int st;
    reap(pid_t(pid), &st);
    throw Napi::Error::New(env, "containerSpawn: cannot start watcher thread");
  }
  errR.release();  // the watcher's now
  statR.release();

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
}  // namespace container

Napi::Object InitContainer(Napi::Env env, Napi::Object exports) {
  exports.Set("containerSpawn", Napi::Function::New(env, container::ContainerSpawn, "containerSpawn"));
  exports.Set("containerKill", Napi::Function::New(env, container::ContainerKill, "containerKill"));
  return exports;
}
