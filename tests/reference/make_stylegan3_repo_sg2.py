#!/usr/bin/python3
"""Writes a StyleGAN2 snapshot as NVIDIA's stylegan3 repository writes it (train.py --cfg=stylegan2,
training/networks_stylegan2.py), and the images that code renders from it:
tests/fixtures/checkpoints/genuine/sg3repo_sg2.pkl, sg3repo_sg2.json and sg3repo_sg2_*.npy.

  /usr/bin/python3 tests/reference/make_stylegan3_repo_sg2.py --sg3 SG3_DIR

SG3_DIR is a checkout of NVIDIA's stylegan3 outside this repository (its code is never committed
here). Runs on the CPU with Debian's python3-torch in seconds.

Such pickles differ from stylegan2-ada-pytorch's in what an importer must know:
- the Generator takes its synthesis arguments flat (channel_base, channel_max, ... beside z_dim),
  not under synthesis_kwargs;
- the defaults its pickles do not record differ: SynthesisNetwork num_fp16_res = 4, SynthesisBlock
  conv_clamp = 256 (train.py sets neither unless --fp32), and fused_modconv_default.
The generator is built with train.py's kwargs for --cfg=stylegan2 (scaled down) and none of those
three, so only the source's defaults say them. One channel's bias is raised so that activations
pass 256 and the default clamp changes the picture (checked here).
"""
import argparse
import copy
import json
import os
import pickle
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "checkpoints", "genuine")
sys.path.insert(0, HERE)
import seeded_latents  # noqa: E402

CASES = [(1.0, None, "const"), (0.5, 2, "const"), (1.0, None, "none")]  # (psi, cutoff, noise)
SEEDS = [0, 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sg3", required=True, help="a checkout of NVIDIA's stylegan3")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.sg3))
    import dnnlib
    import make_genuine_checkpoints as genuine

    # train.py for --cfg=stylegan2, scaled down (cbase, cmax, map); no num_fp16_res or conv_clamp.
    G_kwargs = dnnlib.EasyDict(class_name="training.networks_stylegan2.Generator", z_dim=6, w_dim=8,
                               mapping_kwargs=dnnlib.EasyDict(num_layers=2), channel_base=128, channel_max=16,
                               fused_modconv_default="inference_only")
    D_kwargs = dnnlib.EasyDict(class_name="training.networks_stylegan2.Discriminator", block_kwargs=dnnlib.EasyDict(),
                               mapping_kwargs=dnnlib.EasyDict(), epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=4),
                               channel_base=128, channel_max=16)
    augment_kwargs = dnnlib.EasyDict(class_name="training.augment.AugmentPipe", xflip=1, rotate90=1, xint=1, scale=1,
                                     rotate=1, aniso=1, xfrac=1, brightness=1, contrast=1, lumaflip=1, hue=1,
                                     saturation=1)
    training_set_kwargs = dnnlib.EasyDict(class_name="training.dataset.ImageFolderDataset", path="~/datasets/tiny.zip",
                                          use_labels=False, max_size=100, xflip=False, resolution=16,
                                          random_seed=0)
    torch.manual_seed(40)
    common = dict(c_dim=0, img_resolution=16, img_channels=3)
    G = dnnlib.util.construct_class_by_name(**G_kwargs, **common).train().requires_grad_(False)
    D = dnnlib.util.construct_class_by_name(**D_kwargs, **common).train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()
    augment_pipe = dnnlib.util.construct_class_by_name(**augment_kwargs).train().requires_grad_(False)
    assert G.synthesis.num_fp16_res == 4 and G.synthesis.b16.conv1.conv_clamp == 256, "not the source defaults this expects"

    genuine.set_trained_scale(G, 41)
    genuine.set_trained_scale(D, 42)
    with torch.no_grad():
        G.synthesis.b8.conv1.bias[0] += 400.0  # past conv_clamp
        for _ in range(200):  # w_avg tracked by the mapping's own training-mode forward
            G.mapping(torch.randn([16, G.z_dim]), None, update_emas=True)
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.copy_(p)
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)
        for p in G.parameters():
            p.add_(0.05 * torch.randn_like(p))  # G moves on; an importer must take G_ema

    # training_loop.py's snapshot, line by line.
    snapshot_data = dict(G=G, D=D, G_ema=G_ema, augment_pipe=augment_pipe, training_set_kwargs=dict(training_set_kwargs))
    for key, value in snapshot_data.items():
        if isinstance(value, torch.nn.Module):
            value = copy.deepcopy(value).eval().requires_grad_(False)
            snapshot_data[key] = value.cpu()
        del value
    with open(os.path.join(OUT, "sg3repo_sg2.pkl"), "wb") as f:
        pickle.dump(snapshot_data, f)

    with open(os.path.join(OUT, "sg3repo_sg2.pkl"), "rb") as f:
        G = pickle.load(f)["G_ema"]
    entries = []
    for seed in SEEDS:
        z = torch.tensor([seeded_latents.latent(seed, G.z_dim, "normal")], dtype=torch.float32)
        for k, (psi, cutoff, noise) in enumerate(CASES):
            with torch.no_grad():
                img = G(z, None, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise)
                unclamped = unclamped_image(G, z, psi, cutoff, noise)
            name = f"sg3repo_sg2_s{seed}_case{k}.npy"
            np.save(os.path.join(OUT, name), np.ascontiguousarray(img.numpy().astype(np.float32)))
            clamp_effect = float((img - unclamped).abs().max())
            print(name, "max |image - image without the default clamp|:", clamp_effect)
            entries.append(dict(seed=seed, psi=psi, cutoff=cutoff, noise=noise, image=name, clamp_effect=clamp_effect))
    assert max(e["clamp_effect"] for e in entries) > 1e-2, "the default conv_clamp does not show"
    doc = dict(generator="tests/reference/make_stylegan3_repo_sg2.py", file="sg3repo_sg2.pkl", network="G_ema",
               num_fp16_res=G.synthesis.num_fp16_res, conv_clamp=G.synthesis.b16.conv1.conv_clamp, cases=entries)
    with open(os.path.join(OUT, "sg3repo_sg2.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def unclamped_image(G, z, psi, cutoff, noise):
    G = copy.deepcopy(G)
    for m in G.modules():
        if hasattr(m, "conv_clamp"):
            m.conv_clamp = None
    return G(z, None, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise)


if __name__ == "__main__":
    main()
