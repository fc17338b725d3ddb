#!/usr/bin/python3
"""Writes a StyleGAN3 card and safetensors with random weights in the official layout, for timing.

  /usr/bin/python3 tools/random_stylegan3.py OUT_DIR [--config t|r] [--resolution 256]
      [--channel-base N] [--channel-max N] [--seed 0]

Config T (the default) at 256x256 is the official configuration for 256 (channel_base 32768,
channel_max 512, 3x3 kernels); config R doubles both and uses 1x1 kernels and radial filters. The
filters are designed as the official code designs them (tests/reference/stylegan3_reference.py);
the other weights are noise: use it for benchmarks (actmap-cli bench), never as a model. Writes
OUT_DIR/stylegan3-{t,r}-random-RES.json and its .safetensors.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import stylegan3_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--config", choices=["t", "r"], default="t")
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--channel-base", type=int)
    ap.add_argument("--channel-max", type=int)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    r = a.config == "r"
    synthesis = dict(channel_base=a.channel_base or (65536 if r else 32768),
                     channel_max=a.channel_max or (1024 if r else 512))
    if r:
        synthesis.update(conv_kernel=1, use_radial_filters=True)
    cfg = dict(z_dim=512, w_dim=512, mapping_layers=2, mapping_lr=0.01, img_resolution=a.resolution, img_channels=3,
               synthesis=synthesis)
    params = ref.random_params(cfg, np.random.default_rng(a.seed))
    os.makedirs(a.out, exist_ok=True)
    name = f"stylegan3-{a.config}-random-{a.resolution}"
    ref.write_safetensors(os.path.join(a.out, name + ".safetensors"), params)
    card = ref.card_for(name, cfg, name + ".safetensors")
    card["description"] = "random weights for timing (tools/random_stylegan3.py): noise, not a model"
    card["config"]["synthesis_kwargs"]["num_fp16_res"] = 4
    with open(os.path.join(a.out, name + ".json"), "w") as f:
        json.dump(card, f, indent=2)
    n = sum(v.size for v in params.values())
    print(f"wrote {os.path.join(a.out, name + '.json')} ({n / 1e6:.1f} M parameters)")


if __name__ == "__main__":
    main()
