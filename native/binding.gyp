{
  "targets": [{
    "target_name": "tsbuild_native",
    "sources": [
      "src/addon.cc", "src/fsops.cc",
      "src/container/plan.cc", "src/container/spawn.cc",
      "src/container/child/init.cc", "src/container/child/sys.cc", "src/container/child/rootfs.cc",
      "src/container/child/pseudofs.cc", "src/container/child/mounts.cc", "src/container/child/user.cc",
      "src/container/child/exec.cc"
    ],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O2"],
    "cflags_cc!": ["-fno-exceptions"]
  }]
}
