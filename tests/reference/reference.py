#!/usr/bin/python3
"""Independent PyTorch reference for actmap's test fixtures.

Builds the generators with PyTorch's own module layouts (so the state_dict
keys are exactly the safetensors keys and load with strict=True), runs them
in eval mode in float32 and dumps per-layer activations ("taps") as .npy.

    /usr/bin/python3 tests/reference/reference.py \
        --models-dir /work/shared/models --out tests/fixtures

Outputs, per model <name>:
    <out>/<name>/z.npy             float32 [2, nz] latents
    <out>/<name>/<tap>.npy         float32 [2, C, H, W] activation at <tap>
    <out>/<name>/weights.safetensors   (dcgan* only: random weights)

Reruns are byte-identical: fixed seeds, one thread, deterministic writers.
The real models' weights are only read, never copied into the output.
"""

import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
from torch import nn

Z_SEED = 20261122
BATCH = 2
BN_EPS = 1e-5

# --------------------------------------------------------------------------
# safetensors (own reader/writer; no dependency on the `safetensors` package)
# --------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NP_TO_ST = {v: k for k, v in _ST_DTYPES.items()}


def read_safetensors(path):
    """Return ({name: np.ndarray}, metadata dict). BF16 is widened to F32."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if 8 + hlen > len(blob):
        raise ValueError(f"{path}: header length {hlen} beyond end of file")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt, shape = info["dtype"], info["shape"]
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: {name}: bad data_offsets {begin},{end}")
        count = int(np.prod(shape, dtype=np.int64))
        if dt == "BF16":
            if end - begin != 2 * count:
                raise ValueError(f"{path}: {name}: size mismatch")
            raw = np.frombuffer(data[begin:end], dtype="<u2").astype("<u4")
            arr = (raw << 16).view("<f4")
        elif dt in _ST_DTYPES:
            npdt = _ST_DTYPES[dt]
            if end - begin != npdt.itemsize * count:
                raise ValueError(f"{path}: {name}: size mismatch")
            arr = np.frombuffer(data[begin:end], dtype=npdt)
        else:
            raise ValueError(f"{path}: {name}: unsupported dtype {dt}")
        # copy: detaches from the file buffer and makes the array writable
        out[name] = arr.reshape(shape).astype(arr.dtype.newbyteorder("="), copy=True)
    return out, meta


def _natural_key(name):
    # "main.10.weight" after "main.2.weight": keeps files in forward order
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split(".")]


def write_safetensors(path, tensors, metadata=None):
    """Write {name: ndarray} as safetensors; deterministic byte output."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors, key=_natural_key):
        arr = np.ascontiguousarray(tensors[name])
        dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        if dt not in _NP_TO_ST:
            raise ValueError(f"{name}: unsupported dtype {arr.dtype}")
        raw = arr.astype(dt, copy=False).tobytes(order="C")
        header[name] = {"dtype": _NP_TO_ST[dt], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # pad with spaces so the data section starts 8-byte aligned (as upstream)
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)


# --------------------------------------------------------------------------
# Models (layouts mirror the upstream state_dict keys exactly)
# --------------------------------------------------------------------------

class FFHQ64VAE(nn.Module):
    """harry7557558/Graphics ffhq_convtrans_vae_3 decoder; z ~ N(0,1)^64."""
    nz = 64

    def __init__(self):
        super().__init__()

        def up(cin, cout):
            return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(cout, eps=BN_EPS)]

        self.main = nn.Sequential(
            nn.Linear(64, 1024), nn.SiLU(), nn.Unflatten(1, (64, 4, 4)),  # 0-2
            nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64, eps=BN_EPS), nn.SiLU(),  # 3-5
            *up(64, 64), nn.SiLU(),  # 6-8
            *up(64, 64), nn.SiLU(),  # 9-11
            *up(64, 64), nn.SiLU(),  # 12-14
            *up(64, 3), nn.Tanh(),   # 15-17
        )

    def forward(self, z):  # z: [N, 64]
        return self.main(z)


class CelebA32Fletcher(nn.Module):
    """fletchersarip93/face-generator; z ~ U(-1,1)^100."""
    nz = 100

    def __init__(self):
        super().__init__()
        self.generator_deconv = nn.Sequential(
            nn.Sequential(nn.ConvTranspose2d(100, 256, 4, 1, 0, bias=False),
                          nn.BatchNorm2d(256, eps=BN_EPS)),  # no activation upstream
            nn.Sequential(nn.Conv2d(256, 128, 3, 1, 1, bias=False),
                          nn.BatchNorm2d(128, eps=BN_EPS), nn.LeakyReLU(0.2)),
            nn.Sequential(nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
                          nn.BatchNorm2d(64, eps=BN_EPS), nn.LeakyReLU(0.2)),
            nn.Sequential(nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False),
                          nn.BatchNorm2d(32, eps=BN_EPS), nn.LeakyReLU(0.2)),
            nn.Sequential(nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=True), nn.Tanh()),
        )

    def forward(self, z):  # z: [N, 100]
        return self.generator_deconv(z.reshape(z.shape[0], -1, 1, 1))


