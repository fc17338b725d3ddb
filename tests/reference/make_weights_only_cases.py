"""Rebuilds the cases of PyTorch's own weights_only tests as small files, with the verdict of
torch.load(weights_only=True) on each (tests/fixtures/weights_only/: NAME.pt and cases.json).

Run with Debian's /usr/bin/python3 and its python3-torch (1.13):
    /usr/bin/python3 tests/reference/make_weights_only_cases.py tests/fixtures/weights_only

The cases follow, by name, the tests of PyTorch 1.13's test/test_serialization.py that load with
weights_only=True (_test_serialization, _test_serialization_sparse, the sparse spoofers,
_test_serialization_backwards_compat's OldTensorV1/V2, new_format_old_format_compat,
test_pathlike_serialization, test_meta_serialization, test_weights_only_assert,
test_serialization_math_bits), made small; then one case for each rule of
torch/_weights_only_unpickler.py (each refused opcode, global and target), written as pickles by
hand. actmap's verdicts on them are compared in tests/io/test_weights_only.cpp.
"""
import collections
import io
import json
import os
import pickle
import struct
import sys

import torch

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
cases = []


def verdict(data):
    try:
        torch.load(io.BytesIO(data), weights_only=True)
        return "accept", ""
    except Exception as e:  # the verdict is what matters; the message is kept to read
        text = str(e)
        if "WeightsUnpickler error: " in text:
            text = text[text.index("WeightsUnpickler error: "):]
        return "refuse", (type(e).__name__ + ": " + (text.splitlines() or [""])[0].strip())[:200]


def add(name, data, source):
    v, why = verdict(data)
    with open(os.path.join(out_dir, name + ".pt"), "wb") as f:
        f.write(data)
    cases.append({"name": name, "source": source, "torch": v, "torch_error": why})


def saved(obj, zip_format=True):
    f = io.BytesIO()
    torch.save(obj, f, _use_new_zipfile_serialization=zip_format)
    return f.getvalue()


torch.manual_seed(0)

# --- test_serialization.py ---------------------------------------------------------------------


def serialization_data():  # SerializationMixin._test_serialization_data, smaller
    a = [torch.randn(3, 3).float() for _ in range(2)]
    b = [a[i % 2] for i in range(4)]
    b += [a[0].storage()]
    b += [a[0].reshape(-1)[1:4].storage()]
    b += [torch.arange(1, 11).int()]
    t1 = torch.FloatTensor().set_(a[0].reshape(-1)[1:4].clone().storage(), 0, (3,), (1,))
    t2 = torch.FloatTensor().set_(a[0].reshape(-1)[1:4].clone().storage(), 0, (3,), (1,))
    b += [(t1.storage(), t1.storage(), t2.storage())]
    b += [a[0].reshape(-1)[0:2].storage()]
    return b


add("serialization_data_zip", saved(serialization_data()), "_test_serialization(weights_only=True), zip format")
add("serialization_data_legacy", saved(serialization_data(), False), "_test_serialization(weights_only=True), legacy format")
add("bytes_value_legacy", saved([b"\xc5\xbc\xc4\x85", torch.zeros(1), 2], False),
    "_test_serialization's bytes value, as Python 3 pickles bytes at protocol 2 (_codecs.encode)")

x = torch.zeros(3, 3)
x[1][1] = 1
add("sparse_coo", saved({"tensor": x.to_sparse()}), "_test_serialization_sparse: to_sparse()")
add("sparse_csr", saved({"tensor": x.to_sparse_csr()}), "_test_serialization_sparse: to_sparse_csr()")


class SparseSpoofer:  # test_serialization_sparse_invalid
    def __init__(self, t):
        self.t = t

    def __reduce_ex__(self, proto):
        bad = self.t._indices().clone()
        bad[0][0] = 3
        return (torch._utils._rebuild_sparse_tensor, (self.t.layout, (bad, self.t._values(), self.t.size())))


add("sparse_invalid_indices", saved({"spoofed": SparseSpoofer(x.to_sparse())}), "test_serialization_sparse_invalid")


class OldTensorV1:  # _test_serialization_backwards_compat
    def __init__(self, t):
        self.t = t

    def __reduce__(self):
        return (torch.Tensor, (), (self.t.storage(), self.t.storage_offset(), tuple(self.t.size()), self.t.stride()))


class OldTensorV2(OldTensorV1):
    def __reduce__(self):
        return (torch._utils._rebuild_tensor, (self.t.storage(), self.t.storage_offset(), tuple(self.t.size()), self.t.stride()))


