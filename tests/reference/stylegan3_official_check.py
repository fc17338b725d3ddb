#!/usr/bin/python3
"""Runs NVIDIA's own StyleGAN3 code (not part of actmap) on the CPU and writes what it computes, so
the C++ tests can compare actmap's stylegan3 family with the original, not only with actmap's own
float64 reference.

The official code is read from a checkout given on the command line (it is never copied here):
    git clone https://github.com/NVlabs/stylegan3 /tmp/stylegan3        # or any copy of it
    /usr/bin/python3 tests/reference/stylegan3_official_check.py /tmp/stylegan3
It needs python3-torch, python3-numpy and python3-scipy (the official filter design). On the CPU the
official filtered_lrelu, upfirdn2d and bias_act run their reference paths ("ref" ops).

For each small configuration below it builds training.networks_stylegan3.Generator(**kwargs), gives
every parameter and buffer random values (keeping the designed filters and the drawn frequencies),
writes its state dict as safetensors with a card holding the same kwargs, and records the image and
every synthesis module's output (forward hooks) for a batch of two latents at several truncation
and input-transform settings (the transform set exactly as gen_images.py sets it). Output:
tests/fixtures/stylegan3/official/.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "stylegan3", "official")

CONFIGS = {
    # T: 7 layers, a narrow margin, 5-tap-per-factor filters, a clamp that acts, output scale 0.5.
    "t32": dict(z_dim=6, c_dim=0, w_dim=12, img_resolution=32, img_channels=3,
                mapping_kwargs=dict(num_layers=3, lr_multiplier=0.05),
                channel_base=96, channel_max=10, num_layers=7, margin_size=7, filter_size=5, conv_clamp=0.9,
                output_scale=0.5, num_fp16_res=2),
    # R: 1x1 kernels, radial down filters, six layers at 16 pixels, the default clamp (256).
    "r16": dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
                channel_base=128, channel_max=12, num_layers=6, conv_kernel=1, use_radial_filters=True,
                magnitude_ema_beta=0.9),
}
CASES = [  # (truncation psi, cutoff, (translate, degrees) or None, taps written)
    (1.0, None, None, False),
    (0.65, 4, ((0.2, -0.35), 23.0), True),
    (1.0, None, ((-0.6, 0.1), 140.0), False),
]


def make_transform(translate, angle):  # gen_images.py's convention, restated
    m = np.eye(3)
    s, c = np.sin(angle / 360.0 * np.pi * 2), np.cos(angle / 360.0 * np.pi * 2)
    m[0][0], m[0][1], m[0][2] = c, s, translate[0]
    m[1][0], m[1][1], m[1][2] = -s, c, translate[1]
    return m


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    sys.path.insert(0, os.path.abspath(sys.argv[1]))
    import torch
    from training.networks_stylegan3 import Generator  # the official code
    sys.path.insert(0, HERE)
    from stylegan2_reference import write_safetensors  # noqa: E402

    torch.set_grad_enabled(False)
    os.makedirs(OUT, exist_ok=True)
    index = {}
    for n, (name, kwargs) in enumerate(CONFIGS.items()):
        torch.manual_seed(100 + n)
        G = Generator(**kwargs).eval()
        gen = torch.Generator().manual_seed(200 + n)
        keep = ("up_filter", "down_filter", "freqs", "phases", "transform")
        for key, t in list(G.named_parameters()) + list(G.named_buffers()):
            if key.endswith(keep):
                continue
            if key.endswith("magnitude_ema"):
                t.copy_(torch.rand([], generator=gen) * 2.5 + 0.3)
            elif key.endswith("w_avg"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5)
            elif key.endswith("input.affine.bias"):
                t.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]) + 0.2 * torch.randn(4, generator=gen))
            elif key.endswith("affine.bias"):
                t.copy_(1.0 + 0.2 * torch.randn(t.shape, generator=gen))
            elif key.endswith("bias"):
                t.copy_(0.2 * torch.randn(t.shape, generator=gen))
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * (0.3 if "input.affine" in key else 1.0))
        sd = {k: v.detach().numpy().astype(np.float32) for k, v in G.state_dict().items()}
        write_safetensors(os.path.join(OUT, name + ".safetensors"), sd)
        config = {k: v for k, v in kwargs.items()}
        card = {"actmap_model_card": 1, "name": name, "family": "stylegan3",
                "description": "random weights run through NVIDIA's stylegan3 code (tests/reference/stylegan3_official_check.py)",
                "license": "CC0-1.0 (generated test data)", "config": config, "weights": name + ".safetensors"}
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(card, f, indent=2)

        taps = {}
        hooks = [G.synthesis.input.register_forward_hook(lambda m, i, o: taps.__setitem__("input", o.clone()))]
        for lname in G.synthesis.layer_names:
            hooks.append(getattr(G.synthesis, lname).register_forward_hook(
                lambda m, i, o, lname=lname: taps.__setitem__(lname, o.clone())))
        z = torch.randn([2, G.z_dim], generator=gen)
        np.save(os.path.join(OUT, name + "_z.npy"), z.numpy().astype(np.float32))
        cases = []
        stored = G.synthesis.input.transform.clone()
        for ci, (psi, cutoff, transform, with_taps) in enumerate(CASES):
            if transform is None:
                G.synthesis.input.transform.copy_(stored)
            else:
                G.synthesis.input.transform.copy_(torch.from_numpy(np.linalg.inv(make_transform(*transform))))
            taps.clear()
            img = G(z, None, truncation_psi=psi, truncation_cutoff=cutoff)
            for s in range(2):
                np.save(os.path.join(OUT, f"{name}_case{ci}_s{s}_img.npy"), img[s:s + 1].numpy().astype(np.float32))
            if with_taps:
                for t, v in taps.items():
                    np.save(os.path.join(OUT, f"{name}_case{ci}_tap_{t}.npy"), v[:1].numpy().astype(np.float32))
            cases.append({"psi": psi, "cutoff": cutoff, "taps": with_taps,
                          "rotate": None if transform is None else transform[1],
                          "translate": None if transform is None else list(transform[0])})
        for h in hooks:
            h.remove()
        index[name] = {"cases": cases, "layers": list(G.synthesis.layer_names)}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
    print("wrote", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
