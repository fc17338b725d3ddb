#!/usr/bin/python3
"""Network Bending's transforms computed by OpenCV itself, on activations actmap dumped, as
fixtures for tests/edit/test_ops.cpp (tests/fixtures/bending/opencv/).

Network Bending (terrybroad/network-bending) runs its geometric and morphological transforms as
small C++ ops over OpenCV, one channel at a time on the [H, W] float32 map (transforms/*/op.cpp):

  rotate:    getRotationMatrix2D(Point2f(size(0)/2, size(1)/2), angle, 1), warpAffine(src, M, src.size())
  scale:     getRotationMatrix2D(Point2f(size(0)/2, size(1)/2), 0, scale), warpAffine(...)
  translate: Matx23f(1, 0, tx * (float)size(0), 0, 1, ty * (float)size(1)), warpAffine(...)
  erode:     erode(src, dst, getStructuringElement(MORPH_ELLIPSE, Size(2r+1, 2r+1), Point(r, r)))
  dilate:    the same with dilate

warpAffine's defaults: INTER_LINEAR, BORDER_CONSTANT with 0. This script calls the same OpenCV
functions through Debian's python3-opencv (run it with /usr/bin/python3), so the fixtures are
OpenCV's numbers, not a re-implementation of them.

  /usr/bin/python3 tests/reference/make_bending_fixtures.py build/default/src/cli/actmap-cli

writes tests/fixtures/bending/opencv/<input>.npy (the maps, [C, H, W]), <input>.expected.npy
([cases, C, H, W]) and index.json (the inputs, where they came from, and the cases in order).
"""
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "bending", "opencv")


def nb_rotate(m, angle):
    centre = (m.shape[0] / 2.0, m.shape[1] / 2.0)
    return cv2.warpAffine(m, cv2.getRotationMatrix2D(centre, angle, 1), (m.shape[1], m.shape[0]))


def nb_scale(m, factor):
    centre = (m.shape[0] / 2.0, m.shape[1] / 2.0)
    return cv2.warpAffine(m, cv2.getRotationMatrix2D(centre, 0, factor), (m.shape[1], m.shape[0]))


def nb_translate(m, tx, ty):
    # C++: translate_x * (float)image.size(0) is a double, stored into a Matx23f (float).
    mat = np.array([[1, 0, np.float32(tx * float(np.float32(m.shape[0])))],
                    [0, 1, np.float32(ty * float(np.float32(m.shape[1])))]], dtype=np.float32)
    return cv2.warpAffine(m, mat, (m.shape[1], m.shape[0]))


def ellipse(r):
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1), (r, r))


def nb_erode(m, r):
    return cv2.erode(m, ellipse(r))


def nb_dilate(m, r):
    return cv2.dilate(m, ellipse(r))


# (actmap op, its parameters, the OpenCV computation): the parameters are what
# actmap-cli import-bending writes for the Network Bending transform of the same numbers.
CASES = (
    [("rotate", {"degrees": a, "convention": "network_bending"}, (lambda a: lambda m: nb_rotate(m, a))(a))
     for a in [45, 90, 180, 270, 30, -30, 200, 12.5, 359, 1]]
    + [("scale", {"factor": f, "convention": "network_bending"}, (lambda f: lambda m: nb_scale(m, f))(f))
       for f in [1.2, 0.7, 2.0, 0.5, -1.0, 1.37]]
    + [("translate", {"dx": x, "dy": y, "convention": "network_bending"}, (lambda x, y: lambda m: nb_translate(m, x, y))(x, y))
       for x, y in [(0.25, 0.0), (0.5, -0.2), (-0.13, 0.37), (0.1, 0.1), (0.03, -0.07), (1.5, 0.0)]]
    + [("erode", {"radius": r, "shape": "ellipse"}, (lambda r: lambda m: nb_erode(m, r))(r)) for r in [0, 1, 2, 3, 5]]
    + [("dilate", {"radius": r, "shape": "ellipse"}, (lambda r: lambda m: nb_dilate(m, r))(r)) for r in [1, 2, 3, 5]]
)


def dump_taps(cli, model, seed, taps):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([cli, "render", "--model", model, "--seed", str(seed), "--device", "cpu", "-o",
                        os.path.join(d, "out.png"), "--dump-taps", d], check=True, stdout=subprocess.DEVNULL)
        return {t: np.load(os.path.join(d, t + ".npy")) for t in taps}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cli = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    inputs = []
    skip16 = os.path.join(ROOT, "tests", "fixtures", "stylegan2", "skip16.json")
    for tap, maps in dump_taps(cli, skip16, 3, ["b4.conv1", "b8.conv1", "b16.conv0"]).items():
        inputs.append(("skip16_" + tap, maps[0], "actmap-cli render --model tests/fixtures/stylegan2/skip16.json "
                       "--seed 3 --dump-taps: " + tap))
    faces = dump_taps(cli, "faces64", 0, ["main.11"])["main.11"]
    inputs.append(("faces64_main.11", faces[0, :1], "actmap-cli render --model faces64 --seed 0 --dump-taps: "
                   "main.11, channel 0"))
    # Not square: Network Bending passes (size(0)/2, size(1)/2) = (H/2, W/2) as the (x, y) centre.
    rng = np.random.default_rng(17)
    inputs.append(("random_8x12", rng.standard_normal((2, 8, 12)).astype(np.float32),
                   "numpy default_rng(17).standard_normal((2, 8, 12)), float32"))
    index = {"generator": "tests/reference/make_bending_fixtures.py", "opencv": cv2.__version__,
             "cases": [{"op": op, "params": p} for op, p, _ in CASES], "inputs": []}
    for name, maps, source in inputs:
        maps = np.ascontiguousarray(maps, dtype=np.float32)
        expected = np.stack([np.stack([fn(np.ascontiguousarray(m)) for m in maps]) for _, _, fn in CASES])
        np.save(os.path.join(OUT, name + ".npy"), maps)
        np.save(os.path.join(OUT, name + ".expected.npy"), expected.astype(np.float32))
        index["inputs"].append({"name": name, "shape": list(maps.shape), "source": source})
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
