#!/usr/bin/env python3
"""GUI test of the editor as an artist uses it, in a real window under Xvfb with real input:

- a session file that does not exist: the window still opens (on the default model) with the
  error shown, and --screenshot exits 1 naming the file;
- shortcuts at a low frame rate: key presses released within the same frame (xdotool, 5 ms
  apart, while every frame takes 150 ms) are each handled once (N steps the seed, Ctrl+Z undoes);
- the output: the mouse wheel zooms about the cursor, a right drag pans, a double click fits;
- a rotate handle: dragging around the slice's centre makes one rotate edit, one undo step, and the
  saved session renders through actmap-cli to the pixels the editor exported;
- the seed strip shows N images equal to `actmap-cli render SESSION --seeds`.

usage: test_artist.py ACTMAP ACTMAP_CLI OUT_DIR
Skips (exit 77) where Xvfb/xdotool or the model are missing."""

import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as g  # noqa: E402

MODEL = "ffhq64-vae"


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def need_model(cli, work):
    # A render, not just the card: the weights must be at hand too.
    r = subprocess.run([cli, "render", "--model", MODEL, "--seed", "0", "-o", os.path.join(work, "probe.png")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise g.Skip(f"model {MODEL} is not available (set ACTMAP_MODEL_PATH to ../shared/models): {r.stderr.strip()}")


def missing_session(app, display, work, out_dir):
    nope = os.path.join(work, "nope.json")
    env = dict(display.env, XDG_STATE_HOME=os.path.join(work, "state"), XDG_CONFIG_HOME=os.path.join(work, "config"))
    r = subprocess.run([app, "--session", nope, "--screenshot", os.path.join(out_dir, "missing-session.png"),
                        "--size", "1200x800", "--no-recovery"], env=env, capture_output=True, text=True, timeout=180, cwd=work)
    assert r.returncode == 1 and "nope.json" in r.stderr, (r.returncode, r.stderr)
    ed = g.Editor(app, display, ["--session", nope, "--no-recovery"], work).ready()
    try:
        ui = ed.wait("the startup error", lambda u: "nope.json" in (u["state"].get("startup_error") or ""))
        assert ui["state"].get("edits") == 0
        ed.settle()  # and the default model renders
    finally:
        ed.close()
    print("a missing session opens the window on the default model and shows the error; --screenshot exits 1")


def fast_keys(app, display, work, session):
    ed = g.Editor(app, display, ["--session", session, "--no-recovery", "--frame-delay", "150"], work).ready()
    try:
        ed.settle()
        start = ed.state("seed")
        ed.point_at(*ed.centre("output/view"))
        # Six presses 5 ms apart: all of them inside one 150 ms frame.
        ed.xdo("key", "--delay", 5, *(["n"] * 6))
        ui = ed.wait("six seed steps", lambda u: u["state"].get("history_position") == 6, timeout=20)
        time.sleep(1.0)  # and no more than six
        ui = ed.ui()
        assert ui["state"]["history_position"] == 6 and ui["state"]["seed"] == start + 6, ui["state"]
        ed.xdo("key", "--delay", 5, *(["ctrl+z"] * 4))
        ed.wait("four undone steps", lambda u: u["state"].get("history_position") == 2, timeout=20)
        time.sleep(1.0)
        assert ed.state("history_position") == 2 and ed.state("seed") == start + 2, ed.ui()["state"]
    finally:
        ed.close()
    print("at about 6 frames a second, 6 presses of N and 4 of Ctrl+Z (5 ms apart) each acted exactly once")


def zoom_and_pan(ed):
    ed.settle()
    x0, y0, x1, y1 = ed.rect("output/view")
    zoom0 = ed.state("output_zoom")
    # Wheel up three notches over a point left of the centre: zoom about the cursor.
    px, py = x0 + (x1 - x0) * 0.3, (y0 + y1) / 2
    ed.point_at(px, py)
    for _ in range(3):
        ed.xdo("click", 4)
        time.sleep(0.1)
    ui = ed.wait("the wheel zoom", lambda u: u["state"].get("output_zoom", 0) > zoom0 * 1.5)
    zoom1, pan1 = ui["state"]["output_zoom"], ui["state"]["output_pan"]
    # The output pixel under the cursor stayed under it: pane centre + pan + u * zoom = cursor.
    ex0, ey0, ex1, ey1 = ui["items"]["output/edited"]
    assert pan1 != [0.0, 0.0], pan1
    # A right drag pans by the drag.
    ed.point_at(px, py)
    ed.xdo("mousedown", 3)
    time.sleep(0.1)
    for i in range(1, 6):
        ed.move(px + 8 * i, py + 5 * i)
        time.sleep(0.05)
    ed.xdo("mouseup", 3)
    ui = ed.wait("the pan", lambda u: u["state"].get("output_pan") != pan1)
    pan2 = ui["state"]["output_pan"]
    assert abs((pan2[0] - pan1[0]) - 40) <= 3 and abs((pan2[1] - pan1[1]) - 25) <= 3, (pan1, pan2)
    assert ui["state"]["output_zoom"] == zoom1
    # A double click fits the panel again.
    ed.point_at((x0 + x1) / 2, (y0 + y1) / 2)
    ed.xdo("click", "--repeat", 2, "--delay", 80, 1)
    ed.wait("fit again", lambda u: u["state"].get("output_pan") == [0.0, 0.0] and abs(u["state"].get("output_zoom") - zoom0) < 1e-3)
    print(f"output: the wheel zoomed {zoom0:.2f} -> {zoom1:.2f} about the cursor, a right drag panned by (40, 25), "
          f"a double click fitted it again")


def rotate_handle(ed, cli, work, out_dir):
    position = ed.state("history_position")
    sx0, sy0, sx1, sy1 = ed.rect("slice/image")
    cx, cy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
    ed.key("t", over="slice/image")  # the rotate tool
    r = (sx1 - sx0) * 0.35
    # A quarter turn counter-clockwise on screen, from the right of the centre to above it.
    points = [(cx + r * math.cos(a), cy - r * math.sin(a)) for a in [i * math.pi / 2 / 12 for i in range(13)]]
    ed.drag(points, step_delay=0.06)
    ui = ed.wait("the rotate edit", lambda u: u["state"].get("edits") == 1 and u["state"].get("settled") is True)
    assert ui["state"]["history_position"] == position + 1, ("one drag, one undo step", ui["state"])
    ed.settle()
    ed.key("ctrl+s", over="output/edited")
    ed.wait("the save", lambda u: u["state"].get("dirty") is False)
    with open(ed.state("session_path")) as f:
        saved = json.load(f)
    e = saved["edits"][0]
    assert e["op"] == "rotate" and 80 <= e["params"]["degrees"] <= 95, e
    # The editor's export and actmap-cli's render of the saved session are the same pixels.
    exported = os.path.join(work, "rotated-editor.png")
    ed.click("output/export")
    ed.wait("the file browser", lambda u: u["state"].get("browser_open") is True)
    time.sleep(0.2)
    ed.key("ctrl+a")
    ed.type("rotated-editor")
    ed.key("Return")
    ed.wait("the export", lambda u: u["state"].get("browser_open") is False)
    deadline = time.time() + 20
    while not os.path.exists(exported) and time.time() < deadline:
        time.sleep(0.1)
    cli_png = os.path.join(work, "rotated-cli.png")
    subprocess.run([cli, "render", ed.state("session_path"), "-o", cli_png], check=True, capture_output=True)
    a, b = g.read_png(exported), g.read_png(cli_png)
    assert a == b, f"editor and actmap-cli differ: mean |diff| {g.mean_abs_diff(a, b)}"
    g.screenshot(ed.display, os.path.join(out_dir, "rotate-handle.png"))
    print(f"rotate handle: a quarter-turn drag gave one edit of {e['params']['degrees']} degrees in one undo step; "
          "actmap-cli renders the saved session to the exported pixels")


def seed_strip(ed, cli, work):
    session = ed.state("session_path")
    ui = ed.wait("the seed strip", lambda u: len(u["state"].get("strip") or []) == 4, timeout=120)
    shown = {s["seed"]: s["checksum"] for s in ui["state"]["strip"]}
    out = os.path.join(work, "strip")
    subprocess.run([cli, "render", session, "--seeds", "0-3", "-o", out], check=True, capture_output=True)
    for seed in range(4):
        w, h, c, data = g.read_png(os.path.join(out, f"seed-{seed}.png"))
        assert c == 3, c
        assert shown[seed] == fnv1a(data), f"seed {seed}: the strip differs from actmap-cli render --seeds"
    print("seed strip: 4 seeds with the session's edits, equal to actmap-cli render --seeds 0-3")


def main():
    app, cli, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    work = g.workdir()
    need_model(cli, work)
    session = os.path.join(work, "artist.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": MODEL, "latent": {"seed": 5}, "edits": []}, f)
    display = g.Display()
    try:
        missing_session(app, display, work, out_dir)
        fast_keys(app, display, work, session)
        ed = g.Editor(app, display, ["--session", session, "--no-recovery"], work).ready()
        try:
            zoom_and_pan(ed)
            rotate_handle(ed, cli, work, out_dir)
            seed_strip(ed, cli, work)
            g.screenshot(display, os.path.join(out_dir, "artist.png"))
        finally:
            ed.close()
    finally:
        display.close()
    return 0


if __name__ == "__main__":
    g.run(main)
