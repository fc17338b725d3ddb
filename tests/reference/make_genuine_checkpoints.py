#!/usr/bin/python3
"""Writes StyleGAN2 checkpoints with the original code, exactly as the originals save them, and the
images that code renders from them: tests/fixtures/checkpoints/genuine/.

  /usr/bin/python3 tests/reference/make_genuine_checkpoints.py --ada ADA_DIR --rosinality ROS_DIR

ADA_DIR is a checkout of NVIDIA's stylegan2-ada-pytorch and ROS_DIR one of rosinality's
stylegan2-pytorch, both OUTSIDE this repository (their code is never committed here), e.g.

  git clone https://github.com/NVlabs/stylegan2-ada-pytorch /tmp/scratch/ada
  git clone https://github.com/rosinality/stylegan2-pytorch /tmp/scratch/rosinality

(actmap's own sessions fetched them with the `fetch` tool and `git archive HEAD | tar -x`.) Runs on
the CPU with Debian's python3-torch (cmake/install-deps.sh --dev) and python3-click (which
legacy.py imports) in under a minute. It writes:

- ada_uncond_fp16.pkl: a stylegan2-ada-pytorch snapshot as training/training_loop.py writes it
  (dict(training_set_kwargs, G, D, G_ema, augment_pipe) through pickle.dump, every network a
  persistent class with its module source embedded), unconditional, num_fp16_res = 2 and
  conv_clamp = 256 as the training defaults, tiny channels. The networks are built the way the
  training loop builds them (construct_class_by_name on the train.py kwargs, G_ema a deep copy of
  G); G's weights are then set to seeded values at the scale of a trained network, its w_avg is
  tracked by the mapping network's own training-mode forward, G_ema takes them as the loop's
  resume does, and after one more change to G, G_ema follows it by the loop's EMA formula, so G and
  G_ema differ (an importer must pick G_ema).
- ada_cond.pkl: the same, conditional (c_dim = 3), num_fp16_res = 0.
- rosinality_train_000000.pt: written by rosinality's own train.py `train()` after one step
  (torch.save of g, d, g_ema, g_optim, d_optim, args, ada_aug_p; no latent_avg), on the CPU, with
  two changes made in memory only: the CUDA extension build of op/ is replaced by a dummy (on the
  CPU op/ uses its native code paths anyway) and the channel table of model.py is scaled down
  (4, 8: 16; 16: 8 channels) so the file stays small. torchvision, tqdm, lmdb and PIL, which
  train.py imports for image grids, progress bars and its dataset, are stand-ins.
- tf_stylegan2.pkl: a pickle of (G, D, Gs) as NVIDIA's TensorFlow StyleGAN2 writes it (protocol 4,
  each network a dnnlib.tflib.network.Network whose __getstate__ dict holds version, name,
  static_kwargs, components, build_module_src, build_func_name and variables as numpy arrays). The
  variables are an official PyTorch generator's (and discriminator's) weights laid out the TF way
  (the inverse of legacy.py's conversion); stylegan2-ada-pytorch's legacy.load_network_pkl
  converts the file back and must give those weights exactly, which this script checks.
- tf_tiny_p4.pkl and tf_tiny_p5.pkl: a conditional 4x4 TensorFlow generator pickled with protocols
  4 and 5 (numpy arrays as _reconstruct and as _frombuffer, one in Fortran order), and
  tf_tiny_expected.safetensors, the state_dict of the official generator they were made from.
- d_only.pkl (a pickle holding only D), optimizer_state.pt (torch.save of an Adam state_dict):
  files that are not generators.
- For every generator, index.json and NAME_*.npy: the original code's images ([1, C, H, W],
  float32) for actmap's seeded latents (tests/reference/seeded_latents.py) with truncation and noise
  cases, and for the rosinality checkpoint the average W actmap must estimate: the mean of the
  mapping over the latents of seeds 0..4095 (what rosinality's generate.py does with
  mean_latent(4096), on seeded latents instead of torch.randn).
"""
import argparse
import copy
import importlib
import io
import json
import os
import pickle
import random
import re
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "checkpoints", "genuine")
sys.path.insert(0, HERE)
import seeded_latents  # noqa: E402

