// The command's process after its credentials are set: cwd, stdio, then execve of the first candidate
// that exists, like execvp with the container's PATH.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../child.h"

namespace container {

constexpr unsigned kCloseRangeCloexec = 1u << 2;

void execCommand(const ChildCtx& c, int ef) {
  const Plan& p = *c.plan;
  if (chdir(p.cwd.c_str()) != 0) childFail(ef, kSetup, errno, "chdir to cwd (\"", p.cwd.c_str(), "\") set in config");
  if (p.pipeStdio) {
    // The init moved these above 2, so no dup2 clobbers another.
    int src[3] = {c.devnull, c.outW, c.errW};
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

  // Skip candidates that don't exist, remember permission errors, stop at anything else.
  const char* argv0 = c.argv[0];
  bool sawEacces = false;
  for (const char* const* cand = c.candidates; *cand; cand++) {
    execve(*cand, c.argv, c.envp);
    int e = errno;
    if (e == EACCES) { sawEacces = true; continue; }
    if (e == ENOENT || e == ENOTDIR) continue;
    childFail(ef, kExecFailed, e, argv0, nullptr, nullptr, 126);
  }
  if (sawEacces) childFail(ef, kExecFailed, EACCES, argv0, nullptr, nullptr, 126);
  const bool searched = strchr(argv0, '/') == nullptr;
  childFail(ef, searched ? kExecNotFound : kExecFailed, ENOENT, argv0, nullptr, nullptr, 127);
}

}  // namespace container
