#!/usr/bin/env python3
"""GUI test of feature clustering and unit dissection in a real window: open a layer, compute its
clusters in the Clusters tab (a background job), pick another k from the silhouette table, select
a cluster (its channels get selected and the slice tools apply to it); paint a region on the
output in Dissect mode, run a dissection, ablate the top units and read the measured effect;
save, and check the saved session holds the clusters and the edit and renders through actmap-cli.
Screenshots of both tabs go to OUT_DIR.

usage: test_analysis.py ACTMAP ACTMAP_CLI OUT_DIR
Skips (exit 77) where Xvfb/xdotool are missing."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as g  # noqa: E402

MODEL = "faces64"  # the default model, shipped in models/
TAP = "main.8"     # 64 x 16 x 16, depth 2 of 5: default k 4


def main():
    app, cli, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    work = g.workdir()
    session = os.path.join(work, "analysis.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": MODEL, "latent": {"seed": 5}, "edits": []}, f)

    display = g.Display()
    ed = g.Editor(app, display, ["--session", session, "--no-recovery"], work).ready()
    try:
        ed.settle()
        ed.click("tap/" + TAP)
        ed.wait("the layer", lambda u: u["state"].get("tap") == 2)
        ed.settle()

        # Clusters: compute with the default k (4), then use k = 3 from the silhouette table.
        ed.click("tab/clusters")
        ed.click("clusters/compute")
        ui = ed.wait("the clusters", lambda u: TAP in u["state"].get("clusters", {}), timeout=120)
        labels = ui["state"]["clusters"][TAP]
        assert len(labels) == 64 and max(labels) == 3, labels
        ed.click("clusters/k/3")
        ui = ed.wait("k = 3", lambda u: max(u["state"]["clusters"].get(TAP, [0])) == 2)
        labels = ui["state"]["clusters"][TAP]
        ed.settle()
        ed.click("clusters/select/1")
        ui = ed.wait("cluster 1 selected", lambda u: u["state"].get("apply_to_cluster") == 1)
        assert ui["state"]["selected"] == labels.count(1), (ui["state"]["selected"], labels.count(1))
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "clusters.png"))
        print(f"clusters: k 4 computed, k 3 picked from the table, cluster 1 ({labels.count(1)} channels) selected")

        # Dissection: paint the top-left of the face, run, ablate the top units.
        ed.click("output/dissect")
        ed.click("tab/dissect")
        ed.settle()
        x0, y0, x1, y1 = ed.rect("output/edited")
        w, h = x1 - x0, y1 - y0
        ed.drag([(x0 + w * (0.25 + 0.02 * i), y0 + h * 0.3) for i in range(12)])
        ed.wait("the painted region", lambda u: u["state"].get("region_pixels", 0) > 20)
        ed.click("dissect/run")
        ui = ed.wait("the ranking", lambda u: len(u["state"].get("dissect_best", [])) == 5, timeout=120)
        best = ui["state"]["dissect_best"]
        ed.click("dissect/ablate")
        ui = ed.wait("the measured effect", lambda u: u["state"].get("effect") and u["state"].get("edits") == 1, timeout=120)
        inside, outside = ui["state"]["effect"]
        ed.settle()
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "dissect.png"))
        print(f"dissection: top units {best}; ablating them changed the region by {inside:.2f} and the rest by {outside:.2f}")

        ed.key("ctrl+s", over="output/edited")
        ed.wait("the save", lambda u: u["state"].get("dirty") is False)
    finally:
        ed.close()
    display.close()

    with open(session) as f:
        saved = json.load(f)
    assert saved["clusters"][TAP] == labels, "the saved clusters differ from the window's"
    assert saved["edits"][0]["op"] == "ablate" and saved["edits"][0]["channels"] == best, saved["edits"]
    r = subprocess.run([cli, "render", session, "-o", os.path.join(work, "saved.png")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    print("the saved session holds the clusters and the ablation, and renders through actmap-cli")
    return 0


if __name__ == "__main__":
    g.run(main)
