#!/usr/bin/python3
"""An independent float64 StyleGAN2 generator in NumPy, and the fixtures the C++ tests compare with.

Written from the StyleGAN2 paper (Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN") and the documented behaviour of NVIDIA's stylegan2-ada-pytorch (training/networks.py and
torch_utils/ops): it follows that code's *fused* modulated convolution (per-sample weights, weights
demodulated before the convolution), its literal transposed-convolution-then-upfirdn2d up-sampling,
and a literal zero-insert/pad/2-D-filter upfirdn2d, all with explicit loops, so it shares no code
path with actmap's implementation (non-fused modulation, separable filters, LibTorch).

Run:  /usr/bin/python3 tests/reference/stylegan2_reference.py   (writes tests/fixtures/stylegan2/)
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "stylegan2")


# ---------------------------------------------------------------------------------------------
# Operators, literally.

def lrelu(x, alpha=0.2):
    return np.where(x >= 0, x, x * alpha)


def conv2d_corr(x, w, pad):
    """Cross-correlation (torch.nn.functional.conv2d): x [C, H, W], w [O, C, k, k]."""
    c, h, wd = x.shape
    o, c2, k, _ = w.shape
    assert c == c2
    xp = np.zeros((c, h + 2 * pad, wd + 2 * pad))
    xp[:, pad:pad + h, pad:pad + wd] = x
    oh, ow = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    y = np.zeros((o, oh, ow))
    for a in range(k):
        for b in range(k):
            y += np.einsum("oc,chw->ohw", w[:, :, a, b], xp[:, a:a + oh, b:b + ow])
    return y


def conv_transpose2d(x, wt, stride):
    """torch.nn.functional.conv_transpose2d with padding 0: x [I, H, W], wt [I, O, k, k]."""
    i_, h, wd = x.shape
    _, o, k, _ = wt.shape
    y = np.zeros((o, (h - 1) * stride + k, (wd - 1) * stride + k))
    for r in range(h):
        for c in range(wd):
            y[:, r * stride:r * stride + k, c * stride:c * stride + k] += np.einsum("i,iokl->okl", x[:, r, c], wt)
    return y


def setup_filter(f):
    f = np.asarray(f, dtype=np.float64)
    f2 = np.outer(f, f)          # a 1-D list with fewer than 8 taps becomes its outer product
    return f2 / f2.sum()


def upfirdn2d(x, f2, up=1, pad=(0, 0, 0, 0), gain=1.0):
    """x [C, H, W]; f2 a 2-D filter; pad = (x0, x1, y0, y1), negative crops."""
    c, h, w = x.shape
    if up > 1:
        u = np.zeros((c, h * up, w * up))
        u[:, ::up, ::up] = x
        x = u
        c, h, w = x.shape
    x0, x1, y0, y1 = pad
    xp = np.zeros((c, h + max(y0, 0) + max(y1, 0), w + max(x0, 0) + max(x1, 0)))
    xp[:, max(y0, 0):max(y0, 0) + h, max(x0, 0):max(x0, 0) + w] = x
    xp = xp[:, max(-y0, 0):xp.shape[1] - max(-y1, 0), max(-x0, 0):xp.shape[2] - max(-x1, 0)]
    f = f2 * gain
    f = f[::-1, ::-1]   # not flip_filter: a true convolution
    fh, fw = f.shape
    oh, ow = xp.shape[1] - fh + 1, xp.shape[2] - fw + 1
    y = np.zeros((c, oh, ow))
    for a in range(fh):
        for b in range(fw):
            y += f[a, b] * xp[:, a:a + oh, b:b + ow]
    return y


def conv2d_resample_up2(x, w, f2, padding):
    """conv2d_resample(x, w, f, up=2, padding) for a k x k kernel, as the official code routes it."""
    o, i, kh, kw = w.shape
    fh, fw = f2.shape
    up = 2
    px0 = padding + (fw + up - 1) // 2
    px1 = padding + (fw - up) // 2
    px0 -= kw - 1
    px1 -= kw - up
    pxt = max(min(-px0, -px1), 0)
    assert pxt == 0  # true for 3x3 kernels and 4-tap filters
    y = conv_transpose2d(x, w.transpose(1, 0, 2, 3), stride=2)
    return upfirdn2d(y, f2, pad=(px0 + pxt, px1 + pxt, px0 + pxt, px1 + pxt), gain=up ** 2)


def modulated_conv(x, weight, styles, demodulate, up, f2, noise):
    """The fused form: per-sample weights, demodulated, then one convolution."""
    w = weight * styles.reshape(1, -1, 1, 1)
    if demodulate:
        d = 1.0 / np.sqrt((w ** 2).sum(axis=(1, 2, 3)) + 1e-8)
        w = w * d.reshape(-1, 1, 1, 1)
    k = weight.shape[-1]
    if up:
        y = conv2d_resample_up2(x, w, f2, padding=k // 2)
    else:
        y = conv2d_corr(x, w, pad=k // 2)
    if noise is not None:
        y = y + noise
    return y


# ---------------------------------------------------------------------------------------------
# The generator.

class Reference:
    def __init__(self, cfg, p):
        self.cfg, self.p = cfg, p
        self.res = [2 ** i for i in range(2, int(np.log2(cfg["img_resolution"])) + 1)]
        self.ch = {r: min(cfg["channel_base"] // r, cfg["channel_max"]) for r in self.res}
        self.num_ws = sum(1 if r == 4 else 2 for r in self.res) + 1
        self.f2 = setup_filter([1, 3, 3, 1])

    def fc(self, key, x, lr, act):
        w = self.p[key + ".weight"] * (lr / np.sqrt(self.p[key + ".weight"].shape[1]))
        b = self.p[key + ".bias"] * lr
        y = x @ w.T + b
        return lrelu(y) * np.sqrt(2) if act else y

    def mapping(self, z, psi, cutoff):
        x = z / np.sqrt((z ** 2).mean() + 1e-8)
        for i in range(self.cfg["num_layers"]):
            x = self.fc(f"mapping.fc{i}", x, self.cfg["lr_multiplier"], True)
        ws = np.repeat(x[None, :], self.num_ws, axis=0)
        w_avg = self.p["mapping.w_avg"]
        n = self.num_ws if cutoff is None else cutoff
        ws[:n] = w_avg + psi * (ws[:n] - w_avg)
        return ws

    def layer(self, key, x, w, up, noise_mode, gain=1.0):
        styles = self.fc(key + ".affine", w, 1.0, False)
        noise = None
        if noise_mode == "const":
            noise = self.p[key + ".noise_const"] * self.p[key + ".noise_strength"]
        y = modulated_conv(x, self.p[key + ".weight"], styles, True, up, self.f2, noise)
        y = y + self.p[key + ".bias"].reshape(-1, 1, 1)
        y = lrelu(y) * (np.sqrt(2) * gain)
        clamp = self.cfg["conv_clamp"]
        if clamp is not None:
            y = np.clip(y, -clamp * gain, clamp * gain)
        return y

    def torgb(self, key, x, w):
        wt = self.p[key + ".weight"]
        styles = self.fc(key + ".affine", w, 1.0, False) * (1.0 / np.sqrt(wt.shape[1] * wt.shape[2] * wt.shape[3]))
        y = modulated_conv(x, wt, styles, False, False, self.f2, None)
        y = y + self.p[key + ".bias"].reshape(-1, 1, 1)
        clamp = self.cfg["conv_clamp"]
        return np.clip(y, -clamp, clamp) if clamp is not None else y

    def synthesis(self, ws, noise_mode, taps):
        arch = self.cfg["architecture"]
        x = img = None
        w_idx = 0
        taps["mapping"] = ws.reshape(self.num_ws, 1, -1)
        for r in self.res:
            b = f"synthesis.b{r}"
            last = r == self.res[-1]
            if r == 4:
                x = self.p[b + ".const"]
                x = self.layer(b + ".conv1", x, ws[w_idx], False, noise_mode)
                taps[f"b{r}.conv1"] = x
                nxt = w_idx + 1
            elif arch == "resnet":
                wt = self.p[b + ".skip.weight"] * (1.0 / np.sqrt(self.p[b + ".skip.weight"].shape[1]))
                y = upfirdn2d(conv2d_corr(x, wt, 0), self.f2, up=2, pad=(2, 1, 2, 1), gain=4) * np.sqrt(0.5)
                x = self.layer(b + ".conv0", x, ws[w_idx], True, noise_mode)
                taps[f"b{r}.conv0"] = x
                x = self.layer(b + ".conv1", x, ws[w_idx + 1], False, noise_mode, gain=np.sqrt(0.5))
                x = y + x
                taps[f"b{r}.conv1"] = x
                nxt = w_idx + 2
            else:
                x = self.layer(b + ".conv0", x, ws[w_idx], True, noise_mode)
                taps[f"b{r}.conv0"] = x
                x = self.layer(b + ".conv1", x, ws[w_idx + 1], False, noise_mode)
                taps[f"b{r}.conv1"] = x
                nxt = w_idx + 2
            if img is not None:
                img = upfirdn2d(img, self.f2, up=2, pad=(2, 1, 2, 1), gain=4)
            if last or arch == "skip":
                y = self.torgb(b + ".torgb", x, ws[nxt])
                taps[f"b{r}.torgb"] = y
                img = img + y if img is not None else y
                if arch == "skip" and r > 4:
                    taps[f"b{r}.img"] = img
            w_idx = nxt
        return img


# ---------------------------------------------------------------------------------------------
# Fixtures.

def random_params(cfg, rng):
    p = {}
    z, wd, lr = cfg["z_dim"], cfg["w_dim"], cfg["lr_multiplier"]
    for i in range(cfg["num_layers"]):
        fin = z if i == 0 else wd
        p[f"mapping.fc{i}.weight"] = rng.standard_normal((wd, fin)) / lr
        p[f"mapping.fc{i}.bias"] = rng.standard_normal(wd) * 0.1 / lr
    p["mapping.w_avg"] = rng.standard_normal(wd) * 0.5
    res = [2 ** i for i in range(2, int(np.log2(cfg["img_resolution"])) + 1)]
    ch = {r: min(cfg["channel_base"] // r, cfg["channel_max"]) for r in res}

    def layer(key, cin, cout, r):
        p[key + ".affine.weight"] = rng.standard_normal((cin, wd))
        p[key + ".affine.bias"] = 1.0 + 0.1 * rng.standard_normal(cin)
        p[key + ".weight"] = rng.standard_normal((cout, cin, 3, 3))
        p[key + ".bias"] = 0.1 * rng.standard_normal(cout)
        p[key + ".noise_const"] = rng.standard_normal((r, r))
        p[key + ".noise_strength"] = np.array(0.3 * rng.standard_normal())
        p[key + ".resample_filter"] = setup_filter([1, 3, 3, 1])  # a buffer in the official state dict

    for r in res:
        b = f"synthesis.b{r}"
        last = r == res[-1]
        p[b + ".resample_filter"] = setup_filter([1, 3, 3, 1])
        if r == 4:
            p[b + ".const"] = rng.standard_normal((ch[4], 4, 4))
        else:
            layer(b + ".conv0", ch[r // 2], ch[r], r)
            if cfg["architecture"] == "resnet":
                p[b + ".skip.weight"] = rng.standard_normal((ch[r], ch[r // 2], 1, 1))
                p[b + ".skip.resample_filter"] = setup_filter([1, 3, 3, 1])
        layer(b + ".conv1", ch[r], ch[r], r)
        if last or cfg["architecture"] == "skip":
            p[b + ".torgb.affine.weight"] = rng.standard_normal((ch[r], wd))
            p[b + ".torgb.affine.bias"] = 1.0 + 0.1 * rng.standard_normal(ch[r])
            p[b + ".torgb.weight"] = rng.standard_normal((cfg["img_channels"], ch[r], 1, 1))
            p[b + ".torgb.bias"] = 0.1 * rng.standard_normal(cfg["img_channels"])
    # conv0 of b4 does not exist; resample filters of conv1 layers are buffers too.
    return {k: v.astype(np.float32) for k, v in p.items()}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for k in sorted(tensors):
        b = np.ascontiguousarray(tensors[k], dtype="<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_npy(path, a):
    np.save(path, np.asarray(a, dtype=np.float32))


CONFIGS = {
    # name: (config, cases)
    "skip16": dict(z_dim=8, w_dim=8, num_layers=2, lr_multiplier=0.01, img_resolution=16, img_channels=3,
                   channel_base=64, channel_max=8, conv_clamp=None, architecture="skip"),
    "clamp8": dict(z_dim=6, w_dim=10, num_layers=3, lr_multiplier=0.1, img_resolution=8, img_channels=3,
                   channel_base=32, channel_max=6, conv_clamp=0.5, architecture="skip"),
    "orig8": dict(z_dim=8, w_dim=8, num_layers=1, lr_multiplier=1.0, img_resolution=8, img_channels=1,
                  channel_base=32, channel_max=8, conv_clamp=None, architecture="orig"),
    "resnet8": dict(z_dim=8, w_dim=8, num_layers=2, lr_multiplier=0.01, img_resolution=8, img_channels=3,
                    channel_base=48, channel_max=8, conv_clamp=256, architecture="resnet"),
}
CASES = [  # (truncation psi, cutoff, noise mode)
    (1.0, None, "const"),
    (0.7, None, "none"),
    (0.5, 2, "const"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {}
    for n, (name, cfg) in enumerate(sorted(CONFIGS.items())):
        rng = np.random.default_rng(1000 + n)
        params = random_params(cfg, rng)
        write_safetensors(os.path.join(OUT, name + ".safetensors"), params)
        card = {
            "actmap_model_card": 1, "name": name, "family": "stylegan2",
            "description": "random weights for tests (tests/reference/stylegan2_reference.py)",
            "license": "CC0-1.0 (generated test data)",
            "config": {"z_dim": cfg["z_dim"], "c_dim": 0, "w_dim": cfg["w_dim"],
                       "img_resolution": cfg["img_resolution"], "img_channels": cfg["img_channels"],
                       "mapping_kwargs": {"num_layers": cfg["num_layers"], "lr_multiplier": cfg["lr_multiplier"]},
                       "synthesis_kwargs": {"channel_base": cfg["channel_base"], "channel_max": cfg["channel_max"],
                                            "conv_clamp": cfg["conv_clamp"], "architecture": cfg["architecture"],
                                            "num_fp16_res": 0}},
            "weights": name + ".safetensors",
        }
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(card, f, indent=2)
        ref = Reference(dict(cfg), {k: v.astype(np.float64) for k, v in params.items()})
        z = rng.standard_normal((2, cfg["z_dim"]))
        write_npy(os.path.join(OUT, name + "_z.npy"), z)
        cases = []
        for ci, (psi, cutoff, noise) in enumerate(CASES):
            for s in range(2):
                ws = ref.mapping(z[s], psi, cutoff)
                taps = {}
                img = ref.synthesis(ws, noise, taps)
                stem = f"{name}_case{ci}_s{s}"
                write_npy(os.path.join(OUT, stem + "_img.npy"), img[None])
                if ci == 0 and s == 0:  # every tap, once per config
                    for t, v in taps.items():
                        write_npy(os.path.join(OUT, f"{name}_tap_{t}.npy"), v[None])
            cases.append({"psi": psi, "cutoff": cutoff, "noise": noise})
        index[name] = {"cases": cases, "taps": list(taps.keys())}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=2)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
