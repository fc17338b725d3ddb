#!/usr/bin/python3
"""StyleGAN3 full synthesis on the CPU: NVIDIA's own code (its reference ops) against actmap, in
one run, on the same card and weights; and the two images compared.

    /usr/bin/python3 tools/random_stylegan3.py /tmp/sg3                     # T at 256x256
    /usr/bin/python3 tests/reference/bench_stylegan3_official.py OFFICIAL_DIR \\
        /tmp/sg3/stylegan3-t-random-256.json --actmap build/release/src/cli/actmap-cli [--rounds 3]

OFFICIAL_DIR is a checkout of https://github.com/NVlabs/stylegan3 (read, never copied; it needs
python3-scipy). The official Generator is built from the card's config with the official
constructor, given the card's weights (load_state_dict), and timed on G.synthesis(ws) for one
latent with torch.no_grad() and --threads intra-op threads; actmap is timed with `actmap-cli
bench` (full forward, median of --iters) on the same card. The rounds alternate between the two
so that load from other work on the machine falls on both. Finally both render the same z and
the largest difference is printed.
"""
import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("official")
    ap.add_argument("card")
    ap.add_argument("--actmap", required=True, help="path to actmap-cli")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=3, help="actmap-cli bench iterations per round")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    sys.path.insert(0, os.path.abspath(a.official))
    import torch
    from training.networks_stylegan3 import Generator
    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)

    card = json.load(open(a.card))
    cfg = card["config"]
    kwargs = {k: cfg[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
    kwargs["mapping_kwargs"] = cfg.get("mapping_kwargs", {})
    kwargs.update(cfg.get("synthesis_kwargs", {}))
    G = Generator(**kwargs).eval()
    weights = read_safetensors(os.path.join(os.path.dirname(os.path.abspath(a.card)), card["weights"]))
    G.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})

    z = torch.from_numpy(np.random.RandomState(0).randn(1, G.z_dim).astype(np.float32))
    ws = G.mapping(z, None)
    G.synthesis(ws)  # warm-up

    def official_once():
        t0 = time.perf_counter()
        G.synthesis(ws)
        return (time.perf_counter() - t0) * 1e3

    def actmap_once():
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
        out = subprocess.run([a.actmap, "bench", "-m", a.card, "--iters", str(a.iters), "--warmup", "1", "--tap", "output",
                              "--threads", str(a.threads)], capture_output=True, text=True, env=env, check=True).stdout
        return float(re.search(r"full forward\s+([0-9.]+)", out).group(1))

    official, ours = [], []
    for r in range(a.rounds):
        official.append(official_once())
        ours.append(actmap_once())
        print(f"round {r + 1}: official {official[-1]:.0f} ms, actmap {ours[-1]:.0f} ms", flush=True)
    o, m = statistics.median(official), statistics.median(ours)
    print(f"median: official (reference ops, {a.threads} threads) {o:.0f} ms, actmap {m:.0f} ms: {o / m:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "z.npy"), z.numpy())
        subprocess.run([a.actmap, "render", "-m", a.card, "--z", os.path.join(tmp, "z.npy"), "-o", os.path.join(tmp, "a.png"),
                        "--tensor-out", os.path.join(tmp, "a.npy")], capture_output=True, check=True)
        mine = np.load(os.path.join(tmp, "a.npy"))
    theirs = G.synthesis(ws).numpy()
    diff = np.abs(mine - theirs).max()
    print(f"largest |actmap - official| on the image: {diff:.3g} (image range +-{np.abs(theirs).max():.3g})")


if __name__ == "__main__":
    main()
