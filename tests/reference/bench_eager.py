#!/usr/bin/python3
"""Eager-PyTorch CPU baseline: batch-1 forward latency of two generators.

    /usr/bin/python3 tests/reference/bench_eager.py [--models-dir DIR] [--iters N] [--json]

Models: ffhq64-vae (real weights) and the classic pytorch/examples DCGAN
(nz=100, ngf=64, nc=3, 64x64; random weights, BatchNorm left unfolded, as a
user would run it). Each is timed under torch.no_grad() and
torch.inference_mode(), with 1 and 2 intra-op threads.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as R  # noqa: E402  (model definitions shared with the fixtures)

GRAD_MODES = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}


def build_models(models_dir, real=True):
    models = {"ffhq64-vae": R.load_real("ffhq64-vae", models_dir)} if real else {}
    torch.manual_seed(0)
    # randomized (not default-init) weights keep activations O(1): tiny values
    # could hit denormals and distort timings
    dcgan = R.randomize_dcgan(R.DCGAN(nz=100, ngf=64, nc=3, image_size=64), seed=0)
    models["dcgan64-nz100-ngf64"] = dcgan.float().eval()
    return models


def time_block(model, z, threads, mode, warmup, iters):
    """Per-iteration times (ms) of one block; warm-up follows the thread switch."""
    torch.set_num_threads(threads)
    times = []
    with GRAD_MODES[mode]():
        for _ in range(warmup):
            model(z)
        for _ in range(iters):
            t0 = time.perf_counter_ns()
            model(z)
            times.append((time.perf_counter_ns() - t0) / 1e6)
    return times


def summarize(times):
    q = statistics.quantiles(times, n=10)
    return {"median_ms": round(statistics.median(times), 4), "min_ms": round(min(times), 4),
            "p90_ms": round(q[-1], 4), "mean_ms": round(statistics.fmean(times), 4),
            "samples": len(times)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default="/work/shared/models")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10, help="untimed runs per block")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; iters are split over them")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--write-dcgan", metavar="DIR",
                    help="write the benchmarked classic DCGAN as DIR/dcgan64-nz100-ngf64.{json,safetensors} and exit")
    args = ap.parse_args(argv)
    if args.write_dcgan:
        model = build_models(None, real=False)["dcgan64-nz100-ngf64"]
        os.makedirs(args.write_dcgan, exist_ok=True)
        R.write_safetensors(os.path.join(args.write_dcgan, "dcgan64-nz100-ngf64.safetensors"), R.dcgan_tensors(model))
        card = {"actmap_model_card": 1, "name": "dcgan64-nz100-ngf64", "family": "dcgan",
                "description": "The PyTorch DCGAN example generator with random weights (benchmarks only).",
                "config": {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64},
                "weights": "dcgan64-nz100-ngf64.safetensors"}
        with open(os.path.join(args.write_dcgan, "dcgan64-nz100-ngf64.json"), "w") as f:
            json.dump(card, f, indent=2)
        return 0
    thread_counts = [int(t) for t in args.threads.split(",")]

    # configs are interleaved over rounds so that slow drift of a shared VM
    # (frequency, neighbours) hits every config alike instead of the last one
    configs = [(name, model, t, mode) for name, model in build_models(args.models_dir).items()
               for t in thread_counts for mode in GRAD_MODES]
    per_round = max(1, args.iters // args.rounds)
    samples = {(n, t, m): [] for n, _, t, m in configs}
    for _ in range(args.rounds):
        for name, model, threads, mode in configs:
            z = torch.randn(1, model.nz, generator=torch.Generator().manual_seed(1))
            samples[(name, threads, mode)] += time_block(model, z, threads, mode,
                                                         args.warmup, per_round)
    results = [{"model": n, "threads": t, "mode": m, **summarize(ts)}
               for (n, t, m), ts in samples.items()]

    best = {}
    for r in results:
        if r["model"] not in best or r["median_ms"] < best[r["model"]]["median_ms"]:
            best[r["model"]] = r
    env = {"torch": torch.__version__, "python": platform.python_version(),
           "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "mkldnn": torch.backends.mkldnn.is_available(),
           "iters": args.iters, "rounds": args.rounds, "warmup": args.warmup, "batch": 1}

    if args.json:
        print(json.dumps({"env": env, "results": results,
                          "best": {k: {"threads": v["threads"], "mode": v["mode"],
                                       "median_ms": v["median_ms"]} for k, v in best.items()}},
                         indent=2))
        return 0

    print(f"torch {env['torch']}, {env['cpus']} CPUs, batch 1, "
          f"{args.iters} iters in {args.rounds} interleaved rounds, {args.warmup} warm-up each")
    print(f"{'model':22s} {'threads':>7s} {'mode':>15s} {'median ms':>10s} {'min ms':>8s} {'p90 ms':>8s}")
    for r in results:
        mark = " *" if best[r["model"]] is r else ""
        print(f"{r['model']:22s} {r['threads']:7d} {r['mode']:>15s} "
              f"{r['median_ms']:10.3f} {r['min_ms']:8.3f} {r['p90_ms']:8.3f}{mark}")
    print("* = best median per model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
