{
  "targets": [{
    "target_name": "tsbuild_native",
    "sources": ["src/addon.cc", "src/container.cc", "src/fsops.cc"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O2"],
    "cflags_cc!": ["-fno-exceptions"]
  }]
}