strided = torch.randn(30).as_strided([2, 3], [9, 3], 2)
add("old_tensor_v1", saved(OldTensorV1(strided)), "_test_serialization_backwards_compat: OldTensorV1 (torch.Tensor + BUILD)")
add("old_tensor_v2", saved(OldTensorV2(strided)), "_test_serialization_backwards_compat: OldTensorV2 (_rebuild_tensor)")
ones = [torch.ones(4, 4) for _ in range(3)]
add("ones_list_zip", saved(ones), "_test_serialization_new_format_old_format_compat, zip")
add("ones_list_legacy", saved(ones, False), "_test_serialization_new_format_old_format_compat, legacy")
add("conv_state_dict", saved(torch.nn.Conv2d(2, 4, kernel_size=3).state_dict()), "test_pathlike_serialization (state dict with _metadata)")
add("meta_state_dict", saved(torch.nn.Conv2d(2, 4, kernel_size=3, device="meta").state_dict()), "test_meta_serialization")


class HelloWorld:  # test_weights_only_assert
    def __reduce__(self):
        return (print, ("Hello World!",))


add("reduce_print", saved(HelloWorld()), "test_weights_only_assert")
c = torch.randn(1, dtype=torch.cfloat)
add("complex_conj", saved(torch.conj(c)), "test_serialization_math_bits: conj")
add("complex_neg_view", saved(torch._neg_view(c)), "test_serialization_math_bits: _neg_view")
t_attr = torch.zeros(2, 2)
t_attr.foo = "foo"
add("tensor_with_attribute", saved(t_attr), "test_serialization_python_attr (later PyTorch): a tensor with a Python attribute")
add("parameter", saved({"w": torch.nn.Parameter(torch.ones(2))}), "Parameter (_rebuild_parameter)")
add("bfloat16_and_half", saved({"b": torch.ones(2, dtype=torch.bfloat16), "h": torch.ones(2, dtype=torch.half)}), "float dtypes")
add("int_tensors", saved({"i": torch.arange(4), "u": torch.zeros(2, dtype=torch.uint8)}), "integer dtypes")
add("float_value", saved({"w": torch.ones(1), "lr": 0.5}), "a float beside the weights (BINFLOAT)")

# --- torch/_weights_only_unpickler.py, rule by rule ---------------------------------------------

P2 = b"\x80\x02"


def as_torch_save(pkl):
    """`pkl` as the data.pkl of a torch.save zip archive, written by torch's own writer."""
    f = io.BytesIO()
    with torch.serialization._open_zipfile_writer(f) as z:
        z.write_record("data.pkl", pkl, len(pkl))
    return f.getvalue()


def add_pickle(name, pkl, source):
    add(name, as_torch_save(pkl), source)

add_pickle("global_os_system", P2 + b"cos\nsystem\nX\x02\x00\x00\x00idq\x00\x85R.", "GLOBAL outside the allow-list (Unsupported class)")
add_pickle("global_getattr", P2 + b"cbuiltins\ngetattr\n(cbuiltins\nobject\nX\x01\x00\x00\x00xtR.", "builtins.getattr")
add_pickle("newobj_ordered_dict", P2 + b"ccollections\nOrderedDict\n)\x81.", "NEWOBJ of a class other than Parameter")
add_pickle("build_on_list", P2 + b"]}b.", "BUILD on something not a tensor, Parameter or OrderedDict")
add_pickle("append_to_dict", P2 + b"}Na.", "APPEND to something not a list")
add_pickle("appends_to_tuple", P2 + b")(Ne.", "APPENDS to something not a list")
add_pickle("persid_not_storage", P2 + b"X\x06\x00\x00\x00moduleq\x00\x85Q.", "BINPERSID of something not a storage")
add_pickle("memo_get_missing", P2 + b"h\x05.", "BINGET of a memo entry never put")
add_pickle("unknown_opcode_binfloat", P2 + b"G?\xf0\x00\x00\x00\x00\x00\x00.", "BINFLOAT (Unsupported operand)")
add_pickle("protocol4_stack_global", b"\x80\x04\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93)R.", "SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL (protocol 4)")
add_pickle("plain_dict", P2 + b"}X\x01\x00\x00\x00aK\x01s.", "a plain dict of an int")
add("empty_file", b"", "an empty file (EOFError)")
add_pickle("stop_on_empty_stack", P2 + b".", "STOP with nothing on the stack")
add_pickle("tensor_global_reduce", P2 + b"ctorch\nTensor\n)R.", "torch.Tensor() by REDUCE (allowed)")
add_pickle("torch_size", P2 + b"ctorch\nSize\n(K\x02K\x03t\x85R.", "torch.Size((2, 3)) by REDUCE (allowed)")
add_pickle("long1", P2 + b"\x8a\x09" + b"\x00" * 8 + b"\x01.", "LONG1 (an int past 64 bits)")
add_pickle("set_value", P2 + b"\x8f.", "EMPTY_SET")

with open(os.path.join(out_dir, "cases.json"), "w") as f:
    json.dump({"torch_version": torch.__version__, "cases": cases}, f, indent=1)
    f.write("\n")
print(len(cases), "cases;", sum(c["torch"] == "accept" for c in cases), "accepted by torch.load(weights_only=True)")
