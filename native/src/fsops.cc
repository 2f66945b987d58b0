// Filesystem calls Node lacks: extended attributes (l*xattr: never follow symlinks, since layer
// code works on symlinks themselves) and mknod (overlay whiteouts, device nodes in layers).
// All synchronous; errors are thrown shaped like Node's fs errors (code, errno, syscall, path).
#include <napi.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <string>
#include <vector>

namespace {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  const char* name = strerrorname_np(err);
  std::string code = name ? name : ("E" + std::to_string(err));
  std::string msg = code + ": " + strerror(err) + ", " + syscall + " '" + path + "'";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));  // Node reports negative errno
  e.Set("syscall", Napi::String::New(env, syscall));
  e.Set("path", Napi::String::New(env, path));
  return e;
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

// listXattrs(path): string[]
Napi::Value ListXattrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::vector<char> buf;
  // The list can grow between the size query and the read: retry on ERANGE.
  for (;;) {
    ssize_t n = llistxattr(path.c_str(), nullptr, 0);
    if (n < 0) throw ErrnoError(env, errno, "llistxattr", path);
    buf.resize(static_cast<size_t>(n) + 1);
    if (n == 0) break;
    ssize_t m = llistxattr(path.c_str(), buf.data(), buf.size());
    if (m < 0) {
      if (errno == ERANGE) continue;
      throw ErrnoError(env, errno, "llistxattr", path);
    }
    buf.resize(static_cast<size_t>(m));
    break;
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t idx = 0;
  size_t start = 0;
  for (size_t i = 0; i < buf.size(); i++) {
    if (buf[i] == '\0') {
      if (i > start) out.Set(idx++, Napi::String::New(env, buf.data() + start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// getXattr(path, name): Buffer | null (null when the attribute is absent)
Napi::Value GetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::string name = StringArg(info, 1, "name");
  for (;;) {
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (n < 0) {
      if (errno == ENODATA) return env.Null();
      throw ErrnoError(env, errno, "lgetxattr", path);
    }
    std::vector<char> buf(static_cast<size_t>(n));
    ssize_t m = n == 0 ? 0 : lgetxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
    if (m < 0) {
      if (errno == ERANGE) continue;
      if (errno == ENODATA) return env.Null();
      throw ErrnoError(env, errno, "lgetxattr", path);
    }
    return Napi::Buffer<char>::Copy(env, buf.data(), static_cast<size_t>(m));
  }
}

// setXattr(path, name, value: Buffer): void
Napi::Value SetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::string name = StringArg(info, 1, "name");
  if (info.Length() < 3 || !info[2].IsBuffer()) throw Napi::TypeError::New(env, "value must be a Buffer");
  Napi::Buffer<char> value = info[2].As<Napi::Buffer<char>>();
  if (lsetxattr(path.c_str(), name.c_str(), value.Data(), value.Length(), 0) != 0) {
    throw ErrnoError(env, errno, "lsetxattr", path);
  }
  return env.Undefined();
}

// removeXattr(path, name): void
Napi::Value RemoveXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  std::string name = StringArg(info, 1, "name");
  if (lremovexattr(path.c_str(), name.c_str()) != 0) throw ErrnoError(env, errno, "lremovexattr", path);
  return env.Undefined();
}

// mknod(path, mode, major, minor): void; mode carries the file type (S_IFCHR, S_IFBLK, S_IFIFO...).
Napi::Value Mknod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  auto mode = static_cast<mode_t>(NumberArg(info, 1, "mode"));
  auto major_ = static_cast<unsigned int>(NumberArg(info, 2, "major"));
  auto minor_ = static_cast<unsigned int>(NumberArg(info, 3, "minor"));
  if (mknod(path.c_str(), mode, makedev(major_, minor_)) != 0) throw ErrnoError(env, errno, "mknod", path);
  return env.Undefined();
}

}  // namespace

Napi::Object InitFsOps(Napi::Env env, Napi::Object exports) {
  exports.Set("listXattrs", Napi::Function::New(env, ListXattrs, "listXattrs"));
  exports.Set("getXattr", Napi::Function::New(env, GetXattr, "getXattr"));
  exports.Set("setXattr", Napi::Function::New(env, SetXattr, "setXattr"));
  exports.Set("removeXattr", Napi::Function::New(env, RemoveXattr, "removeXattr"));
  exports.Set("mknod", Napi::Function::New(env, Mknod, "mknod"));
  return exports;
}
