#!/usr/bin/python3
"""An Autolume network-bending preset of our own, written the way Autolume writes one
(Metacreation-Lab/autolume, widgets/collapsable_layer.py: LayerWidget.save pickles
LayerWidget.get_params(), a 14-tuple whose second item lists the transforms as dnnlib.EasyDict
records {transformID, layerID, params, indices, mode, max_idx, percentage, low, high, cluster_ID,
cluster_config, cluster_path, type, imgui_id, use_osc, osc_address, mapping}; the preset widget
puts it in PRESET/layer.pkl). A stand-in dnnlib.util.EasyDict gives the pickle the same class
name; numpy scalars appear where Autolume's np.clip leaves them.

  /usr/bin/python3 tests/reference/make_autolume_preset.py tests/fixtures/bending/autolume_preset/layer.pkl

For the 16x16 test model tests/fixtures/stylegan2/skip16.json (b8.* 8 channels, b16.* 4)."""
import pickle
import sys
import types

import numpy as np

dnnlib = types.ModuleType("dnnlib")
util = types.ModuleType("dnnlib.util")


class EasyDict(dict):
    def __getattr__(self, name):
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value


EasyDict.__module__ = "dnnlib.util"
util.EasyDict = EasyDict
dnnlib.util = util
sys.modules["dnnlib"] = dnnlib
sys.modules["dnnlib.util"] = util


def transform(tid, layer, params, indices, mode=0, ptype="f", channels=8):
    return EasyDict({"transformID": tid, "layerID": layer, "params": params, "indices": indices, "mode": mode,
                     "max_idx": channels, "percentage": np.clip(0.5, 0, 1), "low": 0, "high": np.clip(channels, 0, channels),
                     "cluster_ID": 0, "cluster_config": None, "cluster_path": "", "type": ptype, "imgui_id": 7 + len(indices or []),
                     "use_osc": False, "osc_address": ["osc address"] * len(params), "mapping": ["x"] * len(params)})


transforms = [
    transform("translate", "b8.conv0", [2.0, -1.0], list(range(8))),          # pixels
    transform("rotate", "b8.conv1", [30.0], [1, 3, 5], mode=1),
    transform("erode", "b16.conv0", [3], [0, 2], ptype="ui", channels=4),       # kernel size 3: radius 1
    transform("flip-h", "b16.conv1", [True], list(range(4)), ptype="b", channels=4),  # rows: vertical
    transform("scalar-multiply", "b8.torgb", [np.float64(-2.0)], [0, 1, 2], channels=3),
    transform("ablate", "b8.conv0", [False], [4], ptype="b"),                   # switched off
    transform("invert", "b16.conv0", [True], [], ptype="b", channels=4),          # no indices: nothing
    transform("sobel", "b16.conv0", [True], [0], ptype="b", channels=4),
    transform("dilate", "b4.conv1", [2], [0, 1], ptype="ui"),                    # even: 3x3
]
state = (True, transforms, ["b4.conv1", "b8.conv0"], {"b8.conv0": True}, {}, {"b8.conv0": {"strength": 0.5}},
         {}, {}, {1, 2, 3}, "output", 0, False, np.float64(0.0), False)
path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/bending/autolume_preset/layer.pkl"
with open(path, "wb") as f:
    pickle.dump(state, f)
