// The container plan: what native/container.ts buildPlan() computes, field by field (its `Plan` type).
// ReadPlan is the only code that reads the JS object; everything else reads this struct. The cloned child
// reads it too, through const references only: accessors of std::string/vector/optional don't allocate.
#pragma once

#include <napi.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace container {

struct PlanRootfs {
  enum Kind { kOverlay, kDir } kind;
  std::string mountpoint;
  // overlay
  std::string data;                  // mount options
  std::optional<std::string> chdir;  // the directory relative paths in `data` are relative to
  bool emptyLower = false;           // mount an empty tmpfs on mountpoint first: it is the (only) lower
  // dir
  std::string source;
};

// One RUN --mount: a recursive bind of a host path, a fresh tmpfs, or a read-only file with given content
// (secrets) that exists only on the container's own /dev tmpfs, so nothing of it is ever on the host.
struct PlanMount {
  enum Type { kBind, kTmpfs, kContent } type;
  std::string target;          // absolute path inside the container
  bool readonly = false;       // bind, tmpfs (content is always read-only)
  std::string source;          // bind: absolute host path
  bool isDir = false;          // bind: create the target as a directory (else as an empty file)
  std::string data;            // tmpfs: mount options
  std::string content;         // content: the file's bytes
  uint32_t mode = 0, uid = 0, gid = 0;  // content: the file's mode and owner
};

// A resource limit (--ulimit), set in the command's process before its capabilities are dropped.
struct PlanRlimit {
  int resource;                  // RLIMIT_*
  uint64_t soft = 0, hard = 0;   // RLIM_INFINITY for unlimited
};

struct Plan {
  PlanRootfs rootfs;
  std::vector<std::string> argv, env;
  std::vector<std::string> candidates;  // executables to try for argv[0], in order
  std::string cwd;
  uint32_t uid = 0, gid = 0;
  std::vector<gid_t> groups;
  bool privileged = false;
  std::string hostname;
  bool newNet = false;
  std::optional<std::string> hosts, resolvConf;  // absent: leave the file alone
  bool pipeStdio = false;
  std::vector<PlanMount> mounts;
  std::vector<PlanRlimit> rlimits;
};

// Throws a TypeError naming the field ("containerSpawn: plan.mounts[2].target must be a string").
Plan ReadPlan(const Napi::Value& v);

}  // namespace container
