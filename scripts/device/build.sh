#!/usr/bin/env bash
# Builds TARGETS of the project's own CMakeLists.txt in BUILD_DIR on the GPU machine, against the
# LibTorch inside its PyTorch 2.x, with the other dependencies from .devbuild/deps
# (scripts/device/dependencies.cmake). Logs go to $OUT/cmake.log and $OUT/build.log; on failure
# their errors are printed.
#   scripts/device/build.sh BUILD_DIR TARGET...
set -uo pipefail
cd "$(dirname "$0")/../.."
B=$1
shift
PY=$(command -v python3)
if [ ! -f "$B/build.ninja" ]; then
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PROJECT_TOP_LEVEL_INCLUDES="$PWD/scripts/device/dependencies.cmake" \
    -DCMAKE_PREFIX_PATH="$($PY -c 'import torch;print(torch.utils.cmake_prefix_path)')" >"$OUT/cmake.log" 2>&1 ||
    { tail -40 "$OUT/cmake.log"; exit 1; }
fi
ninja -C "$B" -k 0 -j "$(nproc)" "$@" >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A5 "$OUT/build.log" | head -80; exit 1; }