class DCGAN(nn.Module):
    """Generator of pytorch/examples dcgan/main.py, generalised over image size.

    image_size 64 is the upstream network; 32 drops one (ConvT, BN, ReLU)
    block, 128 adds one. Input z: [N, nz] (reshaped to [N, nz, 1, 1]).
    """

    def __init__(self, nz, ngf, nc, image_size):
        super().__init__()
        n_up = {32: 2, 64: 3, 128: 4}[image_size]  # stride-2 blocks before the last layer
        self.nz = nz
        ch = ngf * 2 ** n_up
        layers = [nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False),
                  nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n_up):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z.reshape(z.shape[0], -1, 1, 1))


def randomize_dcgan(model, seed):
    """Random weights that keep activations O(1) and make eval BN non-trivial.

    Conv std is 1.5/sqrt(effective fan-in) (about N(0,0.05)-N(0,0.4) for these
    sizes, 0.6/sqrt(fan-in) before the tanh); DCGAN's own N(0,0.02) would leave activations tiny and BN would
    then output a per-channel constant.
    """
    g = torch.Generator().manual_seed(seed)
    last_conv = [m for m in model.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.ConvTranspose2d):
                cin = m.weight.shape[0]
                taps = 16 if m.stride[0] == 1 else 4  # k4 s2: 2x2 kernel taps reach each output
                # smaller gain before tanh so few outputs saturate
                std = (0.6 if m is last_conv else 1.5) / (cin * taps) ** 0.5
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * std)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)          # U(0.5, 1.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.3)           # N(0, 0.3)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)   # N(0, 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 2.8 + 0.2)  # U(0.2, 3.0)
    return model


# name -> (builder, taps, latent kind); tap names are module paths, except
# ffhq main.1, which is read at main.2 (Unflatten) to get the 64x4x4 shape.
DCGAN_CONFIGS = {
    "dcgan64": dict(nz=16, ngf=8, nc=3, image_size=64, seed=64),
    "dcgan32": dict(nz=12, ngf=8, nc=3, image_size=32, seed=32),
    "dcgan128": dict(nz=8, ngf=4, nc=1, image_size=128, seed=128),
}
TAPS = {
    "ffhq64-vae": ["main.1", "main.5", "main.8", "main.11", "main.14", "main.17"],
    "celeba32-fletcher": ["generator_deconv.0.1", "generator_deconv.1.2",
                          "generator_deconv.2.2", "generator_deconv.3.2",
                          "generator_deconv.4.1"],
    "dcgan64": ["main.2", "main.5", "main.8", "main.11", "main.13"],
    "dcgan32": ["main.2", "main.5", "main.8", "main.10"],
    "dcgan128": ["main.2", "main.5", "main.8", "main.11", "main.14", "main.16"],
}
TAP_MODULE_ALIAS = {("ffhq64-vae", "main.1"): "main.2"}
LATENT = {"celeba32-fletcher": "uniform"}  # everything else: normal


def load_real(name, models_dir):
    model = {"ffhq64-vae": FFHQ64VAE, "celeba32-fletcher": CelebA32Fletcher}[name]()
    tensors, _ = read_safetensors(os.path.join(models_dir, name, "generator.safetensors"))
    # strict=True: every key must match in both directions (BN's
    # num_batches_tracked is filled in by BatchNorm's legacy-load path)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    for k, v in model.state_dict().items():
        if k in tensors and tuple(v.shape) != tensors[k].shape:
            raise AssertionError(f"{name}: {k}: shape mismatch")
    return model.float().eval()


def build_dcgan(name):
    cfg = dict(DCGAN_CONFIGS[name])
    seed = cfg.pop("seed")
    torch.manual_seed(seed)
    return randomize_dcgan(DCGAN(**cfg), seed).float().eval()


