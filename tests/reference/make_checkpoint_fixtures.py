#!/usr/bin/python3
"""Writes the checkpoint-import fixtures under tests/fixtures/checkpoints/ (run with /usr/bin/python3,
which has PyTorch 1.13). Everything here is generated: small state dicts in every torch.save
format, a fake but structurally faithful NVIDIA network pickle, a rosinality-style checkpoint, and
hostile files that a safe importer must refuse. The files are committed; rerun this script only
to regenerate them (tensor values are seeded; legacy storage keys and zip timestamps change).

The NVIDIA pickle is built WITHOUT NVIDIA's code: a stand-in `torch_utils.persistence` module
below pickles modules the way stylegan2-ada-pytorch's persistence.py does (a REDUCE of
`_reconstruct_persistent_obj` with meta = {type, version, module_src, class_name, state}), and a
stand-in `dnnlib.util.EasyDict` holds the constructor kwargs.
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile
import zlib

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "checkpoints")


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def safetensors_bytes(tensors):
    """A minimal safetensors writer (F32), so expected values need no extra package."""
    header, blobs, offset = {}, [], 0
    for k in sorted(tensors):
        t = tensors[k].detach().to(torch.float32).contiguous()
        b = t.numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def torch_save(obj, legacy=False):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def zip_entries(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(entries, zip64=False):
    """A stored zip; with zip64=True every size and offset goes through ZIP64 records."""
    out, central = bytearray(), bytearray()
    for name, data in entries:
        name_b = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0, 0, crc,
                           len(data), len(data), len(name_b), 0) + name_b + data
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
            sizes = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        else:
            extra, sizes = b"", (len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if zip64 else 20, 0, 0, 0, 0, crc,
                               sizes[0], sizes[1], len(name_b), len(extra), 0, 0, 0, 0, sizes[2]) + name_b + extra
    cd_offset = len(out)
    out += central
    if zip64:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries),
                           len(central), cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Plain state dicts in every format. Values follow simple formulas the C++ test recomputes.

def tiny_state():
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 2
    base = torch.arange(10, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd["w"] = w
    sd["wt"] = w.t()  # non-contiguous: stride (1, 4)
    sd["slice"] = base[2:5]  # storage offset 2 into a 10-element storage
    sd["h"] = torch.arange(6, dtype=torch.float16) / 4
    sd["bf"] = torch.arange(5, dtype=torch.bfloat16) - 1
    sd["d"] = torch.arange(3, dtype=torch.float64) / 3
    sd["scalar"] = torch.tensor(2.5)
    sd["count"] = torch.tensor(7)  # int64: skipped
    return sd


# ---------------------------------------------------------------------------------------------
# A stand-in for NVIDIA's torch_utils.persistence and dnnlib, pickling the same way.

def install_nvidia_standins():
    dnnlib = types.ModuleType("dnnlib")
    dnnlib_util = types.ModuleType("dnnlib.util")

    class EasyDict(dict):
        def __getattr__(self, name):
            return self[name]

        def __setattr__(self, name, value):
            self[name] = value

    EasyDict.__module__ = "dnnlib.util"
    EasyDict.__qualname__ = "EasyDict"
    dnnlib_util.EasyDict = EasyDict
    dnnlib.util = dnnlib_util

    persistence = types.ModuleType("torch_utils.persistence")
    torch_utils = types.ModuleType("torch_utils")
    torch_utils.persistence = persistence

    def _reconstruct_persistent_obj(meta):
        raise RuntimeError("the fixture is only written here, never loaded with this stand-in")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj

    def persistent_class(orig_class):
        class Decorator(orig_class):
            _orig_module_src = "# module source recorded by persistence.py; never executed by actmap\n"
            _orig_class_name = orig_class.__name__

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._init_args = args
                self._init_kwargs = kwargs

            def __reduce__(self):
                fields = list(super().__reduce__())
                fields += [None] * max(3 - len(fields), 0)
                meta = dict(type="class", version=6, module_src=self._orig_module_src,
                            class_name=self._orig_class_name, state=fields[2])
                fields[0] = _reconstruct_persistent_obj
                fields[1] = (meta,)
                fields[2] = None
                return tuple(fields)

        Decorator.__name__ = orig_class.__name__
        return Decorator

    persistence.persistent_class = persistent_class
    for name, mod in [("dnnlib", dnnlib), ("dnnlib.util", dnnlib_util), ("torch_utils", torch_utils),
                      ("torch_utils.persistence", persistence)]:
        sys.modules[name] = mod
    return EasyDict, persistent_class


def make_nvidia_pickle():
    """A tiny official-layout generator (names and shapes of stylegan2-ada-pytorch's
    training/networks.py, no forward pass) pickled as a network .pkl."""
    EasyDict, persistent = install_nvidia_standins()
    nn = torch.nn
    filt = torch.tensor([1.0, 3.0, 3.0, 1.0])
    filt = torch.outer(filt, filt) / 64

    @persistent
    class FullyConnectedLayer(nn.Module):
        def __init__(self, in_features, out_features, bias_init=0):
            super().__init__()
            self.weight = nn.Parameter(torch.randn([out_features, in_features]))
            self.bias = nn.Parameter(torch.full([out_features], float(bias_init)) + 0.1 * torch.randn([out_features]))

    @persistent
    class MappingNetwork(nn.Module):
        def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, lr_multiplier=0.01):
            super().__init__()
            for i in range(num_layers):
                setattr(self, f"fc{i}", FullyConnectedLayer(z_dim if i == 0 else w_dim, w_dim))
            self.register_buffer("w_avg", torch.randn([w_dim]))

    @persistent
    class SynthesisLayer(nn.Module):
        def __init__(self, in_channels, out_channels, w_dim, resolution, up=1, conv_clamp=None):
            super().__init__()
            self.register_buffer("resample_filter", filt.clone())
            self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.randn([]))
            self.bias = nn.Parameter(torch.randn([out_channels]))

    @persistent
    class ToRGBLayer(nn.Module):
        def __init__(self, in_channels, out_channels, w_dim, conv_clamp=None):
            super().__init__()
            self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
            self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
            self.bias = nn.Parameter(torch.randn([out_channels]))

    @persistent
    class SynthesisBlock(nn.Module):
        def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, is_last, conv_clamp=None):
            super().__init__()
            self.register_buffer("resample_filter", filt.clone())
            if in_channels == 0:
                self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
            else:
                self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
            self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)

    @persistent
    class SynthesisNetwork(nn.Module):
        def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512,
                     num_fp16_res=0, conv_clamp=None):
            super().__init__()
            res_list = [2 ** i for i in range(2, img_resolution.bit_length())]
            ch = {r: min(channel_base // r, channel_max) for r in res_list}
            for r in res_list:
                block = SynthesisBlock(ch[r // 2] if r > 4 else 0, ch[r], w_dim, r, img_channels,
                                       r == img_resolution, conv_clamp=conv_clamp)
                setattr(self, f"b{r}", block)

    @persistent
    class Generator(nn.Module):
        def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={},
                     synthesis_kwargs={}):
            super().__init__()
            self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution,
                                              img_channels=img_channels, **synthesis_kwargs)
            self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=4, **mapping_kwargs)

    @persistent
    class Discriminator(nn.Module):
        def __init__(self, c_dim, img_resolution, img_channels):
            super().__init__()
            self.fc = FullyConnectedLayer(img_channels * img_resolution * img_resolution, 1)

    for cls in (FullyConnectedLayer, MappingNetwork, SynthesisLayer, ToRGBLayer, SynthesisBlock,
                SynthesisNetwork, Generator, Discriminator):
        cls.__module__ = "training.networks"  # never pickled by reference: persistence replaces it

    torch.manual_seed(5)
    kwargs = EasyDict(z_dim=4, w_dim=4, mapping_kwargs=EasyDict(num_layers=2),
                      synthesis_kwargs=EasyDict(channel_base=32, channel_max=8, num_fp16_res=0, conv_clamp=256),
                      c_dim=0, img_resolution=8, img_channels=3)
    G = Generator(**kwargs)
    G_ema = Generator(**kwargs)
    D = Discriminator(c_dim=0, img_resolution=8, img_channels=3)
    data = dict(G=G, D=D, G_ema=G_ema, augment_pipe=None,
                training_set_kwargs=EasyDict(path="fake.zip", resolution=8, use_labels=False, xflip=True))
    return pickle.dumps(data, protocol=4), G_ema.state_dict()


# ---------------------------------------------------------------------------------------------
# A rosinality/stylegan2-pytorch checkpoint: {"g_ema", "d", "args", "latent_avg"} with the
# generator names and shapes of its model.py (size 8, style_dim 4, n_mlp 2; channels 8 and 4).

def rosinality_state():
    torch.manual_seed(7)
    sd = collections.OrderedDict()
    style, c4, c8 = 4, 8, 4
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = torch.outer(k, k)
    k = k / k.sum()
    for i in (1, 2):
        sd[f"style.{i}.weight"] = torch.randn(style, style)
        sd[f"style.{i}.bias"] = torch.randn(style)
    sd["input.input"] = torch.randn(1, c4, 4, 4)

    def styled(prefix, cin, cout, up):
        sd[prefix + "conv.weight"] = torch.randn(1, cout, cin, 3, 3)
        if up:
            sd[prefix + "conv.blur.kernel"] = k * 4
        sd[prefix + "conv.modulation.weight"] = torch.randn(cin, style)
        sd[prefix + "conv.modulation.bias"] = torch.randn(cin)
        sd[prefix + "noise.weight"] = torch.randn(1)
        sd[prefix + "activate.bias"] = torch.randn(cout)

    def to_rgb(prefix, cin, up):
        if up:
            sd[prefix + "upsample.kernel"] = k * 4
        sd[prefix + "conv.weight"] = torch.randn(1, 3, cin, 1, 1)
        sd[prefix + "conv.modulation.weight"] = torch.randn(cin, style)
        sd[prefix + "conv.modulation.bias"] = torch.randn(cin)
        sd[prefix + "bias"] = torch.randn(1, 3, 1, 1)

    styled("conv1.", c4, c4, False)
    to_rgb("to_rgb1.", c4, False)
    for n, res in enumerate([4, 8, 8]):
        sd[f"noises.noise_{n}"] = torch.randn(1, 1, res, res)
    styled("convs.0.", c4, c8, True)
    styled("convs.1.", c8, c8, False)
    to_rgb("to_rgbs.0.", c8, True)
    return sd


# ---------------------------------------------------------------------------------------------
# Hostile files.

class Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def crafted_tensor_zip(offset, size, stride, numel, data):
    """A torch zip whose data.pkl rebuilds one tensor with the given view of storage '0'."""

    class Storage:
        pass

    storage = Storage()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is storage:
                return ("storage", torch.FloatStorage, "0", "cpu", numel)
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(collections.OrderedDict(
        w=Reduce(torch._utils._rebuild_tensor_v2, (storage, offset, size, stride, False, collections.OrderedDict()))))
    return write_zip([("archive/data.pkl", buf.getvalue()), ("archive/data/0", data), ("archive/version", b"3\n")])


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = tiny_state()
    zip_bytes = torch_save(sd)
    write("tiny_zip.pt", zip_bytes)
    write("tiny_legacy.pt", torch_save(sd, legacy=True))
    entries = zip_entries(zip_bytes)
    write("tiny_zip64.pt", write_zip(entries, zip64=True))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    write("tiny_deflate.pt", buf.getvalue())

    pkl, g_ema_sd = make_nvidia_pickle()
    write("nvidia_tiny.pkl", pkl)
    write("nvidia_tiny_expected.safetensors", safetensors_bytes(g_ema_sd))

    ros = rosinality_state()
    latent_avg = torch.randn(4)
    write("rosinality_tiny.pt", torch_save({"g_ema": ros, "d": {"convs.0.0.weight": torch.randn(2, 3, 1, 1)},
                                            "latent_avg": latent_avg,
                                            "args": argparse.Namespace(size=8, n_mlp=2, latent=4)}))

    # Code execution attempts: GLOBAL os.system (as a hand-written pickle), posix.system in a torch
    # zip (what os.system pickles as on Linux), builtins.eval through STACK_GLOBAL (protocol 4).
    write("hostile_os_system.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.")
    write("hostile_posix_system.pt", torch_save({"w": torch.zeros(2), "x": Reduce(os.system, ("true",))}))
    write("hostile_builtins_eval.pkl", pickle.dumps({"x": Reduce(eval, ("1+1",))}, protocol=4))
    # A view past the end of its 4-element storage, and a storage claiming 10^12 elements.
    write("hostile_past_storage.pt", crafted_tensor_zip(2, (4,), (1,), 4, struct.pack("<4f", 1, 2, 3, 4)))
    write("hostile_huge_numel.pt", crafted_tensor_zip(0, (10 ** 12,), (1,), 10 ** 12, struct.pack("<4f", 1, 2, 3, 4)))
    # 5000 nested MARKs.
    write("hostile_nesting.pkl", b"\x80\x02" + b"(" * 5000 + b"t" * 5000 + b".")
    # A zip cut in half, and one whose central directory lies about an entry's size.
    write("hostile_truncated.pt", zip_bytes[: len(zip_bytes) // 2])
    lying = bytearray(write_zip(entries))
    name = b"archive/data/0"
    at = lying.rfind(b"PK\x01\x02", 0, lying.rfind(name))
    struct.pack_into("<II", lying, at + 20, 1 << 30, 1 << 30)
    write("hostile_size_lies.pt", bytes(lying))


if __name__ == "__main__":
    main()
