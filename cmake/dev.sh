#!/usr/bin/env bash
# One entry point for people and CI:
#   bash cmake/dev.sh run    install what is missing, build, and open the actmap editor on the
#                            default model (arguments after "run" go to actmap, e.g. --session S.json)
#   bash cmake/dev.sh test   install what is missing, build, and run every test
#   bash cmake/dev.sh build  install and build only
#   bash cmake/dev.sh fuzz   build the libFuzzer targets (clang) and run each for ACTMAP_FUZZ_SECONDS (20)
#   bash cmake/dev.sh threads   the threaded tests under ThreadSanitizer (preset tsan-threads:
#                            the core, CLI and tests only, so it builds in minutes; CI runs it)
#   bash cmake/dev.sh sanitize  build the asan (ASan + UBSan) and tsan presets and run every test
#                            under each (ACTMAP_SANITIZE_TESTS: a ctest -R filter), then each
#                            fuzz target for ACTMAP_SANITIZE_FUZZ_SECONDS (120)
# Environment: ACTMAP_PRESET (default: default; see CMakePresets.json), ACTMAP_MODEL_PATH
# (defaults to ../shared/models beside the checkout when that exists), ACTMAP_DATA_PATH (likewise
# ../shared/datasets: the training data some tests compare with).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
what=${1:-}
shift || true
preset=${ACTMAP_PRESET:-default}

# The pretrained models and training data beside the checkout, unless the environment names others.
use_shared_data() {
  if [ -z "${ACTMAP_MODEL_PATH:-}" ] && [ -d "$root/../shared/models" ]; then
    export ACTMAP_MODEL_PATH="$(cd "$root/../shared/models" && pwd)"
  fi
  if [ -z "${ACTMAP_DATA_PATH:-}" ] && [ -d "$root/../shared/datasets" ]; then
    export ACTMAP_DATA_PATH="$(cd "$root/../shared/datasets" && pwd)"
  fi
}

case "$what" in
  run|test|build) ;;
  fuzz)
    bash cmake/install-deps.sh --no-gui --fuzz
    cmake --preset fuzz -DACTMAP_FUZZ_SECONDS="${ACTMAP_FUZZ_SECONDS:-20}"
    cmake --build --preset fuzz
    ctest --preset fuzz
    exit 0
    ;;
  threads)
    bash cmake/install-deps.sh --no-gui
    use_shared_data
    cmake --preset tsan-threads
    cmake --build --preset tsan-threads
    ctest --preset tsan-threads
    exit 0
    ;;
  sanitize)
    bash cmake/install-deps.sh --fuzz
    use_shared_data
    for p in asan tsan; do
      start=$(date +%s)
      cmake --preset "$p"
      cmake --build --preset "$p"
      ctest --preset "$p" ${ACTMAP_SANITIZE_TESTS:+-R "$ACTMAP_SANITIZE_TESTS"}
      echo "sanitize: $p built and tested in $(( $(date +%s) - start )) s"
    done
    # Every parser under libFuzzer for longer than CI runs them; what they find stays in
    # build/fuzz/tests/fuzz/corpus/ and seeds the next run.
    start=$(date +%s)
    cmake --preset fuzz -DACTMAP_FUZZ_SECONDS="${ACTMAP_SANITIZE_FUZZ_SECONDS:-120}"
    cmake --build --preset fuzz
    ctest --preset fuzz
    echo "sanitize: fuzz targets built and run in $(( $(date +%s) - start )) s"
    exit 0
    ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

gui_flag=""
case "$preset" in *no-gui*|cuda*) gui_flag="--no-gui" ;; esac
bash cmake/install-deps.sh $gui_flag

use_shared_data

cmake --preset "$preset"
cmake --build --preset "$preset"

case "$what" in
  test)
    ctest --preset "$preset"
    ;;
  run)
    app="build/$preset/src/app/actmap"
    if [ ! -x "$app" ]; then
      echo "actmap: the editor is not built with preset '$preset' (no GUI); actmap-cli is in build/$preset/src/cli" >&2
      exit 1
    fi
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      echo "actmap: no display. On a headless machine: xvfb-run -a $app --screenshot out.png" >&2
      echo "        (or render sessions with build/$preset/src/cli/actmap-cli render)" >&2
      exit 1
    fi
    exec "$app" "$@"
    ;;
esac
