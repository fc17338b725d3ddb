#!/usr/bin/python3
"""Writes a StyleGAN2 card and safetensors with random weights in the official layout, for timing.

  /usr/bin/python3 tools/random_stylegan2.py OUT_DIR [--resolution 1024] [--channel-base 32768]
      [--channel-max 512] [--mapping-layers 8] [--conv-clamp 256] [--seed 0]

The defaults are config F of the StyleGAN2 paper at 1024x1024 (about 30 M parameters, 120 MB), with
the official training default num_fp16_res = 4 (float32 unless --fp16 on CUDA).
The images are noise: use it for benchmarks (actmap-cli bench), never as a model.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import stylegan2_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--resolution", type=int, default=1024)
    ap.add_argument("--channel-base", type=int, default=32768)
    ap.add_argument("--channel-max", type=int, default=512)
    ap.add_argument("--mapping-layers", type=int, default=8)
    ap.add_argument("--conv-clamp", type=float, default=256)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg = dict(z_dim=512, w_dim=512, num_layers=a.mapping_layers, lr_multiplier=0.01, img_resolution=a.resolution,
               img_channels=3, channel_base=a.channel_base, channel_max=a.channel_max, conv_clamp=a.conv_clamp,
               architecture="skip")
    os.makedirs(a.out, exist_ok=True)
    name = f"stylegan2-random-{a.resolution}"
    params = ref.random_params(cfg, np.random.default_rng(a.seed))
    # Weights at the scale of a trained model (the official init divides by lr_multiplier).
    ref.write_safetensors(os.path.join(a.out, name + ".safetensors"), params)
    card = {
        "actmap_model_card": 1, "name": name, "family": "stylegan2",
        "description": "random weights for timing (tools/random_stylegan2.py); the images are noise",
        "license": "CC0-1.0 (generated)",
        "config": {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": a.resolution, "img_channels": 3,
                   "mapping_kwargs": {"num_layers": a.mapping_layers, "lr_multiplier": 0.01},
                   "synthesis_kwargs": {"channel_base": a.channel_base, "channel_max": a.channel_max,
                                        "conv_clamp": a.conv_clamp, "architecture": "skip", "num_fp16_res": 4}},
        "weights": name + ".safetensors",
    }
    with open(os.path.join(a.out, name + ".json"), "w") as f:
        json.dump(card, f, indent=2)
    print("wrote", os.path.join(a.out, name + ".json"))


if __name__ == "__main__":
    main()