W_AVG_SAMPLES = 4096  # rosinality generate.py's --truncation_mean default; actmap uses seeds 0..4095
CASES = [  # (psi, cutoff, noise)
    (1.0, None, "const"),
    (0.5, 2, "const"),
    (1.0, None, "none"),
    (0.7, None, "none"),
]
SEEDS = [0, 1]


def z_of(seed, dim):
    return torch.tensor([seeded_latents.latent(seed, dim, "normal")], dtype=torch.float32)


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


# ---------------------------------------------------------------------------------------------
# stylegan2-ada-pytorch

def set_trained_scale(module, seed):
    """Seeded weights at the scale of a trained network: every parameter gets values around its
    initial ones (noise strengths and biases away from zero, affine biases around 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if name.endswith("noise_strength"):
                p.copy_(0.3 * noise)
            elif name.endswith(".bias"):
                p.add_(0.2 * noise)
            elif name.endswith(".const"):
                p.copy_(noise)
            else:
                p.add_(0.1 * noise * p.abs().mean().clamp(min=1e-3))


def build_ada(ada_dir, c_dim, num_fp16_res, seed):
    sys.path.insert(0, ada_dir)
    import dnnlib
    from training import augment  # noqa: F401 (the class is constructed by name below)

    # train.py's kwargs (the 'auto' config's layout), scaled down.
    G_kwargs = dnnlib.EasyDict(class_name="training.networks.Generator", z_dim=6, w_dim=8,
                               mapping_kwargs=dnnlib.EasyDict(), synthesis_kwargs=dnnlib.EasyDict())
    D_kwargs = dnnlib.EasyDict(class_name="training.networks.Discriminator", block_kwargs=dnnlib.EasyDict(),
                               mapping_kwargs=dnnlib.EasyDict(), epilogue_kwargs=dnnlib.EasyDict())
    G_kwargs.synthesis_kwargs.channel_base = D_kwargs.channel_base = 128
    G_kwargs.synthesis_kwargs.channel_max = D_kwargs.channel_max = 16
    G_kwargs.mapping_kwargs.num_layers = 2
    G_kwargs.synthesis_kwargs.num_fp16_res = D_kwargs.num_fp16_res = num_fp16_res
    G_kwargs.synthesis_kwargs.conv_clamp = D_kwargs.conv_clamp = 256
    D_kwargs.epilogue_kwargs.mbstd_group_size = 4
    augment_kwargs = dnnlib.EasyDict(class_name="training.augment.AugmentPipe", xflip=1, rotate90=1, xint=1, scale=1,
                                     rotate=1, aniso=1, xfrac=1, brightness=1, contrast=1, lumaflip=1, hue=1,
                                     saturation=1)
    training_set_kwargs = dnnlib.EasyDict(class_name="training.dataset.ImageFolderDataset", path="~/datasets/tiny.zip",
                                          use_labels=c_dim > 0, max_size=100, xflip=False, resolution=16)
    # training_loop.py: construct, G_ema a deep copy.
    torch.manual_seed(seed)
    common_kwargs = dict(c_dim=c_dim, img_resolution=16, img_channels=3)
    G = dnnlib.util.construct_class_by_name(**G_kwargs, **common_kwargs).train().requires_grad_(False)
    D = dnnlib.util.construct_class_by_name(**D_kwargs, **common_kwargs).train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()
    augment_pipe = dnnlib.util.construct_class_by_name(**augment_kwargs).train().requires_grad_(False)
    augment_pipe.p.copy_(torch.as_tensor(0.2))

    # "Training": weights at a trained scale and w_avg tracked by the mapping's own forward, taken
    # into G_ema as the loop's resume does (misc.copy_params_and_buffers); then G moves on for a
    # tick and G_ema follows by the loop's EMA formula (ema_beta = 0.5 ** (batch / ema_nimg)), so
    # G and G_ema differ (an importer must pick G_ema).
    set_trained_scale(G, seed + 1)
    set_trained_scale(D, seed + 2)
    from torch_utils import misc
    with torch.no_grad():
        for step in range(400):
            z = torch.randn([16, G.z_dim])
            c = torch.nn.functional.one_hot(torch.randint(c_dim, [16]), c_dim).float() if c_dim else None
            G.mapping(z, c)
        misc.copy_params_and_buffers(G, G_ema, require_all=True)
        for p in G.parameters():
            p.add_(0.05 * torch.randn_like(p))
        ema_beta = 0.5 ** (16 / 10000.0)
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.copy_(p.lerp(p_ema, ema_beta))
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)

    # training_loop.py's snapshot, line by line.
    snapshot_data = dict(training_set_kwargs=dict(training_set_kwargs))
    for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment_pipe)]:
        if module is not None:
            module = copy.deepcopy(module).eval().requires_grad_(False).cpu()
        snapshot_data[name] = module
        del module
    buf = io.BytesIO()
    pickle.dump(snapshot_data, buf)
    return buf.getvalue()


def load_ada_pickle(ada_dir, data):
    sys.path.insert(0, ada_dir)
    import legacy
    return legacy.load_network_pkl(io.BytesIO(data))


def ada_reference(name, G, classes):
    """Images of the official G for every seed, case and class; index entries."""
    entries = []
    G = G.eval()
    for seed in SEEDS:
        z = z_of(seed, G.z_dim)
        for label, c in classes:
            for k, (psi, cutoff, noise) in enumerate(CASES):
                with torch.no_grad():
                    img = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise, force_fp32=True)
                file = f"{name}_s{seed}_{label}_case{k}.npy"
                save_npy(file, img.numpy())
                entries.append(dict(seed=seed, psi=psi, cutoff=cutoff, noise=noise, image=file, **label_fields(label, c)))
    return entries


def label_fields(label, c):
    if label == "uncond":
        return {}
    if label.startswith("class"):
        return {"class": int(label[5:])}
    return {"c": [float(x) for x in c[0]]}


# ---------------------------------------------------------------------------------------------
# NVIDIA's TensorFlow pickles: a stand-in dnnlib.tflib.network.Network that pickles as the real
# one does (its __getstate__ dict), holding the TF layout of official PyTorch weights.

def install_tf_network():
    names = ["dnnlib", "dnnlib.tflib", "dnnlib.tflib.network"]
    saved = {n: sys.modules.get(n) for n in names}
    mod = types.ModuleType("dnnlib.tflib.network")

    class Network:
        def __init__(self, state):
            self._state = state

        def __getstate__(self):
            return self._state

    Network.__module__ = "dnnlib.tflib.network"
    Network.__qualname__ = "Network"
    mod.Network = Network
    tflib = types.ModuleType("dnnlib.tflib")
    tflib.network = mod
    root = types.ModuleType("dnnlib")
    root.tflib = tflib
    sys.modules.update({"dnnlib": root, "dnnlib.tflib": tflib, "dnnlib.tflib.network": mod})
    return Network, saved


def restore_modules(saved):
    for n, m in saved.items():
        if m is None:
            sys.modules.pop(n, None)
        else:
            sys.modules[n] = m


def conv_to_tf(w, flip=False):
    t = w.detach().numpy().transpose(2, 3, 1, 0)  # [O, I, kh, kw] -> [kh, kw, I, O]
    return np.ascontiguousarray(t[::-1, ::-1] if flip else t)


def tf_generator_variables(G):
    """The inverse of legacy.py convert_tf_generator: official names -> TF variables per network."""
    top, mapping, synthesis = [], [], []
    sd = {k: v.detach() for k, v in G.state_dict().items()}
    top.append(("lod", np.float32(0.0)))
    top.append(("dlatent_avg", sd["mapping.w_avg"].numpy()))
    i = 0
    while f"mapping.fc{i}.weight" in sd:
        mapping.append((f"Dense{i}/weight", np.ascontiguousarray(sd[f"mapping.fc{i}.weight"].numpy().T)))
        mapping.append((f"Dense{i}/bias", sd[f"mapping.fc{i}.bias"].numpy()))
        i += 1
    if "mapping.embed.weight" in sd:
        mapping.append(("LabelEmbed/weight", np.ascontiguousarray(sd["mapping.embed.weight"].numpy().T)))
        mapping.append(("LabelEmbed/bias", sd["mapping.embed.bias"].numpy()))
    res = 4
    while f"synthesis.b{res}.conv1.weight" in sd:
        p, q = f"synthesis.b{res}.", f"{res}x{res}/"
        layers = [("conv1", "Conv" if res == 4 else "Conv1", False, 0 if res == 4 else int(np.log2(res)) * 2 - 4)]
        if res == 4:
            synthesis.append((q + "Const/const", sd[p + "const"].numpy()[None]))
        else:
            layers.insert(0, ("conv0", "Conv0_up", True, int(np.log2(res)) * 2 - 5))
        for layer, tf_name, flip, noise in layers:
            synthesis.append((q + tf_name + "/weight", conv_to_tf(sd[p + layer + ".weight"], flip)))
            synthesis.append((q + tf_name + "/mod_weight", np.ascontiguousarray(sd[p + layer + ".affine.weight"].numpy().T)))
            synthesis.append((q + tf_name + "/mod_bias", sd[p + layer + ".affine.bias"].numpy() - 1))
            synthesis.append((q + tf_name + "/noise_strength", np.float32(sd[p + layer + ".noise_strength"].item())))
            synthesis.append((q + tf_name + "/bias", sd[p + layer + ".bias"].numpy()))
            synthesis.append((f"noise{noise}", sd[p + layer + ".noise_const"].numpy()[None, None]))
        if p + "torgb.weight" in sd:
            synthesis.append((q + "ToRGB/weight", conv_to_tf(sd[p + "torgb.weight"])))
            synthesis.append((q + "ToRGB/mod_weight", np.ascontiguousarray(sd[p + "torgb.affine.weight"].numpy().T)))
            synthesis.append((q + "ToRGB/mod_bias", sd[p + "torgb.affine.bias"].numpy() - 1))
            synthesis.append((q + "ToRGB/bias", sd[p + "torgb.bias"].numpy()))
        res *= 2
    return top, mapping, synthesis


def tf_discriminator_variables(D):
    """The inverse of legacy.py convert_tf_discriminator for a resnet D without labels."""
    out = []
    for name, v in D.state_dict().items():
        v = v.detach().numpy()
        if name.endswith("resample_filter"):
            continue
        m = re.fullmatch(r"b(\d+)\.(fromrgb|conv0|conv1|skip)\.(weight|bias)", name)
        if m:
            r, layer, kind = m.groups()
            tf_layer = {"fromrgb": "FromRGB", "conv0": "Conv0", "conv1": "Conv1_down", "skip": "Skip"}[layer]
            out.append((f"{r}x{r}/{tf_layer}/{kind}", conv_to_tf(torch.from_numpy(v)) if kind == "weight" else v))
            continue
        m = re.fullmatch(r"b4\.(conv|fc|out)\.(weight|bias)", name)
        if not m:
            raise ValueError(f"no TF name for D parameter {name}")
        layer, kind = m.groups()
        tf_layer = {"conv": "4x4/Conv", "fc": "4x4/Dense0", "out": "Output"}[layer]
        if kind == "bias":
            out.append((f"{tf_layer}/bias", v))
        elif layer == "conv":
            out.append((f"{tf_layer}/weight", conv_to_tf(torch.from_numpy(v))))
        else:
            out.append((f"{tf_layer}/weight", np.ascontiguousarray(v.T)))
    return out


def safetensors_bytes(tensors):
    """A minimal safetensors writer (F32), so expected values need no extra package."""
    import struct
    header, blobs, offset = {}, [], 0
    for k in sorted(tensors):
        b = tensors[k].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def build_tf_tiny(ada_dir, seed):
    """A conditional 4x4 TF generator pickled with protocol 4 (numpy _reconstruct) and protocol 5
    (numpy _frombuffer, one array in Fortran order), and the official generator's state_dict the
    conversion must give (without the resample_filter buffers, which are not weights)."""
    sys.path.insert(0, ada_dir)
    from training import networks
    torch.manual_seed(seed)
    G = networks.Generator(z_dim=2, c_dim=2, w_dim=2, img_resolution=4, img_channels=3,
                           mapping_kwargs=dict(num_layers=1), synthesis_kwargs=dict(channel_base=8, channel_max=2)).eval()
    set_trained_scale(G, seed + 1)
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(2))
    kwargs = dict(num_channels=3, resolution=4, label_size=2, latent_size=2, dlatent_size=2, mapping_layers=1,
                  fmap_base=4, fmap_max=2)
    out = []
    for protocol in (4, 5):
        Network, saved = install_tf_network()
        try:
            top, mapping, synthesis = tf_generator_variables(G)
            if protocol == 5:
                synthesis = [(k, np.asfortranarray(v) if k.endswith("Conv/weight") else v) for k, v in synthesis]

            def net(name, func, variables, components):
                return Network(dict(version=4, name=name, static_kwargs=dict(kwargs), components=components,
                                    build_module_src="# (not included)\n", build_func_name=func, variables=variables))

            gs = net("G", "G_main", top, dict(mapping=net("G_mapping", "G_mapping", mapping, {}),
                                               synthesis=net("G_synthesis", "G_synthesis_stylegan2", synthesis, {})))
            out.append(pickle.dumps((gs, net("D", "D_stylegan2", [], {}), gs), protocol=protocol))
        finally:
            restore_modules(saved)
    expected = {k: v for k, v in G.state_dict().items() if not k.endswith("resample_filter")}
    return out[0], out[1], safetensors_bytes(expected)


def build_tf(ada_dir, seed):
    sys.path.insert(0, ada_dir)
    from training import networks
    torch.manual_seed(seed)
    kwargs = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3,
                  mapping_kwargs=dict(num_layers=2, lr_multiplier=0.01),
                  synthesis_kwargs=dict(channel_base=64, channel_max=16, architecture="skip"))
    Gs = networks.Generator(**kwargs).eval()
    G = networks.Generator(**kwargs).eval()
    D = networks.Discriminator(c_dim=0, img_resolution=8, img_channels=3, channel_base=64, channel_max=16,
                               epilogue_kwargs=dict(mbstd_group_size=4)).eval()
    set_trained_scale(Gs, seed + 1)
    set_trained_scale(G, seed + 2)
    set_trained_scale(D, seed + 3)
    with torch.no_grad():
        Gs.mapping.w_avg.copy_(torch.randn(8) * 0.5)
        G.mapping.w_avg.copy_(torch.randn(8) * 0.5)
    static_kwargs = dict(num_channels=3, resolution=8, label_size=0, latent_size=8, dlatent_size=8,
                         mapping_layers=2, fmap_base=32, fmap_max=16, architecture="skip")
    d_kwargs = dict(num_channels=3, resolution=8, label_size=0, fmap_base=32, fmap_max=16, mbstd_group_size=4)
    Network, saved = install_tf_network()
    try:
        def net(name, func, kwargs, variables, components):
            return Network(dict(version=4, name=name, static_kwargs=dict(kwargs), components=components,
                                build_module_src="# networks_stylegan2.py (not included in this fixture)\n",
                                build_func_name=func, variables=variables))

        def generator(module, name):
            top, mapping, synthesis = tf_generator_variables(module)
            comps = dict(mapping=net("G_mapping", "G_mapping", static_kwargs, mapping, {}),
                         synthesis=net("G_synthesis", "G_synthesis_stylegan2", static_kwargs, synthesis, {}))
            return net(name, "G_main", static_kwargs, top, comps)

        data = pickle.dumps((generator(G, "G"), net("D", "D_stylegan2", d_kwargs, tf_discriminator_variables(D), {}),
                             generator(Gs, "Gs")), protocol=4)
    finally:
        restore_modules(saved)
    # The official converter must give back exactly these weights.
    converted = load_ada_pickle(ada_dir, data)
    for theirs, ours in [(converted["G_ema"], Gs), (converted["G"], G), (converted["D"], D)]:
        a, b = theirs.state_dict(), ours.state_dict()
        assert a.keys() == b.keys(), set(a) ^ set(b)
        for k in a:
            assert torch.equal(a[k], b[k]), k
    return data, converted["G_ema"]


# ---------------------------------------------------------------------------------------------
# rosinality/stylegan2-pytorch: train.py's own train() for one step.

def install_rosinality_standins():
    import torch.utils.cpp_extension as ext
    ext.load = lambda *a, **k: types.SimpleNamespace()  # op/ builds CUDA kernels at import; unused on the CPU

    class Bar:
        def __init__(self, it, **kw):
            self.it = it

        def __iter__(self):
            return iter(self.it)

        def set_description(self, *a, **k):
            pass

    stubs = {
        "tqdm": types.SimpleNamespace(tqdm=Bar),
        "torchvision": types.ModuleType("torchvision"),
        "lmdb": types.ModuleType("lmdb"),
        "PIL": types.ModuleType("PIL"),
        "PIL.Image": types.ModuleType("PIL.Image"),
    }
    stubs["torchvision"].transforms = types.SimpleNamespace()
    stubs["torchvision"].utils = types.SimpleNamespace(save_image=lambda *a, **k: None)
    stubs["PIL"].Image = stubs["PIL.Image"]
    sys.modules.update(stubs)


def rosinality_model_module(ros_dir):
    """model.py with its channel table scaled down (in memory), as module 'model'."""
    src = open(os.path.join(ros_dir, "model.py")).read()
    small = {"4": "16", "8": "16", "16": "8", "32": "8"}

    def shrink(m):
        return re.sub(r"(\d+): 512,", lambda n: f"{n.group(1)}: {small.get(n.group(1), '512')},", m.group(0))

    src, n = re.subn(r"channels = \{[^}]*\}", shrink, src)
    assert n == 2, "expected the Generator's and Discriminator's channel tables in model.py"
    module = types.ModuleType("model")
    module.__file__ = os.path.join(ros_dir, "model.py")
    sys.modules["model"] = module
    exec(compile(src, module.__file__, "exec"), module.__dict__)
    return module


def build_rosinality(ros_dir, workdir, seed):
    install_rosinality_standins()
    sys.path.insert(0, ros_dir)
    model = rosinality_model_module(ros_dir)
    train = importlib.import_module("train")
    torch.manual_seed(seed)
    random.seed(seed)  # train.py's mixing_noise draws from Python's random
    size, latent, n_mlp = 16, 8, 3
    args = argparse.Namespace(path="tiny-lmdb", arch="stylegan2", iter=1, batch=4, n_sample=4, size=size, r1=10,
                              path_regularize=2, path_batch_shrink=2, d_reg_every=16, g_reg_every=4, mixing=0.9,
                              ckpt=None, lr=0.002, channel_multiplier=2, wandb=False, local_rank=0, augment=False,
                              augment_p=0, ada_target=0.6, ada_length=500000, ada_every=256, distributed=False,
                              latent=latent, n_mlp=n_mlp, start_iter=0)
    # train.py's __main__, on the CPU.
    generator = model.Generator(size, latent, n_mlp, channel_multiplier=args.channel_multiplier)
    discriminator = model.Discriminator(size, channel_multiplier=args.channel_multiplier)
    g_ema = model.Generator(size, latent, n_mlp, channel_multiplier=args.channel_multiplier)
    g_ema.eval()
    train.accumulate(g_ema, generator, 0)
    g_reg_ratio = args.g_reg_every / (args.g_reg_every + 1)
    d_reg_ratio = args.d_reg_every / (args.d_reg_every + 1)
    g_optim = torch.optim.Adam(generator.parameters(), lr=args.lr * g_reg_ratio, betas=(0 ** g_reg_ratio, 0.99 ** g_reg_ratio))
    d_optim = torch.optim.Adam(discriminator.parameters(), lr=args.lr * d_reg_ratio, betas=(0 ** d_reg_ratio, 0.99 ** d_reg_ratio))
    loader = [torch.rand(args.batch, 3, size, size) * 2 - 1 for _ in range(2)]
    cwd = os.getcwd()
    os.makedirs(os.path.join(workdir, "checkpoint"), exist_ok=True)
    os.makedirs(os.path.join(workdir, "sample"), exist_ok=True)
    os.chdir(workdir)
    try:
        train.train(args, loader, generator, discriminator, g_optim, d_optim, g_ema, "cpu")
    finally:
        os.chdir(cwd)
    path = os.path.join(workdir, "checkpoint", "000000.pt")
    with open(path, "rb") as f:
        data = f.read()
    return data, g_ema


def rosinality_reference(name, g_ema):
    """Images of rosinality's g_ema; truncation towards the mean of the mapping over seeds 0..4095."""
    g_ema.eval()
    dim = g_ema.style_dim
    with torch.no_grad():
        zs = torch.tensor([seeded_latents.latent(s, dim, "normal") for s in range(W_AVG_SAMPLES)], dtype=torch.float32)
        w_avg = g_ema.style(zs.double().float()).double().mean(0).float()
    save_npy(f"{name}_w_avg.npy", w_avg.numpy())
    entries = []
    for seed in SEEDS:
        z = z_of(seed, dim)
        for k, (psi, cutoff, noise) in enumerate(CASES):
            with torch.no_grad():
                w = g_ema.style(z)
                ws = w.unsqueeze(1).repeat(1, g_ema.n_latent, 1)
                if psi != 1:
                    rows = slice(0, cutoff if cutoff is not None else g_ema.n_latent)
                    ws[:, rows] = w_avg + psi * (ws[:, rows] - w_avg)
                noises = None
                if noise == "none":
                    noises = [torch.zeros_like(getattr(g_ema.noises, f"noise_{i}")) for i in range(g_ema.num_layers)]
                img, _ = g_ema([ws], input_is_latent=True, noise=noises, randomize_noise=False)
            file = f"{name}_s{seed}_case{k}.npy"
            save_npy(file, img.numpy())
            entries.append(dict(seed=seed, psi=psi, cutoff=cutoff, noise=noise, image=file))
    return entries, w_avg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ada", required=True, help="stylegan2-ada-pytorch checkout (outside this repository)")
    ap.add_argument("--rosinality", required=True, help="rosinality/stylegan2-pytorch checkout (outside this repository)")
    a = ap.parse_args()
    ada, ros = os.path.abspath(a.ada), os.path.abspath(a.rosinality)
    os.makedirs(OUT, exist_ok=True)
    index = {"generator": "tests/reference/make_genuine_checkpoints.py", "w_avg_samples": W_AVG_SAMPLES, "files": {}}

    def write(name, data):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)

    # stylegan2-ada-pytorch snapshots.
    for name, c_dim, fp16, seed in [("ada_uncond_fp16", 0, 2, 10), ("ada_cond", 3, 0, 20)]:
        data = build_ada(ada, c_dim, fp16, seed)
        write(name + ".pkl", data)
        G_ema = load_ada_pickle(ada, data)["G_ema"]  # the official loader (runs the embedded source)
        classes = [("uncond", None)] if c_dim == 0 else [
            ("class0", torch.tensor([[1.0, 0, 0]])), ("class2", torch.tensor([[0, 0, 1.0]])),
            ("cvec", torch.tensor([[0.25, -0.5, 1.5]]))]
        index["files"][name + ".pkl"] = dict(kind="stylegan2-ada-pytorch snapshot", network="G_ema", c_dim=c_dim,
                                             num_fp16_res=fp16, cases=ada_reference(name, G_ema, classes))
        print("wrote", name + ".pkl", len(data), "bytes")

    # A pickle with only a discriminator, and an optimizer state.
    sys.path.insert(0, ada)
    snapshot = load_ada_pickle(ada, build_ada(ada, 0, 0, 30))
    write("d_only.pkl", pickle.dumps(dict(D=snapshot["D"])))
    buf = io.BytesIO()
    torch.save(torch.optim.Adam(snapshot["G"].parameters(), lr=0.002).state_dict(), buf)
    write("optimizer_state.pt", buf.getvalue())

    # NVIDIA's TensorFlow pickle.
    data, Gs = build_tf(ada, 40)
    write("tf_stylegan2.pkl", data)
    p4, p5, expected = build_tf_tiny(ada, 45)
    write("tf_tiny_p4.pkl", p4)
    write("tf_tiny_p5.pkl", p5)
    write("tf_tiny_expected.safetensors", expected)
    index["files"]["tf_stylegan2.pkl"] = dict(kind="TensorFlow StyleGAN2 pickle", network="Gs", c_dim=0,
                                              cases=ada_reference("tf_stylegan2", Gs, [("uncond", None)]))
    print("wrote tf_stylegan2.pkl", len(data), "bytes")

    # rosinality train.py.
    import tempfile
    with tempfile.TemporaryDirectory() as work:
        data, g_ema = build_rosinality(ros, work, 50)
    write("rosinality_train_000000.pt", data)
    entries, _ = rosinality_reference("rosinality_train", g_ema)
    index["files"]["rosinality_train_000000.pt"] = dict(kind="rosinality train.py checkpoint", network="g_ema", c_dim=0,
                                                        w_avg="rosinality_train_w_avg.npy", cases=entries)
    print("wrote rosinality_train_000000.pt", len(data), "bytes")

    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
