#!/usr/bin/env python3
"""GUI test of the StyleGAN2 tab in a real window, on the small random-weight StyleGAN2 fixture
(tests/fixtures/stylegan2/skip16.json): pick the noise mode, drag the truncation slider, tick W+
rows with the mouse, style-mix them from another seed, save with Ctrl+S, and check that the saved
session holds the settings and the edit and renders through actmap-cli to the pixels the window
exported. A screenshot goes to OUT_DIR/stylegan.png.

usage: test_stylegan.py ACTMAP ACTMAP_CLI OUT_DIR
Skips (exit 77) where Xvfb/xdotool are missing."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as g  # noqa: E402

CARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stylegan2", "skip16.json")


def main():
    app, cli, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    work = g.workdir()
    session = os.path.join(work, "sg.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": os.path.abspath(CARD), "latent": {"seed": 2}, "edits": []}, f)

    display = g.Display()
    ed = g.Editor(app, display, ["--session", session, "--no-recovery"], work).ready()
    try:
        ed.settle()
        ed.click("tab/stylegan")
        ed.wait("the StyleGAN2 tab", lambda u: "synthesis" in u["state"])

        # Noise: pick "none".
        ed.click("sg/noise/none")
        ed.wait("noise none", lambda u: u["state"]["synthesis"]["noise_mode"] == "none")

        # Truncation: drag the slider's knob from the right end to about the middle.
        x0, y0, x1, y1 = ed.rect("sg/psi")
        yc = (y0 + y1) / 2
        start = x0 + (x1 - x0) * (1.0 / 1.5)  # psi 1 of [0, 1.5]
        ed.drag([(start + (x0 + (x1 - x0) * 0.35 - start) * t / 10, yc) for t in range(11)])
        ui = ed.wait("truncation", lambda u: u["state"]["synthesis"]["truncation_psi"] < 0.9)
        psi = ui["state"]["synthesis"]["truncation_psi"]

        for r in (0, 1, 2):
            ed.click(f"sg/row/{r}")
        ed.wait("three ticked rows", lambda u: u["state"].get("ws_rows") == [0, 1, 2])
        ed.click("sg/mix")
        ed.wait("the style-mix edit", lambda u: u["state"].get("edits") == 1)
        ed.settle()
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "stylegan.png"))
        ed.key("ctrl+s", over="output/edited")
        ed.wait("the save", lambda u: u["state"].get("dirty") is False)
    finally:
        ed.close()
    display.close()

    with open(session) as f:
        saved = json.load(f)
    assert saved["synthesis"]["noise_mode"] == "none", saved.get("synthesis")
    assert abs(saved["synthesis"]["truncation_psi"] - psi) < 1e-6, (saved["synthesis"], psi)
    e = saved["edits"][0]
    assert e["tap"] == "mapping" and e["op"] == "style_mix" and e["channels"] == [0, 1, 2], e
    assert e["params"]["seed"] == 1, e
    out = os.path.join(work, "saved.png")
    r = subprocess.run([cli, "render", session, "-o", out], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # The edit changes the picture: render without it and compare.
    bare = dict(saved, edits=[])
    with open(os.path.join(work, "bare.json"), "w") as f:
        json.dump(bare, f)
    r = subprocess.run([cli, "render", os.path.join(work, "bare.json"), "-o", os.path.join(work, "bare.png")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    diff = g.mean_abs_diff(g.read_png(out), g.read_png(os.path.join(work, "bare.png")))
    assert diff > 0.5, diff
    print(f"noise none, truncation {psi:.2f}, rows 0-2 mixed from seed 1 (mean |diff| {diff:.1f}); "
          "the saved session renders through actmap-cli")
    return 0


if __name__ == "__main__":
    g.run(main)
