#include <napi.h>

Napi::Object InitFsOps(Napi::Env env, Napi::Object exports) { return exports; }
