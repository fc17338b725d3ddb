#!/usr/bin/env python3
"""GUI test of registry downloads in a real window, against a local HTTP server
(tests/net/http_test_server.py): the Model menu offers a registry model that is not at hand;
Download shows progress in a small window; Cancel keeps a partial file; downloading again resumes
it (a Range request), verifies it, and the model appears in the Model menu and opens. A corrupted
file shows the sha256 error in the window. Screenshots go to OUT_DIR for people to look at.

usage: test_download.py ACTMAP OUT_DIR
Skips (exit 77) where Xvfb/xdotool are missing."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gui_driver as g  # noqa: E402

FIXTURE = os.path.join(HERE, "..", "fixtures", "dcgan32")
SERVER = os.path.join(HERE, "..", "net", "http_test_server.py")


def write_registry(work, port):
    """Two models of the dcgan32 test weights: one served slowly, one corrupted."""
    weights = os.path.join(work, "www", "weights.safetensors")
    with open(weights, "rb") as f:
        data = f.read()
    models = []
    for name, mode in (("guitest", "slow-20000"), ("guibad", "corrupt")):
        with open(os.path.join(FIXTURE, "card.json")) as f:
            card = json.load(f)
        card.update(name=name, license="MIT", weights=f"{name}/weights.safetensors")
        with open(os.path.join(work, "registry", name + ".json"), "w") as f:
            json.dump(card, f)
        models.append({"name": name, "family": "dcgan", "card": name + ".json", "license": "MIT",
                       "description": "the dcgan32 test model", "format": "safetensors",
                       "url": f"http://127.0.0.1:{port}/{mode}/weights.safetensors",
                       "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    path = os.path.join(work, "registry", "registry.json")
    with open(path, "w") as f:
        json.dump({"actmap_model_registry": 1, "models": models}, f)
    return path, data


def shot(ed, display, out_dir, name, item):
    """A screenshot once `item` is drawn, with the pointer on the progress bar (no tooltips)."""
    ed.wait(f"widget {item}", lambda u: item in u["items"])
    ed.move(*ed.centre("download/progress"))
    time.sleep(0.3)
    g.screenshot(display, os.path.join(out_dir, name))


def open_model_menu(ed):
    ed.click("menu/model")
    ed.wait("the Model menu", lambda u: u["state"].get("popup_open") is True)


def drive(app, out_dir, cache, part, log, data):
    display = g.Display()
    try:
        ed = g.Editor(app, display, ["--no-recovery"], os.path.dirname(log)).ready()
    except BaseException:
        display.close()
        raise
    try:
        ed.settle()
        open_model_menu(ed)
        ui = ed.wait("the Download entries", lambda u: "download/guitest" in u["items"] and "download/guibad" in u["items"])
        assert "model/guitest" not in ui["items"], "a model not yet downloaded is listed as present"
        ed.click("download/guitest")
        ed.wait("the download to start", lambda u: u["state"].get("download") == "running")
        ed.wait("some bytes", lambda u: u["state"].get("download_bytes", 0) >= 15000)
        shot(ed, display, out_dir, "download-progress.png", "download/cancel")
        ed.click("download/cancel")
        ed.wait("the cancel", lambda u: u["state"].get("download") == "cancelled")
        kept = os.path.getsize(part)
        assert 0 < kept < len(data), f"the cancelled download kept {kept} bytes"
        shot(ed, display, out_dir, "download-cancelled.png", "download/close")
        ed.click("download/close")
        ed.wait("the window to close", lambda u: u["state"].get("download") == "idle")

        # Again: resumes from the partial file, verifies, and the model is in the menu.
        open_model_menu(ed)
        ed.click("download/guitest")
        ed.wait("the download to finish", lambda u: u["state"].get("download") == "done", timeout=30)
        shot(ed, display, out_dir, "download-done.png", "download/open")
        with open(log) as f:
            requests = [json.loads(line) for line in f]
        assert requests[-1]["range"] == f"bytes={kept}-" and requests[-1]["status"] == 206, requests
        weights = os.path.join(cache, "actmap", "models", "guitest", "weights.safetensors")
        with open(weights, "rb") as f:
            assert f.read() == data, "the downloaded weights differ from the served file"
        assert not os.path.exists(part)
        ed.click("download/close")
        open_model_menu(ed)
        ui = ed.wait("guitest in the Model menu", lambda u: "model/guitest" in u["items"])
        assert "download/guitest" not in ui["items"], "a downloaded model is still offered for download"
        ed.click("model/guitest")
        ed.wait("the new session", lambda u: u["state"].get("popup_open") is False)
        ed.settle()
        assert ed.state("error") == "", ed.state("error")

        # A corrupted file: refused, with the sha256 error in the window.
        open_model_menu(ed)
        ed.click("download/guibad")
        ui = ed.wait("the failure", lambda u: u["state"].get("download") == "failed")
        error = ui["state"]["download_error"]
        assert "sha256 mismatch" in error and hashlib.sha256(data).hexdigest() in error, error
        shot(ed, display, out_dir, "download-error.png", "download/error")
        assert not os.path.exists(os.path.join(cache, "actmap", "models", "guibad", "weights.safetensors.part"))
        ed.click("download/close")
    finally:
        ed.close()
        display.close()
    return kept


def main():
    app, out_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    work = g.workdir()
    os.makedirs(os.path.join(work, "www"))
    os.makedirs(os.path.join(work, "registry"))
    shutil.copy(os.path.join(FIXTURE, "weights.safetensors"), os.path.join(work, "www"))
    log = os.path.join(work, "requests.log")
    server = subprocess.Popen([sys.executable, SERVER, os.path.join(work, "www"), "--log", log], stdout=subprocess.PIPE)
    port = int(server.stdout.readline())
    registry, data = write_registry(work, port)
    cache = os.path.join(work, "cache")
    os.environ.update(ACTMAP_REGISTRY=registry, XDG_CACHE_HOME=cache)
    part = os.path.join(cache, "actmap", "models", "guitest", "weights.safetensors.part")

    try:
        kept = drive(app, out_dir, cache, part, log, data)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"cancelled after {kept} of {len(data)} bytes, resumed with a Range request, verified; "
          "the model appears in the Model menu and opens; a corrupted file shows the sha256 error")
    return 0


if __name__ == "__main__":
    g.run(main)
