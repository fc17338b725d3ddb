#!/usr/bin/env python3
"""CPython's own random.sample, as Network Bending draws its random features
(util.py, create_random_transform_dict: random.sample(range(0, layer_dim), int(layer_dim * fraction))),
after random.seed(seed): the fixture tests/edit/test_edits.cpp checks actmap's
python_random_sample against (tests/fixtures/bending/python_random.json).

  python3 tests/reference/python_random.py tests/fixtures/bending/python_random.json
"""
import json
import platform
import random
import sys

CASES = [(0, 512, 256), (1, 512, 51), (7, 8, 4), (123, 64, 32), (2**40 + 3, 512, 500), (5, 20, 3),
         (9, 4, 0), (3, 256, 128), (11, 32, 32), (2**63 + 5, 1024, 100), (42, 100000, 7), (4, 512, 5), (4, 512, 6)]

out = []
for seed, n, k in CASES:
    random.seed(seed)
    out.append({"seed": seed, "n": n, "k": k, "sample": random.sample(range(n), k)})
# One stream: random.seed(seed), then several samples in a row (Network Bending's util.py draws
# every random transform of a config this way).
STREAMS = [(7, [(8, 4), (8, 4), (512, 3), (4, 2)]), (123, [(512, 256), (512, 51), (256, 128)])]
streams = []
for seed, draws in STREAMS:
    random.seed(seed)
    streams.append({"seed": seed, "draws": [[n, k] for n, k in draws],
                    "samples": [random.sample(range(n), k) for n, k in draws]})
path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/bending/python_random.json"
with open(path, "w") as f:
    json.dump({"generator": "tests/reference/python_random.py", "python": platform.python_version(), "cases": out,
               "streams": streams}, f)
    f.write("\n")
