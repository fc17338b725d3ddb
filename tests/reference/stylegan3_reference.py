#!/usr/bin/python3
"""An independent float64 StyleGAN3 generator in NumPy, and the fixtures the C++ tests compare with.

Written from the paper (Karras et al. 2021, "Alias-Free Generative Adversarial Networks", Appendix
C and F) and the documented behaviour of NVIDIA's stylegan3 code (training/networks_stylegan3.py,
torch_utils/ops/filtered_lrelu.py, upfirdn2d.py, bias_act.py, gen_images.py): the layer geometry
(cutoffs, stopbands, sampling rates, sizes, channels, paddings) computed from the constructor
arguments; the Fourier-feature input with its learned rotation and translation, the user transform
and the damping of out-of-band frequencies; modulated convolutions with the weight and batch-wide
style pre-normalisation, demodulation and the magnitude-EMA input gain, done in the fused form
(one weight per sample); the filtered leaky ReLU done literally as its docstring lists it (bias,
zero insertion, padding or cropping, a full 2-D convolution with the up filter, gain, leaky ReLU,
clamp, a full 2-D convolution with the down filter, then dropping samples). It shares no code path
with actmap's implementation (polyphase separable filters, LibTorch).

The low-pass filters are designed here too (a Kaiser-windowed sinc as scipy.signal.firwin does it,
and the jinc filter of config R), so the fixtures hold realistic filters; the generator under test
reads them from the weights like any other buffer.

Run:  /usr/bin/python3 tests/reference/stylegan3_reference.py   (writes tests/fixtures/stylegan3/)
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stylegan2_reference import write_npy, write_safetensors  # noqa: E402  (plain file writers)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "stylegan3")

# The constructor defaults of SynthesisNetwork and SynthesisLayer.
SYNTHESIS_DEFAULTS = dict(channel_base=32768, channel_max=512, num_layers=14, num_critical=2, first_cutoff=2,
                          first_stopband=2 ** 2.1, last_stopband_rel=2 ** 0.3, margin_size=10, output_scale=0.25,
                          num_fp16_res=4, conv_kernel=3, filter_size=6, lrelu_upsampling=2,
                          use_radial_filters=False, conv_clamp=256)


# ---------------------------------------------------------------------------------------------
# Geometry.

def layer_specs(img_resolution, img_channels, s):
    """Every SynthesisLayer's sizes, rates, filters and padding, from the network's arguments `s`."""
    n = s["num_layers"]
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * s["last_stopband_rel"]
    exponents = np.minimum(np.arange(n + 1) / (n - s["num_critical"]), 1)
    cutoffs = s["first_cutoff"] * (last_cutoff / s["first_cutoff"]) ** exponents
    stopbands = s["first_stopband"] * (last_stopband / s["first_stopband"]) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + s["margin_size"] * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((s["channel_base"] / 2) / cutoffs, s["channel_max"]))
    channels[-1] = img_channels
    layers = []
    for i in range(n + 1):
        p = max(i - 1, 0)
        torgb = i == n
        critical = i >= n - s["num_critical"]
        k = 1 if torgb else s["conv_kernel"]
        tmp_rate = max(rates[p], rates[i]) * (1 if torgb else s["lrelu_upsampling"])
        up = int(np.rint(tmp_rate / rates[p]))
        down = int(np.rint(tmp_rate / rates[i]))
        assert rates[p] * up == tmp_rate and rates[i] * down == tmp_rate
        up_taps = s["filter_size"] * up if up > 1 and not torgb else 1
        down_taps = s["filter_size"] * down if down > 1 and not torgb else 1
        total = (int(sizes[i]) - 1) * down + 1 - (int(sizes[p]) + k - 1) * up + up_taps + down_taps - 2
        lo = (total + up) // 2
        layers.append(dict(
            name=f"L{i}_{int(sizes[i])}_{int(channels[i])}", torgb=torgb, critical=critical,
            in_ch=int(channels[p]), out_ch=int(channels[i]), in_size=int(sizes[p]), out_size=int(sizes[i]),
            in_rate=int(rates[p]), out_rate=int(rates[i]), tmp_rate=tmp_rate,
            in_cutoff=cutoffs[p], out_cutoff=cutoffs[i], in_half_width=half_widths[p], out_half_width=half_widths[i],
            kernel=k, up=up, down=down, up_taps=up_taps, down_taps=down_taps,
            radial=bool(s["use_radial_filters"]) and not critical, pad=(lo, total - lo)))
    inp = dict(channels=int(channels[0]), size=int(sizes[0]), rate=float(rates[0]), bandwidth=float(cutoffs[0]))
    return inp, layers


# ---------------------------------------------------------------------------------------------
# Filter design (for the fixtures' weights).

def kaiser_beta(a):
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a > 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def kaiser_atten(numtaps, width):
    return 2.285 * (numtaps - 1) * np.pi * width + 7.95


def bessel_j1(x):
    """J1 by Bessel's integral (1/pi) int_0^pi cos(t - x sin t) dt, midpoint rule (exact for smooth periodic)."""
    t = (np.arange(512) + 0.5) * (np.pi / 512)
    return np.cos(t[None, :] - np.asarray(x, dtype=np.float64).reshape(-1, 1) * np.sin(t)[None, :]).mean(axis=1).reshape(np.shape(x))


