#!/usr/bin/env python3
"""GUI test of the depth sweep and channel sensitivity in a real window: open a session with a
brush edit, open the edit in the stack and press "Sweep depth" (a background job; the sweep window
shows one result per layer), then compute the Sensitivity tab of the Channels window and click the
top bar, which selects that channel. Screenshots go to OUT_DIR.

usage: test_research.py ACTMAP ACTMAP_CLI OUT_DIR
Skips (exit 77) where Xvfb/xdotool are missing."""

import csv
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as g  # noqa: E402

MODEL = "faces64"  # 5 taps; main.8 has 64 channels of 16 x 16
TAP = "main.8"


def main():
    app, cli, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    work = g.workdir()
    session = os.path.join(work, "research.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": MODEL, "latent": {"seed": 4}, "edits": [
            {"id": "e1", "tap": "main.5", "channels": {"range": [0, 31]}, "op": "brush",
             "params": {"points": [[2, 2], [6, 6]], "radius": 1.5, "strength": 4}}]}, f)

    display = g.Display()
    ed = g.Editor(app, display, ["--session", session, "--no-recovery"], work).ready()
    try:
        ed.settle()
        ed.click("edit/e1")
        ed.wait("the open edit", lambda u: "edit/e1/sweep" in u["items"])
        ed.click("edit/e1/sweep")
        ui = ed.wait("the sweep", lambda u: u["state"].get("sweep_taps") == 5, timeout=120)
        assert "sweep/strip" in ui["items"], "the sweep window shows no strip"
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "sweep.png"))
        print("depth sweep: 5 layers in the sweep window")

        ed.click("tap/" + TAP)
        ed.wait("the layer", lambda u: u["state"].get("tap") == 2)
        ed.click("tab/sensitivity")
        ed.click("sensitivity/compute")
        ui = ed.wait("the sensitivity", lambda u: u["state"].get("sensitivity_top") is not None, timeout=120)
        top = ui["state"]["sensitivity_top"]
        ed.wait("the bars", lambda u: "sensitivity/bar/0" in u["items"])
        ed.click("sensitivity/bar/0")
        ui = ed.wait("the channel selected", lambda u: u["state"].get("focus") == top and u["state"].get("selected") == 1)
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "sensitivity.png"))
        print(f"sensitivity: channel {top} ranks first; clicking its bar selected it")
    finally:
        ed.close()
    display.close()

    # A Network Bending config of our own in its layout, imported with its cluster dictionary:
    # channels the dictionary leaves out are in no cluster (-1). The window opens the session,
    # shows that layer's grid and Clusters tab, and renders without an error.
    fixtures = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
    bent = os.path.join(work, "bent.json")
    r = subprocess.run([cli, "import-bending", os.path.join(fixtures, "bending", "nb_layout_example.yaml"),
                        "-m", os.path.join(fixtures, "stylegan2", "skip16.json"),
                        "--clusters", os.path.join(fixtures, "bending", "nb_layout_clusters.yaml"), "-o", bent],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    display = g.Display()
    ed = g.Editor(app, display, ["--session", bent, "--no-recovery"], work).ready()
    try:
        ui = ed.settle()
        labels = ui["state"]["clusters"]["b8.conv1"]
        assert labels.count(-1) == 2, labels  # the dictionary's layer 2 leaves out channels 2 and 6
        ed.click("tap/b8.conv1")
        ed.wait("the layer", lambda u: u["state"].get("tap") == 4)
        ed.click("tab/clusters")
        ui = ed.settle()
        assert not ui["state"].get("error"), ui["state"].get("error")
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "bending_clusters.png"))
        print(f"network bending import: {ui['state']['edits']} edits; b8.conv1 shown with channels in no cluster")
    finally:
        ed.close()
    display.close()

    # The same ranking from actmap-cli (same seeds, same op).
    out = os.path.join(work, "sens.csv")
    r = subprocess.run([cli, "sensitivity", "-m", MODEL, "--tap", TAP, "--samples", "16", "-o", out], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        first = next(csv.DictReader(f))
    assert int(first["channel"]) == top, (first, top)
    print("actmap-cli sensitivity ranks the same channel first")
    return 0


if __name__ == "__main__":
    g.run(main)
