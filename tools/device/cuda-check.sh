#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and a pip torch (CUDA): builds the core, CLI and tests against
# that torch's LibTorch, runs the CUDA tests, then times StyleGAN2 at 1024x1024 on the GPU.
#   bash tools/device/cuda-check.sh [build|test|bench|all]...   (default: all)
# Needs .deps/cuda from tools/device/prepare-deps.sh (run on the Debian machine, then carried).
# Logs go to $OUT when it is set (the device tool's output folder), else to build/cuda-logs.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
deps=$root/.deps/cuda
arch=x86_64-linux-gnu
logs=${OUT:-$root/build/cuda-logs}
mkdir -p "$logs"
steps=${*:-all}
py=$(command -v python3)
torch_prefix=$($py -c 'import torch;print(torch.utils.cmake_prefix_path)')
torch_lib=$($py -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')
export LD_LIBRARY_PATH=$deps/lib/$arch:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export ACTMAP_MODEL_PATH=${ACTMAP_MODEL_PATH:-$deps/models}
build=$root/build/cuda

want() { [[ " $steps " == *" all "* || " $steps " == *" $1 "* ]]; }

if want build; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $py -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DACTMAP_BUILD_GUI=OFF -DACTMAP_BUILD_PYTHON=OFF -DACTMAP_WERROR=OFF \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps" -DCMAKE_CUDA_ARCHITECTURES=90 -DTORCH_CUDA_ARCH_LIST=9.0 \
    >"$logs/configure.log" 2>&1 || { tail -40 "$logs/configure.log"; exit 1; }
  cmake --build "$build" -j"$(nproc)" -- -k 0 >"$logs/build.log" 2>&1 ||
    { grep -E "error|Error" "$logs/build.log" | head -60; exit 1; }
  echo "build ok"
fi
if want test; then
  "$build/tests/actmap_tests" --gtest_filter='*Cuda*:*CUDA*:RenderWorker*:StyleGAN2*:Configs/StyleGAN2Cuda*:Cli.ErrorsAre*:BufferCache*' 2>&1 | tee "$logs/cuda-tests.log" | tail -30
  (cd "$build" && timeout 400 ctest -j8 --timeout 300 -E 'gui_|fuzz' >"$logs/ctest.log" 2>&1); tail -25 "$logs/ctest.log"
fi
if want bench; then
  [ -f /tmp/sg1024/stylegan2-random-1024.json ] || $py tools/random_stylegan2.py /tmp/sg1024 >/dev/null
  for env in "" "ACTMAP_CUDNN_BENCHMARK=1" "ACTMAP_TF32=1 ACTMAP_CUDNN_BENCHMARK=1"; do
    echo "== ${env:-defaults}"
    env $env "$build/src/cli/actmap-cli" bench -m /tmp/sg1024/stylegan2-random-1024.json --device cuda --iters 50 --warmup 10 \
      --tap b256.conv0 --tap b256.conv1 --tap b256.img 2>&1 | tee -a "$logs/bench.log" | grep -E "full|b256|model"
  done
  echo "== --fp16 (float16 from 128x128, as the original)"
  "$build/src/cli/actmap-cli" bench -m /tmp/sg1024/stylegan2-random-1024.json --device cuda --fp16 --iters 50 --warmup 10 \
    --tap b256.conv0 --tap b256.conv1 --tap b256.img 2>&1 | tee -a "$logs/bench.log" | grep -E "full|b256|model|float"
  "$build/src/cli/actmap-cli" bench -m /tmp/sg1024/stylegan2-random-1024.json --device cuda --iters 20 --warmup 5 \
    --stages --tap b1024.img >"$logs/bench-stages.log" 2>&1
fi