def lowpass(numtaps, cutoff, width, fs, radial):
    if numtaps == 1:
        return None
    if not radial:  # windowed sinc, normalised to unit DC gain
        nyq = fs / 2
        beta = kaiser_beta(kaiser_atten(numtaps, width / nyq))
        m = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / nyq
        h = c * np.sinc(c * m) * np.kaiser(numtaps, beta)
        return h / h.sum()
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = bessel_j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = kaiser_beta(kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f = f * np.outer(w, w)
    return f / f.sum()


# ---------------------------------------------------------------------------------------------
# Operators, literally, on [N, C, H, W].

def lrelu(x, alpha):
    return np.where(x >= 0, x, x * alpha)


def conv2d_corr(x, w, pad):
    n, c, h, wd = x.shape
    o, c2, k, _ = w.shape
    assert w.ndim == 4 and c == c2
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    oh, ow = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    y = np.zeros((n, o, oh, ow))
    for a in range(k):
        for b in range(k):
            y += np.einsum("oc,nchw->nohw", w[:, :, a, b], xp[:, :, a:a + oh, b:b + ow])
    return y


def upfirdn2d(x, f2, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
    """x [N, C, H, W]; f2 a 2-D filter or None; pad = (x0, x1, y0, y1), negative crops."""
    n, c, h, w = x.shape
    if up > 1:
        u = np.zeros((n, c, h * up, w * up))
        u[:, :, ::up, ::up] = x
        x = u
        h, w = h * up, w * up
    x0, x1, y0, y1 = pad
    xp = np.zeros((n, c, h + max(y0, 0) + max(y1, 0), w + max(x0, 0) + max(x1, 0)))
    xp[:, :, max(y0, 0):max(y0, 0) + h, max(x0, 0):max(x0, 0) + w] = x
    xp = xp[:, :, max(-y0, 0):xp.shape[2] - max(-y1, 0), max(-x0, 0):xp.shape[3] - max(-x1, 0)]
    f = np.ones((1, 1)) if f2 is None else f2
    f = (f * gain)[::-1, ::-1]  # a true convolution
    fh, fw = f.shape
    oh, ow = xp.shape[2] - fh + 1, xp.shape[3] - fw + 1
    y = np.zeros((n, c, oh, ow))
    for a in range(fh):
        for b in range(fw):
            y += f[a, b] * xp[:, :, a:a + oh, b:b + ow]
    return y[:, :, ::down, ::down]


def as_2d(f):
    """A separable filter's 2-D form (the outer product); a 2-D filter as is."""
    if f is None or f.ndim == 2:
        return f
    return np.outer(f, f)


def filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp):
    x = x + b.reshape(1, -1, 1, 1)
    x = upfirdn2d(x, as_2d(fu), up=up, pad=(pad[0], pad[1], pad[0], pad[1]), gain=up ** 2)
    x = lrelu(x, slope) * gain
    if clamp is not None:
        x = np.clip(x, -clamp, clamp)
    return upfirdn2d(x, as_2d(fd), down=down)


def make_transform(translate, angle):
    """gen_images.py: the rotation and translation the user asks for; the generator takes its inverse."""
    m = np.eye(3)
    s, c = np.sin(angle / 360.0 * np.pi * 2), np.cos(angle / 360.0 * np.pi * 2)
    m[0][0], m[0][1], m[0][2] = c, s, translate[0]
    m[1][0], m[1][1], m[1][2] = -s, c, translate[1]
    return m


# ---------------------------------------------------------------------------------------------
# The generator.

class Reference:
    def __init__(self, cfg, p):
        self.cfg, self.p = cfg, p
        self.s = dict(SYNTHESIS_DEFAULTS, **cfg["synthesis"])
        self.inp, self.layers = layer_specs(cfg["img_resolution"], cfg["img_channels"], self.s)
        self.num_ws = self.s["num_layers"] + 2

    def fc(self, key, x, lr=1.0):
        w = self.p[key + ".weight"]
        return x @ (w * (lr / np.sqrt(w.shape[1]))).T + self.p[key + ".bias"] * lr

    def mapping(self, z, psi, cutoff):
        """z [N, z_dim] -> W+ [N, num_ws, w_dim]."""
        lr = self.cfg["mapping_lr"]
        x = z / np.sqrt((z ** 2).mean(axis=1, keepdims=True) + 1e-8)
        for i in range(self.cfg["mapping_layers"]):
            x = lrelu(self.fc(f"mapping.fc{i}", x, lr), 0.2) * np.sqrt(2)
        ws = np.repeat(x[:, None, :], self.num_ws, axis=1)
        w_avg = self.p["mapping.w_avg"]
        k = self.num_ws if cutoff is None else cutoff
        ws[:, :k] = w_avg + psi * (ws[:, :k] - w_avg)
        return ws

    def synthesis_input(self, w, user):
        """w [N, w_dim]; `user` the 3x3 transform buffer."""
        n = w.shape[0]
        t = self.fc("synthesis.input.affine", w)
        t = t / np.linalg.norm(t[:, :2], axis=1, keepdims=True)
        freqs0, phases0 = self.p["synthesis.input.freqs"], self.p["synthesis.input.phases"]
        size, rate, band = self.inp["size"], self.inp["rate"], self.inp["bandwidth"]
        # Pixel centres of a size x size grid spanning [-1, 1] (affine_grid, align_corners=False),
        # scaled to the input's units: 0.5 * size / rate.
        coord = ((2 * np.arange(size) + 1) / size - 1) * (0.5 * size / rate)
        gx, gy = np.meshgrid(coord, coord)  # [row, column]
        chans = []
        for s in range(n):
            m_r = np.array([[t[s, 0], -t[s, 1], 0], [t[s, 1], t[s, 0], 0], [0, 0, 1]])
            m_t = np.array([[1, 0, -t[s, 2]], [0, 1, -t[s, 3]], [0, 0, 1]])
            m = m_r @ m_t @ user
            phases = phases0 + freqs0 @ m[:2, 2]
            freqs = freqs0 @ m[:2, :2]
            amp = np.clip(1 - (np.linalg.norm(freqs, axis=1) - band) / (rate / 2 - band), 0, 1)
            arg = gx[None] * freqs[:, 0, None, None] + gy[None] * freqs[:, 1, None, None] + phases[:, None, None]
            feats = np.sin(arg * 2 * np.pi) * amp[:, None, None]  # [C, H, W]
            wt = self.p["synthesis.input.weight"] / np.sqrt(self.inp["channels"])
            chans.append(np.einsum("oc,chw->ohw", wt, feats))
        return np.stack(chans)

    def layer(self, spec, x, w):
        key = "synthesis." + spec["name"]
        styles = self.fc(key + ".affine", w)  # [N, I]
        weight = self.p[key + ".weight"]
        if spec["torgb"]:
            styles = styles / np.sqrt(spec["in_ch"] * spec["kernel"] ** 2)
        else:
            weight = weight / np.sqrt((weight ** 2).mean(axis=(1, 2, 3), keepdims=True))
            styles = styles / np.sqrt((styles ** 2).mean())  # over the whole batch
        gain_in = 1 / np.sqrt(self.p[key + ".magnitude_ema"])
        ys = []
        for s in range(x.shape[0]):  # fused: one weight per sample
            wm = weight * styles[s].reshape(1, -1, 1, 1)
            if not spec["torgb"]:
                wm = wm / np.sqrt((wm ** 2).sum(axis=(1, 2, 3), keepdims=True) + 1e-8)
            ys.append(conv2d_corr(x[s:s + 1], wm * gain_in, spec["kernel"] - 1)[0])
        y = np.stack(ys)
        fu = self.p.get(key + ".up_filter")
        fd = self.p.get(key + ".down_filter")
        clamp = self.s["conv_clamp"]
        return filtered_lrelu(y, fu, fd, self.p[key + ".bias"], spec["up"], spec["down"], spec["pad"],
                              1.0 if spec["torgb"] else np.sqrt(2), 1.0 if spec["torgb"] else 0.2, clamp)

    def synthesis(self, ws, user, taps):
        """ws [N, num_ws, w_dim]; user transform 3x3 (None: the stored buffer)."""
        if user is None:
            user = self.p["synthesis.input.transform"]
        taps["mapping"] = ws.reshape(ws.shape[0], self.num_ws, 1, -1)
        x = self.synthesis_input(ws[:, 0], user)
        taps["input"] = x
        for i, spec in enumerate(self.layers):
            x = self.layer(spec, x, ws[:, i + 1])
            taps[spec["name"]] = x
        x = x * self.s["output_scale"]
        taps["output"] = x
        return x


# ---------------------------------------------------------------------------------------------
# Fixtures.

def random_params(cfg, rng):
    ref = Reference(cfg, {})
    p = {}
    z, wd, lr = cfg["z_dim"], cfg["w_dim"], cfg["mapping_lr"]
    for i in range(cfg["mapping_layers"]):
        fin = z if i == 0 else wd
        p[f"mapping.fc{i}.weight"] = rng.standard_normal((wd, fin)) / lr
        p[f"mapping.fc{i}.bias"] = rng.standard_normal(wd) * 0.1 / lr
    p["mapping.w_avg"] = rng.standard_normal(wd) * 0.5
    inp = ref.inp
    c0 = inp["channels"]
    # Frequencies mostly inside the band, some beyond it (damped by the input layer), as the
    # official initialisation draws them: random directions, radii shrunk towards the centre.
    f = rng.standard_normal((c0, 2))
    r = np.sqrt((f ** 2).sum(axis=1, keepdims=True))
    f = f / (r * np.exp(r ** 2) ** 0.25) * inp["bandwidth"]
    f[: max(1, c0 // 4)] *= rng.uniform(1.2, inp["rate"] / 2 / inp["bandwidth"] + 0.5, (max(1, c0 // 4), 1))
    p["synthesis.input.freqs"] = f
    p["synthesis.input.phases"] = rng.uniform(-0.5, 0.5, c0)
    p["synthesis.input.weight"] = rng.standard_normal((c0, c0))
    p["synthesis.input.affine.weight"] = rng.standard_normal((4, wd)) * 0.3
    p["synthesis.input.affine.bias"] = np.array([1.0, 0.0, 0.0, 0.0]) + 0.2 * rng.standard_normal(4)
    if cfg.get("stored_transform"):
        p["synthesis.input.transform"] = np.linalg.inv(make_transform(*cfg["stored_transform"]))
    else:
        p["synthesis.input.transform"] = np.eye(3)
    for i, spec in enumerate(ref.layers):
        key = "synthesis." + spec["name"]
        p[key + ".affine.weight"] = rng.standard_normal((spec["in_ch"], wd))
        # Layer 1's styles have no bias, so they scale with W (for the batch-wide normalisation case).
        p[key + ".affine.bias"] = np.zeros(spec["in_ch"]) if i == 1 else 1.0 + 0.2 * rng.standard_normal(spec["in_ch"])
        p[key + ".weight"] = rng.standard_normal((spec["out_ch"], spec["in_ch"], spec["kernel"], spec["kernel"]))
        p[key + ".bias"] = 0.2 * rng.standard_normal(spec["out_ch"])
        p[key + ".magnitude_ema"] = np.array(rng.uniform(0.3, 3.0))
        fu = lowpass(spec["up_taps"], spec["in_cutoff"], spec["in_half_width"] * 2, spec["tmp_rate"], False)
        fd = lowpass(spec["down_taps"], spec["out_cutoff"], spec["out_half_width"] * 2, spec["tmp_rate"], spec["radial"])
        if fu is not None:
            p[key + ".up_filter"] = fu
        if fd is not None:
            p[key + ".down_filter"] = fd
    return {k: np.asarray(v).astype(np.float32) for k, v in p.items()}


CONFIGS = {
    # StyleGAN3-T in small: 36x36 and 52x52 maps, an up-by-4 layer, cropping into 32x32.
    "t32": dict(z_dim=8, w_dim=8, mapping_layers=2, mapping_lr=0.01, img_resolution=32, img_channels=3,
                synthesis=dict(channel_base=64, channel_max=8, num_layers=6, conv_clamp=256)),
    # StyleGAN3-R in small: 1x1 convolutions, radial (2-D) down filters, a stored transform.
    "r16": dict(z_dim=6, w_dim=10, mapping_layers=3, mapping_lr=0.1, img_resolution=16, img_channels=3,
                synthesis=dict(channel_base=64, channel_max=8, num_layers=4, conv_kernel=1,
                               use_radial_filters=True, conv_clamp=None),
                stored_transform=((0.1, -0.05), 12.0)),
    # Other hyper-parameters: no leaky-ReLU up-sampling (layers without filters, an up filter
    # alone), 4-tap filters, one critical layer, a narrow margin, an output scale of 0.5,
    # radial filters with 3x3 kernels, one colour channel.
    "odd32": dict(z_dim=8, w_dim=8, mapping_layers=1, mapping_lr=1.0, img_resolution=32, img_channels=1,
                  synthesis=dict(channel_base=48, channel_max=6, num_layers=5, num_critical=1, first_cutoff=3,
                                 margin_size=4, filter_size=4, lrelu_upsampling=1, output_scale=0.5,
                                 use_radial_filters=True, conv_clamp=0.8)),
}
# The same weights as t32 with a clamp small enough to act in every layer.
VARIANTS = {"t32_clamp": ("t32", dict(conv_clamp=0.5))}
CASES = [  # (truncation psi, cutoff, input transform (translate, degrees) or None, taps written)
    (1.0, None, None, True),
    (0.6, None, None, False),
    (0.7, 3, ((0.25, -0.4), 30.0), True),
    (1.0, None, ((1.5, 0.3), -75.0), False),
]


def card_for(name, cfg, weights):
    return {
        "actmap_model_card": 1, "name": name, "family": "stylegan3",
        "description": "random weights for tests (tests/reference/stylegan3_reference.py)",
        "license": "CC0-1.0 (generated test data)",
        "config": {"z_dim": cfg["z_dim"], "c_dim": 0, "w_dim": cfg["w_dim"],
                   "img_resolution": cfg["img_resolution"], "img_channels": cfg["img_channels"],
                   "mapping_kwargs": {"num_layers": cfg["mapping_layers"], "lr_multiplier": cfg["mapping_lr"]},
                   "synthesis_kwargs": dict(cfg["synthesis"], num_fp16_res=0)},
        "weights": weights,
    }


def write_nvidia_pickle(path, params, cfg):
    """t32's weights as an NVIDIA network pickle (G_ema with the official module names, its
    constructor kwargs flat as training/networks_stylegan3.py's Generator takes them), pickled by
    the stand-in persistence of make_checkpoint_fixtures.py: no NVIDIA code is involved."""
    import pickle
    import torch
    from make_checkpoint_fixtures import install_nvidia_standins
    EasyDict, persistent = install_nvidia_standins()
    buffers = ("w_avg", "transform", "freqs", "phases", "magnitude_ema", "up_filter", "down_filter")

    def module_class(name):
        @persistent
        class Module(torch.nn.Module):
            def __init__(self, **kwargs):
                super().__init__()
        Module.__name__ = Module._orig_class_name = name
        Module.__module__ = "training.networks_stylegan3"
        return Module

    classes = {n: module_class(n) for n in ("Generator", "MappingNetwork", "SynthesisNetwork", "SynthesisInput",
                                            "SynthesisLayer", "FullyConnectedLayer")}

    def build(cls, tensors, path_, kwargs=None):
        m = classes[cls](**(kwargs or {}))
        children = {}
        for k, v in tensors.items():
            if "." in k:
                head, rest = k.split(".", 1)
                children.setdefault(head, {})[rest] = v
            elif k in buffers:
                m.register_buffer(k, torch.from_numpy(np.array(v, dtype=np.float32)))
            else:
                setattr(m, k, torch.nn.Parameter(torch.from_numpy(np.array(v, dtype=np.float32))))
        for head, sub in children.items():
            full = path_ + head
            child = ("MappingNetwork" if full == "mapping" else "SynthesisNetwork" if full == "synthesis"
                     else "SynthesisInput" if full == "synthesis.input"
                     else "SynthesisLayer" if full.startswith("synthesis.L") and full.count(".") == 1
                     else "FullyConnectedLayer")
            setattr(m, head, build(child, sub, full + "."))
        return m

    s = cfg["synthesis"]
    kwargs = EasyDict(z_dim=cfg["z_dim"], w_dim=cfg["w_dim"],
                      mapping_kwargs=EasyDict(num_layers=cfg["mapping_layers"]),
                      channel_base=s["channel_base"], channel_max=s["channel_max"], num_layers=s["num_layers"],
                      magnitude_ema_beta=0.5 ** (32 / (20 * 1e3)), conv_clamp=s["conv_clamp"],
                      c_dim=0, img_resolution=cfg["img_resolution"], img_channels=cfg["img_channels"])
    g_ema = build("Generator", params, "", kwargs)
    data = dict(G_ema=g_ema, D=None, augment_pipe=None,
                training_set_kwargs=EasyDict(path="fake.zip", resolution=cfg["img_resolution"], use_labels=False))
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=4)


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {}
    runs = [(name, name, cfg, {}) for name, cfg in CONFIGS.items()]
    runs += [(name, base, CONFIGS[base], extra) for name, (base, extra) in VARIANTS.items()]
    params_of = {}
    for n, (name, base, cfg, extra) in enumerate(runs):
        cfg = dict(cfg, synthesis=dict(cfg["synthesis"], **extra))
        if base not in params_of:
            params_of[base] = random_params(cfg, np.random.default_rng(3000 + n))
            write_safetensors(os.path.join(OUT, base + ".safetensors"), params_of[base])
        params = params_of[base]
        if name == "t32":
            write_nvidia_pickle(os.path.join(OUT, "t32_nvidia.pkl"), params, cfg)
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(card_for(name, cfg, base + ".safetensors"), f, indent=2)
        ref = Reference(cfg, {k: v.astype(np.float64) for k, v in params.items()})
        rng = np.random.default_rng(4000 + n)
        z = rng.standard_normal((2, cfg["z_dim"]))
        write_npy(os.path.join(OUT, name + "_z.npy"), z)
        cases = []
        for ci, (psi, cutoff, transform, with_taps) in enumerate(CASES):
            ws = ref.mapping(z, psi, cutoff)
            user = None if transform is None else np.linalg.inv(make_transform(*transform))
            taps = {}
            img = ref.synthesis(ws, user, taps)
            for s in range(2):
                write_npy(os.path.join(OUT, f"{name}_case{ci}_s{s}_img.npy"), img[s:s + 1])
            if with_taps and (name not in VARIANTS or transform is not None):
                for t, v in taps.items():
                    write_npy(os.path.join(OUT, f"{name}_case{ci}_tap_{t}.npy"), v[:1])
            cases.append({"psi": psi, "cutoff": cutoff, "taps": with_taps,
                          "rotate": None if transform is None else transform[1],
                          "translate": None if transform is None else list(transform[0])})
        entry = {"cases": cases, "taps": list(taps.keys())}
        if name == "t32":
            # W+ given directly, sample 1's row for layer 1 scaled by 1e-5: that layer's styles are
            # tiny beside sample 0's, and the batch-wide normalisation shows in its demodulation.
            ws = ref.mapping(z, 1.0, None)
            ws[1, 2] *= 1e-5
            write_npy(os.path.join(OUT, name + "_batch_ws.npy"), ws)
            img = ref.synthesis(ws, None, {})
            write_npy(os.path.join(OUT, name + "_batch_img.npy"), img)
            single = ref.synthesis(ws[1:], None, {})
            entry["batch_effect"] = float(np.abs(single[0] - img[1]).max())
        index[name] = entry
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
