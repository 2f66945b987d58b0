#include <napi.h>

Napi::Object InitContainer(Napi::Env env, Napi::Object exports) { return exports; }
