#!/usr/bin/env bash
# The performance tables of docs/performance.md, each measured with its peer in the same run, in
# interleaved rounds on this machine. Needs python3-torch (cmake/install-deps.sh --dev).
#   bash cmake/bench.sh [rounds, default 5]
#       DCGAN family: actmap-cli bench against PyTorch eager on the same weights (needs the
#       pretrained ffhq64-vae: ACTMAP_MODEL_PATH, default ../shared/models)
#   bash cmake/bench.sh stylegan2 --official DIR [rounds, default 3] [--resolution 1024]
#       StyleGAN2 config F: actmap-cli bench against NVIDIA's official stylegan2-ada-pytorch
#       generator (a checkout in DIR; its reference ops on the CPU) on the same random weights,
#       each with 1 and 2 threads
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = stylegan2 ]; then
  shift
  official="" rounds=3 resolution=1024
  while [ $# -gt 0 ]; do
    case "$1" in
      --official) official=$2; shift 2 ;;
      --resolution) resolution=$2; shift 2 ;;
      [0-9]*) rounds=$1; shift ;;
      *) echo "bench.sh stylegan2: unknown argument '$1'" >&2; exit 2 ;;
    esac
  done
  [ -n "$official" ] || { echo "bench.sh stylegan2: --official DIR (a checkout of NVlabs/stylegan2-ada-pytorch) is required" >&2; exit 2; }
  bash cmake/install-deps.sh --no-gui --dev >/dev/null
  cmake --preset release >/dev/null && cmake --build --preset release --target actmap-cli >/dev/null
  cli=build/release/src/cli/actmap-cli
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  /usr/bin/python3 tools/random_stylegan2.py "$work" --resolution "$resolution" >/dev/null
  card="$work/stylegan2-random-$resolution.json"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; config F at ${resolution}x${resolution}, random weights"
  for r in $(seq "$rounds"); do
    for t in 1 2; do
      $cli bench -m "$card" --iters 3 --warmup 1 --threads $t > "$work/actmap.$t.$r.txt"
    done
    /usr/bin/python3 tools/bench/official_stylegan2.py --official "$official" "$card" --threads 1,2 --iters 3 --warmup 1 \
      --json > "$work/official.$r.json" 2>/dev/null
  done
  /usr/bin/python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def actmap(t):
    vals = []
    for r in range(1, rounds + 1):
        for line in open(f"{work}/actmap.{t}.{r}.txt"):
            if line.startswith("full forward"):
                vals.append(float(line.split()[2]))
    return vals
def official(t):
    vals = []
    for r in range(1, rounds + 1):
        for res in json.load(open(f"{work}/official.{r}.json"))["results"]:
            if res["threads"] == t:
                vals.append(res["median_ms"])
    return vals
print(f"full synthesis of one image, median of {rounds} rounds (each the median of 3 runs), ms (range across rounds)")
print("| threads | actmap | official stylegan2-ada-pytorch | speed-up |")
print("|---|---|---|---|")
for t in (1, 2):
    a, o = actmap(t), official(t)
    print(f"| {t} | {statistics.median(a):.0f} ({min(a):.0f}-{max(a):.0f}) | {statistics.median(o):.0f} ({min(o):.0f}-{max(o):.0f}) "
          f"| {statistics.median(o) / statistics.median(a):.2f}x |")
PY
  exit 0
fi
rounds=${1:-5}
bash cmake/install-deps.sh --no-gui --dev >/dev/null
export ACTMAP_MODEL_PATH=${ACTMAP_MODEL_PATH:-$(cd .. && pwd)/shared/models}
cmake --preset release >/dev/null && cmake --build --preset release --target actmap-cli >/dev/null
cli=build/release/src/cli/actmap-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tests/reference/bench_eager.py --write-dcgan "$work"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $($cli bench -m "$work/dcgan64-nz100-ngf64.json" --iters 1 --warmup 0 | head -1 | sed "s/.*, BLAS /BLAS /")"
for r in $(seq "$rounds"); do
  /usr/bin/python3 tests/reference/bench_eager.py --models-dir "$ACTMAP_MODEL_PATH" --iters 200 --rounds 2 --json > "$work/eager.$r.json"
  $cli bench -m ffhq64-vae --iters 200 > "$work/ffhq.$r.txt"
  $cli bench -m "$work/dcgan64-nz100-ngf64.json" --iters 200 > "$work/dcgan.$r.txt"
  ACTMAP_CPU_KERNELS=aten $cli bench -m ffhq64-vae --iters 200 > "$work/ffhq-aten.$r.txt"
  ACTMAP_CPU_KERNELS=aten $cli bench -m "$work/dcgan64-nz100-ngf64.json" --iters 200 > "$work/dcgan-aten.$r.txt"
done
/usr/bin/python3 - "$work" "$rounds" <<'PY'
import json, re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def cli(name, label):
    vals = []
    for r in range(1, rounds + 1):
        for line in open(f"{work}/{name}.{r}.txt"):
            if line.startswith(label):
                vals.append(float(line[len(label):].split()[0]))
    return statistics.median(vals)
eager = {}
for r in range(1, rounds + 1):
    doc = json.load(open(f"{work}/eager.{r}.json"))
    for res in doc["results"]:
        eager.setdefault((res["model"], res["threads"], res["mode"]), []).append(res["median_ms"])
print(f"median of {rounds} rounds (each a median of 200 runs), batch 1, ms")
print(f"| model | PyTorch eager, best setting | actmap (LibTorch kernels) | actmap | speed-up vs eager | re-run from 16x16 | full / re-run |")
print(f"|---|---|---|---|---|---|---|")
for model, name, tap in [("ffhq64-vae", "ffhq", "main.11"), ("dcgan64-nz100-ngf64", "dcgan", "main.8")]:
    best = min(((statistics.median(v), k) for k, v in eager.items() if k[0] == model))
    full = cli(name, "full forward")
    aten = cli(name + "-aten", "full forward")
    rerun = cli(name, f"re-run from {tap} (16x16)")
    print(f"| {model} | {best[0]:.3f} ({best[1][1]} thread, {best[1][2]}) | {aten:.3f} | {full:.3f} | "
          f"{best[0] / full:.2f}x | {rerun:.3f} | {full / rerun:.2f}x |")
PY
