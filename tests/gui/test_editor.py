#!/usr/bin/env python3
"""GUI test of the editor in a real window: open a layer, pick a channel, paint a brush stroke,
press Predict, export the output, save the session; then check that the output changed, that the
saved session renders through actmap-cli to exactly the exported pixels, and that undo restores
the original pixels. Also: the scripted screenshot mode, and crash recovery.

usage: test_editor.py ACTMAP ACTMAP_CLI OUT_DIR
Skips (exit 77) where Xvfb/xdotool or the model are missing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as g  # noqa: E402

MODEL = "ffhq64-vae"
TAP = "main.11"  # 64 x 16 x 16


def find_card(cli):
    r = subprocess.run([cli, "layers", "--model", MODEL], capture_output=True, text=True)
    if r.returncode != 0:
        raise g.Skip(f"model {MODEL} is not available (set ACTMAP_MODEL_PATH to ../shared/models): {r.stderr.strip()}")


def render(cli, session, out):
    subprocess.run([cli, "render", session, "-o", out], check=True, capture_output=True)
    return g.read_png(out)


def export_output(ed, name):
    """Output > Export PNG, type the file name into the browser, Enter."""
    ed.click("output/export")
    ed.wait("the file browser", lambda u: u.get("state", {}).get("browser_open") is True)
    time.sleep(0.2)
    ed.key("ctrl+a")
    ed.type(name)
    ed.key("Return")
    ed.wait("the file browser to close", lambda u: u.get("state", {}).get("browser_open") is False)


def main():
    app, cli, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    find_card(cli)
    work = g.workdir()
    session = os.path.join(work, "face.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": MODEL, "latent": {"seed": 3}, "edits": []}, f)
    original = render(cli, session, os.path.join(work, "original-cli.png"))

    display = g.Display()
    ed = g.Editor(app, display, ["--session", session, "--no-recovery"], work).ready()
    try:
        ed.settle()
        ed.click("tap/" + TAP)
        ed.wait("the layer to open", lambda u: u["state"].get("tap") == 3)
        ed.settle()
        ed.click("cell/5")
        ed.wait("channel 5", lambda u: u["state"].get("focus") == 5)
        ed.click("tool/Brush")
        ed.click("checkbox/auto")  # Auto off: the stroke renders only when Predict is pressed
        ed.settle()

        x0, y0, x1, y1 = ed.rect("slice/image")
        w, h = x1 - x0, y1 - y0
        stroke = [(x0 + w * (0.2 + 0.05 * i), y0 + h * (0.3 + 0.03 * i)) for i in range(12)]
        ed.drag(stroke)
        ed.wait("the stroke's edit", lambda u: u["state"].get("edits") == 1)
        ed.click("button/predict")
        ed.settle()
        ed.move(*ed.centre("output/edited"))
        shutil.copy(ed.map_path, os.path.join(out_dir, "ui-map-after-stroke.json"))

        export_output(ed, "edited.png")
        edited_path = os.path.join(work, "edited.png")
        ed.wait("the exported PNG", lambda u: os.path.exists(edited_path))

        ed.key("ctrl+s", over="output/edited")
        ed.wait("the save", lambda u: u["state"].get("dirty") is False)

        # Undo restores the original pixels.
        ed.key("ctrl+z", over="output/edited")
        ed.wait("the undo", lambda u: u["state"].get("edits") == 0)
        ed.click("button/predict")
        ed.settle()
        export_output(ed, "undone.png")
        undone_path = os.path.join(work, "undone.png")
        ed.wait("the exported PNG after undo", lambda u: os.path.exists(undone_path))
    finally:
        ed.close()

    edited = g.read_png(edited_path)
    undone = g.read_png(undone_path)
    change = g.mean_abs_diff(edited, original)
    assert change > 0.5, f"the brush stroke did not change the output (mean |diff| {change:.3f})"
    with open(session) as f:
        saved = json.load(f)
    assert len(saved["edits"]) == 1 and saved["edits"][0]["op"] == "brush", saved["edits"]
    assert saved["edits"][0]["tap"] == TAP and saved["edits"][0]["channels"] == 5, saved["edits"][0]
    cli_edited = render(cli, session, os.path.join(work, "edited-cli.png"))
    assert cli_edited == edited, "actmap-cli render of the saved session differs from the window's export"
    assert undone == original, "undo did not restore the original pixels"
    print(f"stroke changed the output by {change:.2f} (mean |diff| of 8-bit values); "
          f"CLI render of the saved session equals the window's export; undo restores the original")

    # The scripted screenshot of the saved session, for people to look at.
    shot = os.path.join(out_dir, "editor.png")
    env = dict(display.env, XDG_STATE_HOME=os.path.join(work, "state"), XDG_CONFIG_HOME=os.path.join(work, "config"))
    r = subprocess.run([app, "--session", session, "--screenshot", shot, "--frames", "3", "--size", "1600x1000", "--scale", "1"],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    sw, sh, _, _ = g.read_png(shot)
    assert (sw, sh) == (1600, 1000), (sw, sh)

    # A session that does not open: the window still comes up (on the default model) and shows
    # the error; a scripted screenshot says so on stderr and exits 1.
    bad = os.path.join(work, "bad.json")
    with open(bad, "w") as f:
        json.dump({"actmap_session": 1, "model": MODEL, "latent": {"seed": 2},
                   "edits": [{"id": "x", "tap": "main.8", "op": "ablate", "channels": 999}]}, f)
    r = subprocess.run([app, "--session", bad, "--screenshot", os.path.join(out_dir, "bad-session.png"), "--size", "1200x800"],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 1 and "bad.json: /edits/0/channels: channel 999" in r.stderr, (r.returncode, r.stderr)

    # The first editor ended (SIGTERM) with its undo unsaved, so it left a recovery file: the
    # editor behaves as it should, but this part wants a clean start.
    recovery = os.path.join(work, "state", "actmap", "recovery")
    assert os.path.isdir(recovery) and os.listdir(recovery), "SIGTERM with unsaved changes left no recovery file"
    shutil.rmtree(recovery)

    # Crash recovery: an unsaved change survives a kill, and is offered at the next start.
    ed = g.Editor(app, display, ["--session", session], work).ready()
    try:
        ed.settle()
        ed.click("latent/next")
        ed.wait("the unsaved change", lambda u: u["state"].get("dirty") is True)
        deadline = time.time() + 20
        while time.time() < deadline and not (os.path.isdir(recovery) and os.listdir(recovery)):
            time.sleep(0.2)
        assert os.listdir(recovery), "no recovery file was written"
        ed.proc.send_signal(signal.SIGKILL)
        ed.proc.wait()
    finally:
        ed.close()
    ed = g.Editor(app, display, [], work).ready()
    try:
        ed.click("recovery/recover")
        ed.wait("the recovered session", lambda u: u["state"].get("dirty") is True and
                u["state"].get("session_path") == session)
        ed.settle()
    finally:
        ed.close()
    print("recovery: an unsaved change survived SIGKILL and was recovered at the next start")

    # An untitled session: N steps the seed, Ctrl+S asks for a name in the file browser.
    ed = g.Editor(app, display, ["--no-recovery", "--model", MODEL], work).ready()
    try:
        ed.settle()
        ed.key("n", over="output/edited")
        ed.wait("the next seed", lambda u: u["state"].get("dirty") is True)
        ed.key("ctrl+s", over="output/edited")
        ed.wait("the file browser", lambda u: u["state"].get("browser_open") is True)
        time.sleep(0.2)
        ed.key("ctrl+a")
        ed.type("untitled-saved")
        ed.key("Return")
        ed.wait("the save", lambda u: u["state"].get("dirty") is False and u["state"].get("session_path", "").endswith(
            "untitled-saved.json"))
        # Two edits from the op list, then drag the second above the first; undo puts it back.
        ed.click("edits/add")
        ed.click("edits/add")
        ed.wait("two edits", lambda u: u["state"].get("edit_order") == ["e1", "e2"])
        (ax, ay), (bx, by) = ed.centre("edit/e1"), ed.centre("edit/e2")
        ed.drag([(bx, by), (bx, by - 4), (bx, (ay + by) / 2), (ax, ay - 2), (ax, ay)], step_delay=0.1)
        ed.wait("the reorder", lambda u: u["state"].get("edit_order") == ["e2", "e1"])
        ed.key("ctrl+z", over="output/edited")
        ed.wait("the undone reorder", lambda u: u["state"].get("edit_order") == ["e1", "e2"])
    finally:
        ed.close()
    print("edits added from the op list reorder by drag and drop, and undo restores the order")
    with open(os.path.join(work, "untitled-saved.json")) as f:
        saved = json.load(f)
    assert saved["latent"] == {"seed": 1}, saved["latent"]
    print("an untitled session is saved through the file browser, with the .json extension added")
    display.close()
    return 0


if __name__ == "__main__":
    g.run(main)
