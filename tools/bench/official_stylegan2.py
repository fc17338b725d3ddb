#!/usr/bin/python3
"""Times NVIDIA's official StyleGAN2 generator (stylegan2-ada-pytorch, its reference ops on the
CPU) on the weights of an actmap StyleGAN2 card, for the side-by-side figure in
docs/performance.md. The official code is not part of actmap: pass a checkout of it.

  /usr/bin/python3 tools/bench/official_stylegan2.py --official DIR CARD.json [--threads 1,2]
      [--iters 5] [--warmup 1] [--json]

DIR is a checkout of NVlabs/stylegan2-ada-pytorch (its training/networks.py, dnnlib, torch_utils).
CARD is a stylegan2 card with official state-dict names (tools/random_stylegan2.py writes one).
For each thread count it builds Generator(**card config), loads the weights, and times a full
synthesis of one image (z from seed 0, psi 1, noise 'const') the way gen_images.py calls it:
G(z, c, truncation_psi=1, noise_mode='const'). Prints the median and the spread in ms.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name}: dtype {info['dtype']}, expected F32")
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("card")
    ap.add_argument("--official", required=True, help="a checkout of NVlabs/stylegan2-ada-pytorch")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    if not os.path.exists(os.path.join(a.official, "training", "networks.py")):
        raise SystemExit(f"{a.official}: not a stylegan2-ada-pytorch checkout (no training/networks.py)")
    sys.path.insert(0, os.path.abspath(a.official))
    import torch
    from training.networks import Generator  # the official code, from the checkout

    with open(a.card) as f:
        card = json.load(f)
    if card.get("family") != "stylegan2":
        raise SystemExit(f"{a.card}: family {card.get('family')!r}, expected 'stylegan2'")
    cfg = card["config"]
    weights = read_safetensors(os.path.join(os.path.dirname(os.path.abspath(a.card)), card["weights"]))
    G = Generator(z_dim=cfg["z_dim"], c_dim=cfg.get("c_dim", 0), w_dim=cfg["w_dim"], img_resolution=cfg["img_resolution"],
                  img_channels=cfg["img_channels"], mapping_kwargs=cfg.get("mapping_kwargs", {}),
                  synthesis_kwargs=cfg.get("synthesis_kwargs", {})).eval()
    state = G.state_dict()
    missing = [k for k in state if k not in weights]
    if missing:
        raise SystemExit(f"{a.card}: the weights lack {len(missing)} official keys, e.g. {missing[:3]}")
    G.load_state_dict({k: torch.from_numpy(weights[k].copy()) for k in state})
    z = torch.from_numpy(np.random.RandomState(0).randn(1, cfg["z_dim"])).float()
    c = torch.zeros(1, cfg.get("c_dim", 0))

    results = []
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        times = []
        with torch.no_grad():
            for i in range(a.warmup + a.iters):
                t0 = time.perf_counter()
                img = G(z, c, truncation_psi=1, noise_mode="const")
                dt = (time.perf_counter() - t0) * 1000.0
                if i >= a.warmup:
                    times.append(dt)
        results.append({"threads": threads, "median_ms": statistics.median(times), "min_ms": min(times),
                        "max_ms": max(times), "iters": len(times), "shape": list(img.shape)})
    if a.json:
        print(json.dumps({"implementation": "stylegan2-ada-pytorch (reference ops, CPU)", "torch": torch.__version__,
                          "card": a.card, "results": results}, indent=2))
    else:
        for r in results:
            print(f"official stylegan2-ada-pytorch, {r['threads']} thread(s): median {r['median_ms']:.0f} ms "
                  f"(min {r['min_ms']:.0f}, max {r['max_ms']:.0f}, {r['iters']} runs), image {r['shape']}")


if __name__ == "__main__":
    main()
