// ReadPlan: the JS plan object (native/container.ts buildPlan) into a Plan, checking every field's type.
#include "plan.h"

#include <sys/resource.h>

#include <cmath>
#include <initializer_list>
#include <utility>

namespace container {
namespace {

// One JS object and its path from the plan root. Field names are only spelled out for an error message.
class Fields {
 public:
  Fields(Napi::Value v, std::string path) : env_(v.Env()), path_(std::move(path)) {
    if (!v.IsObject() || v.IsArray()) fail(path_, "must be an object");
    obj_ = v.As<Napi::Object>();
  }

  std::string str(const char* key) const { return toStr(get(key), Name{this, key}); }

  std::optional<std::string> optStr(const char* key) const {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return std::nullopt;
    return toStr(v, Name{this, key});
  }

  std::vector<std::string> strs(const char* key) const {
    std::vector<std::string> out;
    forEach(key, [&](Napi::Value e, const Name& n) { out.push_back(toStr(e, n)); });
    return out;
  }

  uint32_t u32(const char* key) const { return toU32(get(key), Name{this, key}); }

  std::vector<uint32_t> u32s(const char* key) const {
    std::vector<uint32_t> out;
    forEach(key, [&](Napi::Value e, const Name& n) { out.push_back(toU32(e, n)); });
    return out;
  }

  // A limit: an integer in [0, 2^53], or -1 for unlimited.
  uint64_t limit(const char* key) const {
    Napi::Value v = get(key);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -2;
    if (d == -1) return RLIM_INFINITY;
    if (!(d >= 0 && d <= 9007199254740992.0 && d == std::floor(d))) fail(Name{this, key}.str(), "must be -1 or an integer in [0, 2^53]");
    return uint64_t(d);
  }

  bool flag(const char* key) const {
    Napi::Value v = get(key);
    if (!v.IsBoolean()) fail(Name{this, key}.str(), "must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  std::string bytes(const char* key) const {
    Napi::Value v = get(key);
    if (!v.IsBuffer()) fail(Name{this, key}.str(), "must be a Buffer");
    auto b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }

  Fields object(const char* key) const { return Fields(get(key), Name{this, key}.str()); }

  std::vector<Fields> objects(const char* key) const {
    std::vector<Fields> out;
    forEach(key, [&](Napi::Value e, const Name& n) { out.emplace_back(e, n.str()); });
    return out;
  }

  template <class E>
  E oneOf(const char* key, std::initializer_list<std::pair<const char*, E>> values) const {
    std::string s = str(key);
    for (const auto& [name, value] : values)
      if (s == name) return value;
    fail(Name{this, key}.str(), ("has an unknown value \"" + s + "\"").c_str());
  }

  [[noreturn]] void fail(const std::string& field, const char* what) const {
    throw Napi::TypeError::New(env_, "containerSpawn: plan" + field + " " + what);
  }

 private:
  // A field (or array element) of this object, spelled out only when needed.
  struct Name {
    const Fields* of;
    const char* key;
    int64_t index = -1;
    std::string str() const {
      return of->path_ + "." + key + (index < 0 ? "" : "[" + std::to_string(index) + "]");
    }
  };

  Napi::Env env_;
  std::string path_;
  Napi::Object obj_;

  Napi::Value get(const char* key) const { return obj_.Get(key); }

  template <class F>
  void forEach(const char* key, F f) const {
    Napi::Value v = get(key);
    if (!v.IsArray()) fail(Name{this, key}.str(), "must be an array");
    auto a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) f(a.Get(i), Name{this, key, i});
  }

  // The child uses these as C strings.
  std::string toStr(Napi::Value v, const Name& n) const {
    if (!v.IsString()) fail(n.str(), "must be a string");
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) fail(n.str(), "must not contain NUL");
    return s;
  }

  uint32_t toU32(Napi::Value v, const Name& n) const {
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 4294967295.0 && d == double(uint32_t(d)))) fail(n.str(), "must be an integer in [0, 2^32)");
    return uint32_t(d);
  }
};

PlanRootfs readRootfs(const Fields& o) {
  PlanRootfs r;
  r.kind = o.oneOf<PlanRootfs::Kind>("kind", {{"overlay", PlanRootfs::kOverlay}, {"dir", PlanRootfs::kDir}});
  r.mountpoint = o.str("mountpoint");
  if (r.kind == PlanRootfs::kOverlay) {
    r.data = o.str("data");
    r.chdir = o.optStr("chdir");
    r.emptyLower = o.flag("emptyLower");
  } else {
    r.source = o.str("source");
  }
  return r;
}

PlanMount readMount(const Fields& o) {
  PlanMount m;
  m.type = o.oneOf<PlanMount::Type>(
      "type", {{"bind", PlanMount::kBind}, {"tmpfs", PlanMount::kTmpfs}, {"content", PlanMount::kContent}});
  m.target = o.str("target");
  switch (m.type) {
    case PlanMount::kBind:
      m.source = o.str("source");
      m.isDir = o.flag("isDir");
      m.readonly = o.flag("readonly");
      break;
    case PlanMount::kTmpfs:
      m.data = o.str("data");
      m.readonly = o.flag("readonly");
      break;
    case PlanMount::kContent:
      m.content = o.bytes("content");
      m.mode = o.u32("mode");
      m.uid = o.u32("uid");
      m.gid = o.u32("gid");
      break;
  }
  return m;
}

// Docker's --ulimit names.
PlanRlimit readRlimit(const Fields& o) {
  PlanRlimit r;
  r.resource = o.oneOf<int>("name", {{"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA}, {"fsize", RLIMIT_FSIZE},
                                     {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE},
                                     {"nice", RLIMIT_NICE}, {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS},
                                     {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING},
                                     {"stack", RLIMIT_STACK}});
  r.soft = o.limit("soft");
  r.hard = o.limit("hard");
  return r;
}

}  // namespace

Plan ReadPlan(const Napi::Value& v) {
  Fields o(v, "");
  Plan p;
  p.rootfs = readRootfs(o.object("rootfs"));
  p.argv = o.strs("argv");
  if (p.argv.empty() || p.argv[0].empty()) o.fail(".argv", "must not be empty");
  p.env = o.strs("env");
  p.candidates = o.strs("candidates");
  p.cwd = o.str("cwd");
  p.uid = o.u32("uid");
  p.gid = o.u32("gid");
  for (uint32_t g : o.u32s("groups")) p.groups.push_back(gid_t(g));
  p.privileged = o.flag("privileged");
  p.hostname = o.str("hostname");
  p.newNet = o.flag("newNet");
  p.hosts = o.optStr("hosts");
  p.resolvConf = o.optStr("resolvConf");
  p.pipeStdio = o.flag("pipeStdio");
  for (const Fields& m : o.objects("mounts")) p.mounts.push_back(readMount(m));
  for (const Fields& r : o.objects("rlimits")) p.rlimits.push_back(readRlimit(r));
  return p;
}

}  // namespace container
