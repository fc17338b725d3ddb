#!/usr/bin/env bash
# One entry point for people and CI:
#   bash cmake/dev.sh run    install what is missing, build, and open actmap on the default model
#                            (until the desktop editor lands: render it to a PNG and print where)
#   bash cmake/dev.sh test   install what is missing, build, and run every test
#   bash cmake/dev.sh build  install and build only
#   bash cmake/dev.sh fuzz   build the libFuzzer targets (clang) and run each for ACTMAP_FUZZ_SECONDS (20)
# Environment: ACTMAP_PRESET (default: default; see CMakePresets.json), ACTMAP_MODEL_PATH
# (defaults to ../shared/models beside the checkout when that exists).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
what=${1:-}
preset=${ACTMAP_PRESET:-default}

case "$what" in
  run|test|build) ;;
  fuzz)
    bash cmake/install-deps.sh --no-gui --fuzz
    cmake --preset fuzz -DACTMAP_FUZZ_SECONDS="${ACTMAP_FUZZ_SECONDS:-20}"
    cmake --build --preset fuzz
    ctest --preset fuzz
    exit 0
    ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

gui_flag=""
case "$preset" in *no-gui*|cuda*) gui_flag="--no-gui" ;; esac
bash cmake/install-deps.sh $gui_flag

if [ -z "${ACTMAP_MODEL_PATH:-}" ] && [ -d "$root/../shared/models" ]; then
  export ACTMAP_MODEL_PATH="$(cd "$root/../shared/models" && pwd)"
fi

cmake --preset "$preset"
cmake --build --preset "$preset"

case "$what" in
  test)
    ctest --preset "$preset"
    ;;
  run)
    cli="build/$preset/src/cli/actmap-cli"
    mkdir -p out
    "$cli" render --model ffhq64-vae --seed 0 --count 16 -o out/default-model.png
    echo "actmap: the default model's first 16 seeds are in $root/out/default-model.png"
    echo "        (the desktop editor is not built yet; 'actmap-cli --help' lists what the CLI does)"
    ;;
esac
