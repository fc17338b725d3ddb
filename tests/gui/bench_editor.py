#!/usr/bin/python3
"""Benchmark of the editor in a real window under Xvfb: frame times while renders run with a
512-channel tap shown as a grid, and the time from a change (a brush stroke's points) to its
result on screen.

usage: bench_editor.py ACTMAP [--model NAME_OR_CARD] [--tap TAP] [--strokes N] [--seeds N]
                       [--seed-strip N] [--threads N]
Without --model it writes a DCGAN 64x64 generator with ngf 64 (its first tap has 512 channels)
with random weights into a temporary directory. --seeds N presses N (next seed) N times instead of
painting, each once the previous result is on screen: the latencies are then seed change to
screen. --seed-strip sets the seed strip under the output (0: off). Prints the editor's own
measurements (JSON)."""

import argparse
import json
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as g  # noqa: E402


def write_dcgan64(directory, nz=100, ngf=64, nc=3):
    """The PyTorch DCGAN example generator at 64x64 with random weights, as an actmap card."""
    rng = np.random.default_rng(0)
    chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf, nc]
    tensors = {}
    for i in range(5):
        conv = f"main.{3 * i}"
        tensors[conv + ".weight"] = rng.normal(0, 0.02, (chans[i], chans[i + 1], 4, 4)).astype("<f4")
        if i < 4:
            bn = f"main.{3 * i + 1}"
            c = chans[i + 1]
            tensors[bn + ".weight"] = rng.normal(1, 0.02, c).astype("<f4")
            tensors[bn + ".bias"] = np.zeros(c, "<f4")
            tensors[bn + ".running_mean"] = np.zeros(c, "<f4")
            tensors[bn + ".running_var"] = np.ones(c, "<f4")
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = t.tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(directory, "weights.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    card = {"actmap_model_card": 1, "name": "bench-dcgan64", "description": "random weights, for benchmarks",
            "family": "dcgan", "config": {"nz": nz, "ngf": ngf, "nc": nc, "image_size": 64},
            "weights": "weights.safetensors"}
    path = os.path.join(directory, "bench-dcgan64.json")
    with open(path, "w") as f:
        json.dump(card, f)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app")
    ap.add_argument("--model")
    ap.add_argument("--tap", default="main.2")
    ap.add_argument("--strokes", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=0, help="seed changes instead of strokes")
    ap.add_argument("--seed-strip", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    work = g.workdir()
    model = args.model or write_dcgan64(work)
    session = os.path.join(work, "bench.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": model, "latent": {"seed": 1}, "edits": [],
                   "view": {"tap": args.tap, "channel": 0}}, f)
    stats = os.path.join(work, "stats.json")
    display = g.Display()
    extra = ["--seed-strip", str(args.seed_strip)] + (["--threads", str(args.threads)] if args.threads else [])
    ed = g.Editor(args.app, display, ["--session", session, "--no-recovery", "--stats-out", stats] + extra, work).ready()
    try:
        ed.settle(timeout=300)
        if args.seeds:
            ed.point_at(*ed.centre("output/view"))
            for _ in range(args.seeds):
                seed = ed.state("seed")
                ed.xdo("key", "n")
                ed.wait("the next seed", lambda u: u["state"].get("seed") == seed + 1)
                ed.settle(timeout=300)
                time.sleep(1.0 if args.seed_strip else 0.2)  # let the strip render (it must not delay the next)
        else:
            x0, y0, x1, y1 = ed.rect("slice/image")
            w, h = x1 - x0, y1 - y0
            for s in range(args.strokes):
                pts = [(x0 + w * (0.15 + 0.035 * i), y0 + h * (0.2 + 0.02 * s + 0.02 * i)) for i in range(20)]
                ed.drag(pts, step_delay=0.02)
                ed.settle()
        ed.proc.terminate()
        ed.proc.wait(timeout=30)
    finally:
        ed.close()
        display.close()
    with open(stats) as f:
        result = json.load(f)
    result["model"] = model if args.model else "bench-dcgan64 (random weights, ngf 64)"
    result["tap"] = args.tap
    result["mode"] = f"{args.seeds} seed changes" if args.seeds else f"{args.strokes} strokes"
    result["seed_strip"] = args.seed_strip
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    g.run(main)