def dcgan_tensors(model):
    return {k: v.detach().numpy().astype(np.float32)
            for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def make_latents(name, nz, n=BATCH):
    rng = np.random.default_rng(Z_SEED)
    if LATENT.get(name) == "uniform":
        z = rng.uniform(-1.0, 1.0, size=(n, nz))
    else:
        z = rng.standard_normal(size=(n, nz))
    return np.ascontiguousarray(z.astype(np.float32))


def run_with_taps(name, model, z):
    """Forward pass returning {tap: float32 ndarray} via forward hooks."""
    mods = dict(model.named_modules())
    acts, handles = {}, []
    for tap in TAPS[name]:
        mod_name = TAP_MODULE_ALIAS.get((name, tap), tap)

        def hook(_m, _inp, out, tap=tap):
            # clone: dcgan's ReLU(inplace=True) could otherwise alias later
            acts[tap] = out.detach().clone().numpy()
        handles.append(mods[mod_name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(z))
    finally:
        for h in handles:
            h.remove()
    last = TAPS[name][-1]
    if not np.array_equal(acts[last], out.numpy()):
        raise AssertionError(f"{name}: last tap {last} is not the model output")
    return {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in acts.items()}


def identity_bn_copy(model):
    """Same network with eval BN replaced by identity stats (for a sanity check)."""
    import copy
    m = copy.deepcopy(model)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.data.fill_(1.0)
            mod.bias.data.zero_()
            mod.running_mean.zero_()
            mod.running_var.fill_(1.0)
    return m


# --------------------------------------------------------------------------
# Preview PNG (sanity check only; written outside the repo)
# --------------------------------------------------------------------------

def write_png(path, rgb):
    """Minimal 8-bit RGB PNG writer; rgb: uint8 [H, W, 3]."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def image_row(imgs, scale, pad=2):
    """imgs: float [N,3,H,W] in [-1,1] -> uint8 row sheet, nearest-upscaled."""
    x = np.clip(imgs * 0.5 + 0.5, 0, 1)
    x = (x * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)
    x = x.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, _ = x.shape
    sheet = np.zeros((h + 2 * pad, n * (w + pad) + pad, 3), np.uint8)
    for i in range(n):
        sheet[pad:pad + h, pad + i * (w + pad):pad + i * (w + pad) + w] = x[i]
    return sheet


def write_preview(path, models, n=8):
    rows = []
    for name, scale in (("ffhq64-vae", 2), ("celeba32-fletcher", 4)):
        model = models[name]
        z = make_latents(name, model.nz, n)
        with torch.no_grad():
            rows.append(image_row(model(torch.from_numpy(z)).numpy(), scale))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    write_png(path, np.concatenate(rows, axis=0))


# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default="/work/shared/models")
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--preview", metavar="PNG",
                    help="also render sample faces of the real models to PNG (not into the repo)")
    args = ap.parse_args(argv)

    # one thread: fixes the reduction order so reruns are byte-identical
    torch.set_num_threads(1)

    models = {n: load_real(n, args.models_dir) for n in ("ffhq64-vae", "celeba32-fletcher")}
    models.update({n: build_dcgan(n) for n in DCGAN_CONFIGS})

    total = 0
    for name, model in models.items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        written = []
        if name in DCGAN_CONFIGS:
            p = os.path.join(d, "weights.safetensors")
            cfg = DCGAN_CONFIGS[name]
            write_safetensors(p, dcgan_tensors(model), metadata={
                "format": "pt", "generator": "pytorch/examples dcgan",
                **{k: str(v) for k, v in cfg.items()}})
            # round-trip through our own reader into a fresh module, strict
            back, _ = read_safetensors(p)
            fresh = DCGAN(**{k: v for k, v in cfg.items() if k != "seed"})
            fresh.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()}, strict=True)
            written.append(p)

        z = make_latents(name, model.nz)
        np.save(os.path.join(d, "z.npy"), z)
        written.append(os.path.join(d, "z.npy"))
        acts = run_with_taps(name, model, z)

        if name in DCGAN_CONFIGS:
            # eval BN must visibly matter, or the fixture can't catch BN bugs
            with torch.no_grad():
                ident = identity_bn_copy(model)(torch.from_numpy(z)).numpy()
            diff = float(np.abs(ident - acts[TAPS[name][-1]]).max())
            if diff < 0.1:
                raise AssertionError(f"{name}: output barely depends on BN ({diff})")

        for tap in TAPS[name]:
            a = acts[tap]
            p = os.path.join(d, f"{tap}.npy")
            np.save(p, a)
            written.append(p)
            print(f"{name:18s} {tap:22s} {str(list(a.shape)):18s} "
                  f"mean {a.mean():+.4f} std {a.std():.4f} "
                  f"min {a.min():+.4f} max {a.max():+.4f}")
        size = sum(os.path.getsize(p) for p in written)
        total += size
        print(f"{name}: {len(written)} files, {size} bytes")
    print(f"total fixture bytes: {total}")

    if args.preview:
        write_preview(args.preview, models)
        print(f"preview: {args.preview}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
