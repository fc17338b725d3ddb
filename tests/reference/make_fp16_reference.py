#!/usr/bin/python3
"""Renders the genuine fp16 snapshot (tests/fixtures/checkpoints/genuine/ada_uncond_fp16.pkl) with
the original code's float16 path, on the CPU, for actmap's float16 blocks (--fp16 on CUDA); and
writes and renders ada_resnet_fp16.pkl the same way (the resnet architecture's float16 skip
branch): tests/fixtures/checkpoints/genuine/fp16_emulated.json and fp16_*.npy (the float16 path
and, as *_float32.npy, the same cases in float32), with every tap's value on the float16 path
(fp16_*_taps.safetensors, float32 copies, named as actmap names its taps).

  /usr/bin/python3 tests/reference/make_fp16_reference.py --ada ADA_DIR

ADA_DIR is a checkout of NVIDIA's stylegan2-ada-pytorch outside this repository (its code is never
committed here; see make_genuine_checkpoints.py).

The CPU has no float16 convolutions (Debian's torch: "slow_conv2d_cpu" not implemented for
'Half'), so the original's float16 blocks run here in bfloat16 instead: torch.float16 is bfloat16
while the network runs. Everything else is the original's own code: SynthesisBlock's casts,
modulated_conv2d's pre-normalisation and its fused (batch 1) and non-fused (larger batches) forms,
the float32 ToRGB result, fma. Two ops are wrapped to compute as their CUDA kernels do, which is
what runs on a GPU: bias_act and upfirdn2d take float16 (here bfloat16) tensors, compute in
float32 and round once (their reference implementations, used on the CPU, round after every step).
Convolutions likewise compute in float32 and round once (cuDNN accumulates float16 convolutions in
float32; and Debian's torch 1.13 gets the shape of a bfloat16 conv_transpose2d wrong on the CPU).

actmap runs the same path on the CPU in bfloat16 when ACTMAP_TEST_CPU_BFLOAT16=1 (tests only), and
tests/fetch/test_model_file.cpp compares the two.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "checkpoints", "genuine")
sys.path.insert(0, HERE)
import seeded_latents  # noqa: E402
import stylegan2_reference as ref  # noqa: E402

CASES = [  # (seeds in one batch, psi, cutoff, noise)
    ([0], 1.0, None, "const"),
    ([1], 1.0, None, "const"),
    ([0], 0.5, 2, "const"),
    ([1], 1.0, None, "none"),
    ([0, 1], 1.0, None, "const"),  # batch 2: the non-fused form (styles and demodulation on the activations)
    ([0, 1], 0.7, None, "none"),
    ([0, 1], 1.0, None, "const", True),  # fused at batch 2 (fused_modconv=True, the stylegan3 repository's default)
]
RESNET_CASES = [
    ([0], 1.0, None, "const"),
    ([1], 0.7, None, "none"),
    ([0, 1], 1.0, None, "const"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ada", required=True, help="a checkout of stylegan2-ada-pytorch")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.ada))
    import legacy
    from torch_utils.ops import bias_act, upfirdn2d

    with open(os.path.join(OUT, "ada_uncond_fp16.pkl"), "rb") as f:
        G = legacy.load_network_pkl(f)["G_ema"].eval()
    resnet = build_resnet()

    reduced = torch.bfloat16
    plain_bias_act, plain_upfirdn2d = bias_act.bias_act, upfirdn2d.upfirdn2d

    def kernel_bias_act(x, b=None, *a, **k):
        if x.dtype != reduced:
            return plain_bias_act(x, b, *a, **k)
        return plain_bias_act(x.float(), None if b is None else b.float(), *a, **k).to(reduced)

    def kernel_upfirdn2d(x, f, *a, **k):
        if x.dtype != reduced:
            return plain_upfirdn2d(x, f, *a, **k)
        return plain_upfirdn2d(x.float(), f, *a, **k).to(reduced)

    bias_act.bias_act, upfirdn2d.upfirdn2d = kernel_bias_act, kernel_upfirdn2d

    # Convolutions of bfloat16 tensors in float32, rounded once (float32 accumulation, as cuDNN's
    # float16 convolutions; Debian's torch 1.13 also gives conv_transpose2d in bfloat16 a wrong
    # shape on the CPU).
    fn = torch.nn.functional
    plain_conv2d, plain_conv_transpose2d = fn.conv2d, fn.conv_transpose2d

    def rounded_once(op):
        def run(input, weight, *a, **k):
            if input.dtype != reduced:
                return op(input, weight, *a, **k)
            return op(input.float(), weight.float(), *a, **k).to(reduced)
        return run

    fn.conv2d, fn.conv_transpose2d = rounded_once(plain_conv2d), rounded_once(plain_conv_transpose2d)
    half = torch.float16
    docs = {}
    for file, net, cases in [("ada_uncond_fp16.pkl", G, CASES), ("ada_resnet_fp16.pkl", resnet, RESNET_CASES)]:
        docs[file] = render_cases(net, cases, file.replace("ada_", "fp16_").replace("_fp16.pkl", ""), half, reduced)
    doc = dict(generator="tests/reference/make_fp16_reference.py", reduced_type="bfloat16", files=docs)
    with open(os.path.join(OUT, "fp16_emulated.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def build_resnet():
    """ada_resnet_fp16.pkl: an official Generator with the resnet architecture (its float16 blocks
    add a float16 skip branch), num_fp16_res 2, conv_clamp 256, tiny channels, seeded weights at a
    trained scale; pickled as {"G_ema": G} with its persistent class (module source embedded)."""
    import pickle
    import dnnlib
    import make_genuine_checkpoints as genuine
    torch.manual_seed(30)
    G = dnnlib.util.construct_class_by_name(
        class_name="training.networks.Generator", z_dim=6, w_dim=8, c_dim=0, img_resolution=16, img_channels=3,
        mapping_kwargs=dict(num_layers=2),
        synthesis_kwargs=dict(channel_base=128, channel_max=16, num_fp16_res=2, conv_clamp=256, architecture="resnet"))
    G = G.eval().requires_grad_(False)
    genuine.set_trained_scale(G, 31)
    with torch.no_grad():
        G.mapping.w_avg.copy_(0.5 * torch.randn(G.w_dim, generator=torch.Generator().manual_seed(32)))
    with open(os.path.join(OUT, "ada_resnet_fp16.pkl"), "wb") as f:
        pickle.dump(dict(G_ema=G), f)
    return G


CAPTURED = {}


def capture_taps(G):
    """Hooks that keep, under actmap's tap names, what each tap holds in the original's forward:
    bN.conv0 and bN.torgb are those layers' outputs; bN.conv1 and bN.img the block's x and img (for
    resnet blocks x is conv1's output plus the skip branch)."""
    hooks = []
    syn = G.synthesis
    for res in syn.block_resolutions:
        block = getattr(syn, f"b{res}")

        def keep(name, index=None):
            def hook(module, inputs, output):
                CAPTURED[name] = (output if index is None else output[index]).detach().clone()
            return hook
        if res > 4:
            hooks.append(block.conv0.register_forward_hook(keep(f"b{res}.conv0")))
        hooks.append(block.register_forward_hook(keep(f"b{res}.conv1", 0)))
        if hasattr(block, "torgb"):
            hooks.append(block.torgb.register_forward_hook(keep(f"b{res}.torgb")))
        if block.architecture == "skip" and res > 4:
            hooks.append(block.register_forward_hook(keep(f"b{res}.img", 1)))
    return hooks


def render_cases(G, cases, prefix, half, reduced):
    """The original's float16 path (in `reduced`) for every case, and its float32 images."""
    entries = []
    for k, (seeds, psi, cutoff, noise, *fused) in enumerate(cases):
        extra = dict(fused_modconv=True) if fused else {}
        z = torch.tensor([seeded_latents.latent(s, G.z_dim, "normal") for s in seeds], dtype=torch.float32)
        c = torch.zeros([len(seeds), G.c_dim])
        hooks = capture_taps(G)
        with torch.no_grad():
            torch.float16 = reduced
            try:
                img = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise, **extra)
            finally:
                torch.float16 = half
                for h in hooks:
                    h.remove()
            taps = {name: t.float().numpy() for name, t in CAPTURED.items()}
            CAPTURED.clear()
            exact = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise, force_fp32=True)
        assert img.dtype == torch.float32
        name, exact_name = f"{prefix}_case{k}.npy", f"{prefix}_case{k}_float32.npy"
        np.save(os.path.join(OUT, name), np.ascontiguousarray(img.numpy().astype(np.float32)))
        np.save(os.path.join(OUT, exact_name), np.ascontiguousarray(exact.numpy().astype(np.float32)))
        taps_name = f"{prefix}_case{k}_taps.safetensors"
        ref.write_safetensors(os.path.join(OUT, taps_name), taps)
        gap = (img - exact).abs()
        entries.append(dict(seeds=seeds, psi=psi, cutoff=cutoff, noise=noise, image=name, float32_image=exact_name,
                            taps=taps_name, float32_max_diff=float(gap.max()), float32_mean_diff=float(gap.mean()),
                            **extra))
        print(name, seeds, psi, cutoff, noise, "vs float32: max", float(gap.max()), "mean", float(gap.mean()))
    lowest = min(b.resolution for b in (getattr(G.synthesis, f"b{r}") for r in G.synthesis.block_resolutions) if b.use_fp16)
    return dict(network="G_ema", fp16_resolution=lowest, cases=entries)


if __name__ == "__main__":
    main()
