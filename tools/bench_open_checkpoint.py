#!/usr/bin/python3
"""Times opening a config-F sized (1024x1024, about 30 M parameters) StyleGAN2 checkpoint with
actmap-cli: the first time (hash, import, convert, check, load, render) and again from the cache.

  /usr/bin/python3 tools/bench_open_checkpoint.py --cli build/no-gui/src/cli/actmap-cli \\
      [--ada ADA_DIR] [--rosinality ROS_DIR] [--runs 3]

The checkpoints are written into a temporary folder and deleted afterwards (never commit them):
with --ada (a stylegan2-ada-pytorch checkout outside this repository) a network-snapshot pickle
as its training loop writes it (G, D, G_ema, augment_pipe; about 360 MB); with --rosinality a
checkpoint as rosinality's train.py writes it (g, d, g_ema, no average W, so the first open also
estimates it); with --tf and --ada a TensorFlow (G, D, Gs) pickle as NVIDIA's original release
writes it (the official weights in the TensorFlow layout). Without any of them, a torch.save'd state dict with the official names (random weights
from tools/random_stylegan2.py). Each run uses a fresh cache (XDG_CACHE_HOME) for the first open.
"""
import argparse
import copy
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def ada_snapshot(ada, path):
    sys.path.insert(0, ada)
    import dnnlib
    torch.manual_seed(0)
    G_kwargs = dict(class_name="training.networks.Generator", z_dim=512, w_dim=512,
                    mapping_kwargs=dnnlib.EasyDict(num_layers=8),
                    synthesis_kwargs=dnnlib.EasyDict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256))
    D_kwargs = dict(class_name="training.networks.Discriminator", channel_base=32768, channel_max=512, num_fp16_res=4,
                    conv_clamp=256, block_kwargs=dnnlib.EasyDict(), mapping_kwargs=dnnlib.EasyDict(),
                    epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=4))
    common = dict(c_dim=0, img_resolution=1024, img_channels=3)
    G = dnnlib.util.construct_class_by_name(**G_kwargs, **common).eval().requires_grad_(False)
    D = dnnlib.util.construct_class_by_name(**D_kwargs, **common).eval().requires_grad_(False)
    snapshot = dict(training_set_kwargs=dict(resolution=1024), G=G, D=D, G_ema=copy.deepcopy(G), augment_pipe=None)
    with open(path, "wb") as f:
        pickle.dump(snapshot, f)


def tf_pickle(ada, path):
    """(G, D, Gs) as NVIDIA's TensorFlow StyleGAN2 pickles them, from official weights (config F)."""
    sys.path.insert(0, ada)
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
    import make_genuine_checkpoints as g
    from training import networks
    torch.manual_seed(0)
    G = networks.Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                           synthesis_kwargs=dict(channel_base=32768, channel_max=512)).eval()
    D = networks.Discriminator(c_dim=0, img_resolution=1024, img_channels=3, channel_base=32768, channel_max=512,
                               epilogue_kwargs=dict(mbstd_group_size=4)).eval()
    kwargs = dict(num_channels=3, resolution=1024, label_size=0, fmap_base=16384)
    Network, saved = g.install_tf_network()
    try:
        def net(name, func, variables, components):
            return Network(dict(version=4, name=name, static_kwargs=dict(kwargs), components=components,
                                build_module_src="# (not included)\n", build_func_name=func, variables=variables))

        def generator(name):  # G and Gs hold arrays of their own, as in NVIDIA's files
            top, mapping, synthesis = g.tf_generator_variables(G)
            return net(name, "G_main", top, dict(mapping=net("G_mapping", "G_mapping", mapping, {}),
                                                 synthesis=net("G_synthesis", "G_synthesis_stylegan2", synthesis, {})))

        with open(path, "wb") as f:
            pickle.dump((generator("G"), net("D", "D_stylegan2", g.tf_discriminator_variables(D), {}), generator("Gs")),
                        f, protocol=4)
    finally:
        g.restore_modules(saved)


def rosinality_checkpoint(ros, path):
    import torch.utils.cpp_extension as ext
    ext.load = lambda *a, **k: types.SimpleNamespace()  # op/ builds CUDA kernels at import; unused on the CPU
    sys.path.insert(0, ros)
    import model
    torch.manual_seed(0)
    g = model.Generator(1024, 512, 8, channel_multiplier=2)
    d = model.Discriminator(1024, channel_multiplier=2)
    g_ema = copy.deepcopy(g)
    optims = []
    for net in (g, d):  # Adam after one step holds two moments per parameter, as train.py saves them
        opt = torch.optim.Adam(net.parameters(), lr=0.002, betas=(0, 0.99))
        for p in net.parameters():
            p.grad = torch.zeros_like(p)
        opt.step()
        optims.append(opt)
    torch.save({"g": g.state_dict(), "d": d.state_dict(), "g_ema": g_ema.state_dict(), "g_optim": optims[0].state_dict(),
                "d_optim": optims[1].state_dict(), "args": argparse.Namespace(size=1024, latent=512, n_mlp=8),
                "ada_aug_p": 0.0}, path)


def state_dict_checkpoint(path):
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
    import stylegan2_reference as ref
    cfg = dict(z_dim=512, w_dim=512, num_layers=8, lr_multiplier=0.01, img_resolution=1024, img_channels=3,
               channel_base=32768, channel_max=512, conv_clamp=256, architecture="skip")
    params = ref.random_params(cfg, np.random.default_rng(0))
    torch.save({"G_ema": {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in params.items()}}, path)


def timed(cmd, env):
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return dt, r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--ada")
    ap.add_argument("--rosinality")
    ap.add_argument("--tf", action="store_true", help="also an NVIDIA TensorFlow pickle (needs --ada)")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    cli = os.path.abspath(a.cli)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        if a.ada:
            files.append(("stylegan2-ada-pytorch network-snapshot", os.path.join(tmp, "network-snapshot-000000.pkl"),
                          lambda p: ada_snapshot(a.ada, p)))
        if a.tf and a.ada:
            files.append(("NVIDIA TensorFlow pickle (G, D, Gs)", os.path.join(tmp, "stylegan2-config-f.pkl"),
                          lambda p: tf_pickle(a.ada, p)))
        if a.rosinality:
            files.append(("rosinality train.py checkpoint", os.path.join(tmp, "000000.pt"),
                          lambda p: rosinality_checkpoint(a.rosinality, p)))
        if not files:
            files.append(("state dict (official names)", os.path.join(tmp, "g_ema.pt"), state_dict_checkpoint))
        for label, path, make in files:
            make(path)
            size = os.path.getsize(path) / 1e6
            firsts, cached = [], []
            for run in range(a.runs):
                env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, f"cache{run}"))
                cmd = [cli, "render", "-m", path, "--seed", "0", "-o", os.path.join(tmp, "out.png")]
                dt, out = timed(cmd, env)
                assert "converted" in out, out
                firsts.append(dt)
                dt, out = timed(cmd, env)
                assert "converted" not in out, out
                cached.append(dt)
                render_ms = re.search(r"([0-9.]+) ms\)", out)
            print(f"{label}: {size:.0f} MB; first open + render: median {np.median(firsts):.2f} s "
                  f"(runs {', '.join(f'{x:.2f}' for x in firsts)}); from the cache: median {np.median(cached):.2f} s "
                  f"(runs {', '.join(f'{x:.2f}' for x in cached)}; the render itself {render_ms.group(1) if render_ms else '?'} ms)")
            os.remove(path)


if __name__ == "__main__":
    main()
