#!/usr/bin/env python3
"""GUI test of the StyleGAN3 tab in a real window: on the small T-config fixture
(tests/fixtures/stylegan3/t32.json) drag the input transform's rotate slider, check that the drag
is one undo step in the session's synthesis settings, save with Ctrl+S, and check that actmap-cli
renders the saved session to the pixels the editor exported and that the rotation changed them.

usage: test_stylegan3.py ACTMAP ACTMAP_CLI OUT_DIR"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as g  # noqa: E402

CARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stylegan3", "t32.json")


def main():
    app, cli, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    work = g.workdir()
    session = os.path.join(work, "sg3.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": os.path.abspath(CARD), "latent": {"seed": 4}, "edits": []}, f)
    display = g.Display()
    ed = g.Editor(app, display, ["--session", session, "--no-recovery", "--seed-strip", "0"], work).ready()
    try:
        ed.settle()
        ed.click("tab/stylegan")
        ed.wait("the StyleGAN3 tab", lambda u: "sg/input-rotate" in u.get("items", {}))
        position = ed.state("history_position")
        # The rotate slider spans [-180, 180]: drag its knob from the middle (0) to three quarters (90).
        x0, y0, x1, y1 = ed.rect("sg/input-rotate")
        yc = (y0 + y1) / 2
        start, end = (x0 + x1) / 2, x0 + (x1 - x0) * 0.75
        ed.drag([(start + (end - start) * t / 10, yc) for t in range(11)])
        ui = ed.wait("the rotation", lambda u: abs(u["state"]["synthesis"].get("input_rotate", 0)) > 30)
        assert ui["state"]["history_position"] == position + 1, ("one drag, one undo step", ui["state"])
        rotate = ui["state"]["synthesis"]["input_rotate"]
        ed.settle()
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "stylegan3.png"))
        ed.key("ctrl+s", over="output/edited")
        ed.wait("the save", lambda u: u["state"].get("dirty") is False)
    finally:
        ed.close()
    display.close()

    with open(session) as f:
        saved = json.load(f)
    assert abs(saved["synthesis"]["input_rotate"] - rotate) < 1e-4, (saved["synthesis"], rotate)
    out, bare_out = os.path.join(work, "rotated.png"), os.path.join(work, "bare.png")
    subprocess.run([cli, "render", session, "-o", out], check=True, capture_output=True)
    bare = dict(saved, synthesis={})
    with open(os.path.join(work, "bare.json"), "w") as f:
        json.dump(bare, f)
    subprocess.run([cli, "render", os.path.join(work, "bare.json"), "-o", bare_out], check=True, capture_output=True)
    # The same rotation through actmap-cli's own option gives the same pixels.
    flag_out = os.path.join(work, "flag.png")
    subprocess.run([cli, "render", os.path.join(work, "bare.json"), "--input-rotate", str(rotate), "-o", flag_out],
                   check=True, capture_output=True)
    a, b, c = g.read_png(out), g.read_png(bare_out), g.read_png(flag_out)
    assert a == c, "the saved session and render --input-rotate differ"
    assert g.mean_abs_diff(a, b) > 1.0, "rotating the input did not change the image"
    print(f"StyleGAN3: a rotate drag gave input_rotate {rotate:.1f} in one undo step; the saved session renders "
          f"like render --input-rotate, and differs from the unrotated image by {g.mean_abs_diff(a, b):.1f}")
    return 0


if __name__ == "__main__":
    g.run(main)
