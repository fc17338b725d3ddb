#!/usr/bin/env bash
# Gathers the Debian 12 build dependencies that a machine with only a pip torch lacks into
# .deps/cuda (ignored by git), so that tools/device/cuda-check.sh can build actmap's core, CLI
# and tests there against that torch's LibTorch:
#   bash tools/device/prepare-deps.sh      # here, on the Debian 12 development machine
# Headers: nlohmann_json, stb, CLI11, yaml-cpp, GoogleTest, curl, zlib, with their CMake configs;
# libraries: static yaml-cpp, gtest and zlib, and libcurl with the shared libraries it needs.
# Also copies ../shared/models (small) to .deps/cuda/models for the tests that use them.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.deps/cuda
arch=x86_64-linux-gnu
rm -rf "$out"
mkdir -p "$out/include" "$out/lib/$arch/cmake" "$out/share/cmake"
cp -r /usr/include/nlohmann /usr/include/stb /usr/include/CLI /usr/include/yaml-cpp \
      /usr/include/gtest /usr/include/gmock /usr/include/zlib.h /usr/include/zconf.h "$out/include/"
cp -r /usr/include/$arch/curl "$out/include/"
cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$out/share/cmake/"
cp -r /usr/lib/$arch/cmake/GTest /usr/lib/$arch/cmake/yaml-cpp "$out/lib/$arch/cmake/"
cp /usr/lib/$arch/libgtest.a /usr/lib/$arch/libgtest_main.a /usr/lib/$arch/libgmock.a /usr/lib/$arch/libgmock_main.a \
   /usr/lib/$arch/libz.a "$out/lib/$arch/"
# yaml-cpp's CMake targets name the shared library; carry it (and it needs nothing unusual).
cp -a /usr/lib/$arch/libyaml-cpp.so* /usr/lib/$arch/libstb.so* "$out/lib/$arch/"
# libcurl and everything it loads, except the C and C++ runtimes the other machine has.
cp -a /usr/lib/$arch/libcurl.so* "$out/lib/$arch/"
ldd /usr/lib/$arch/libcurl.so.4 | awk '$3 ~ /^\// {print $3}' |
  grep -vE '/(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/$arch/"; done
if [ -d ../shared/models ]; then cp -r ../shared/models "$out/models"; fi
du -sh "$out"
