#!/usr/bin/env bash
# Installs the Debian 12 packages actmap builds and tests with. Idempotent: packages already
# present are skipped, and nothing is downloaded when everything is installed.
#
#   cmake/install-deps.sh            core, CLI, tests and the GUI's libraries
#   cmake/install-deps.sh --no-gui   core, CLI and tests only (no GL stack, e.g. a GPU server)
#   cmake/install-deps.sh --dev      also the tools for references, benchmarks and sanitizers
#                                    (python3-torch, python3-click, clang, hyperfine)
#   cmake/install-deps.sh --fuzz     also clang and its libFuzzer runtime (the fuzz preset)
set -euo pipefail

want_gui=1
want_dev=0
want_fuzz=0
for arg in "$@"; do
  case "$arg" in
    --no-gui) want_gui=0 ;;
    --dev) want_dev=1 ;;
    --fuzz) want_fuzz=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev            # LibTorch 1.13, CPU
  libopenblas0-pthread    # replaces reference BLAS: LibTorch convolutions >10x faster
  nlohmann-json3-dev libstb-dev libcli11-dev
  libcurl4-openssl-dev    # actmap-cli fetch: downloads of registry models
  zlib1g-dev              # DEFLATE entries in zip-format PyTorch checkpoints
  python3-jsonschema      # checks assets/session.schema.json and the example sessions
  libgtest-dev googletest
  ffmpeg                  # animate: GIF and MP4 output (and ffprobe for the tests)
  libyaml-cpp-dev         # Network Bending configs (import-bending, export-bending)
  chromium                # tests: the HTML reports open in headless Chromium
  pybind11-dev python3-pybind11 python3-dev python3-numpy  # the actmap Python module (src/python/)
  python3-distributed     # actmap.distributed: Dask's scheduler and workers
)
if [ "$want_gui" = 1 ]; then
  # xvfb, xdotool, x11-apps: the GUI tests; python3-xlib: they drop files on the window (XDND)
  pkgs+=(libimgui-dev libglfw3-dev libepoxy-dev xvfb xdotool x11-apps python3-xlib)
fi
if [ "$want_dev" = 1 ]; then
  pkgs+=(python3-torch python3-numpy python3-click clang libclang-rt-14-dev hyperfine)
fi
if [ "$want_fuzz" = 1 ]; then
  pkgs+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt needs a package list once on a fresh machine; refresh it when the install fails on an old one.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
  $sudo apt-get update -q
fi
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
