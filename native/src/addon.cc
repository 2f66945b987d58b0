// Module entry: each concern registers its own exports.
#include <napi.h>

Napi::Object InitContainer(Napi::Env env, Napi::Object exports);  // container/spawn.cc
Napi::Object InitFsOps(Napi::Env env, Napi::Object exports);      // fsops.cc

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitContainer(env, exports);
  InitFsOps(env, exports);
  return exports;
}

NODE_API_MODULE(tsbuild_native, Init)
