#!/usr/bin/env python3
"""GUI test of opening checkpoint files in a real window, on the genuine stylegan2-ada-pytorch
pickles of tests/fixtures/checkpoints/genuine/ (index.json says what each holds; the reference
images there come from NVIDIA's own code): File > Open model, type the .pkl into the file browser,
watch the conversion's window, check the render against the reference image; open it again and see
it come from the cache without converting (the cache entry untouched); a file that holds no
generator shows its error in the window and the model in use stays; the conditional pickle shows
the class picker in the StyleGAN2 tab (c_dim 3), picking class 2 renders the reference of class 2,
and Ctrl+Z restores class 0's pixels; a session naming the TensorFlow pickle, opened with Ctrl+O,
converts it first and then opens with its settings; a copy of a pickle dropped on the window (XDND, as a file manager
drops) opens from the cache. The cache is private (XDG_CACHE_HOME in the test's folder).
Screenshots go to OUT_DIR for people to look at.

usage: test_checkpoint.py ACTMAP OUT_DIR
Skips (exit 77) where Xvfb/xdotool are missing."""

import json
import os
import shutil
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gui_driver as g  # noqa: E402

GENUINE = os.path.join(HERE, "..", "fixtures", "checkpoints", "genuine")
START_CARD = os.path.join(HERE, "..", "fixtures", "dcgan32", "card.json")  # the model in use before
DELAY_MS = 600


def read_npy_image(path):
    """A float32 [1, 3, H, W] .npy in [-1, 1] as 8-bit RGB bytes (the editor's mapping to pixels)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", path
    header_len = struct.unpack("<H", data[8:10])[0]
    header = eval(data[10:10 + header_len].decode("latin1"))  # noqa: S307: numpy's own dict literal
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    _, c, h, w = header["shape"]
    values = struct.unpack(f"<{c * h * w}f", data[10 + header_len:])
    out = bytearray(h * w * c)
    for ch in range(c):
        for i in range(h * w):
            t = min(max((values[ch * h * w + i] + 1.0) / 2.0, 0.0), 1.0)
            out[i * c + ch] = int(t * 255.0 + 0.5)
    return w, h, c, bytes(out)


def reference(name, predicate):
    with open(os.path.join(GENUINE, "index.json")) as f:
        index = json.load(f)
    for case in index["files"][name]["cases"]:
        if predicate(case):
            return read_npy_image(os.path.join(GENUINE, case["image"]))
    raise AssertionError(f"index.json has no such case of {name}")


def type_into_browser(ed, path):
    """Once the file browser shows: the path typed into its name field, Enter."""
    ed.wait("the file browser", lambda u: u["state"].get("browser_open") is True)
    time.sleep(0.2)
    ed.key("ctrl+a")
    ed.type(path)
    ed.key("Return")
    ed.wait("the file browser to close", lambda u: u["state"].get("browser_open") is False)


def open_model(ed, path):
    """File > Open model..., the path typed into the file browser."""
    ed.click("menu/file")
    ed.wait("the File menu", lambda u: u["state"].get("popup_open") is True and "file/open-model" in u["items"])
    ed.click("file/open-model")
    type_into_browser(ed, path)


def watch_import(ed, done_before, display=None, shot=None):
    """Polls the conversion until it ends; returns the stages and fractions seen and the last state."""
    stages, fractions, shot_taken = [], [], False
    deadline = time.time() + 120
    while time.time() < deadline:
        ui = ed.ui()
        s = ui.get("state", {})
        if s.get("import") == "running" and s.get("import_stage"):
            if not stages or stages[-1] != s["import_stage"]:
                stages.append(s["import_stage"])
            fractions.append(s.get("import_fraction", -1))
            if shot and not shot_taken and "import/progress" in ui.get("items", {}):
                g.screenshot(display, shot)
                shot_taken = True
        if s.get("imports_done", 0) > done_before or s.get("import") in ("failed", "cancelled"):
            return stages, fractions, s
        if ed.proc.poll() is not None:
            raise AssertionError("actmap exited while converting")
        time.sleep(0.02)
    raise AssertionError(f"the conversion did not end; last state: {ed.ui().get('state')}")


def export_output(ed, path):
    """Output > Export PNG to `path` (typed into the file browser)."""
    ed.click("output/export")
    type_into_browser(ed, path)
    deadline = time.time() + 10
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    return g.read_png(path)


def cache_entries(cache):
    """The converted models' files (not the index of remembered hashes) and their mtimes."""
    root = os.path.join(cache, "actmap", "models", "converted")
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.relpath(os.path.join(dirpath, name), root)
            if name.endswith((".json", ".safetensors")) and "index" not in p.split(os.sep):
                out[p] = os.stat(os.path.join(root, p)).st_mtime_ns
    return out


def drive(app, out_dir, work, cache):
    uncond = os.path.join(work, "ada_uncond_fp16.pkl")
    cond = os.path.join(work, "ada_cond.pkl")
    d_only = os.path.join(work, "d_only.pkl")
    tf = os.path.join(work, "tf_stylegan2.pkl")
    session = os.path.join(work, "tf-session.json")
    with open(session, "w") as f:
        json.dump({"actmap_session": 1, "model": "tf_stylegan2.pkl", "latent": {"seed": 1},
                   "synthesis": {"truncation_psi": 0.7, "noise_mode": "none"}, "edits": []}, f)
    figures = {}
    display = g.Display()
    try:
        # Each progress step of a conversion sleeps DELAY_MS, so the small fixtures' stages can be seen.
        ed = g.Editor(app, display, ["--model", os.path.abspath(START_CARD), "--no-recovery",
                                     "--import-delay", str(DELAY_MS)], work).ready()
    except BaseException:
        display.close()
        raise
    try:
        ed.settle()
        start_model = ed.state("model")

        # While it converts, the model in use stays usable (the next seed renders); Cancel leaves
        # nothing in the cache and that model open.
        open_model(ed, uncond)
        ed.wait("the conversion window", lambda u: u["state"].get("import") == "running" and "import/cancel" in u["items"])
        seed = ed.state("seed")
        ed.key("n", over="output/edited")
        ed.wait("the next seed rendered during the conversion", lambda u: u["state"].get("seed") == seed + 1 and
                u["state"].get("settled") is True and u["state"].get("import") == "running")
        ed.key("ctrl+z", over="output/edited")
        ed.wait("the seed back", lambda u: u["state"].get("seed") == seed and u["state"].get("import") == "running")
        ed.click("import/cancel")
        _, _, s = watch_import(ed, 0)
        assert s["import"] == "cancelled", s
        ed.wait("the note", lambda u: "import/close" in u["items"])
        assert cache_entries(cache) == {}, cache_entries(cache)
        assert ed.state("model") == start_model, ed.state("model")
        ed.click("import/close")
        ed.wait("the window to close", lambda u: u["state"].get("import") == "idle")

        # First opening: converted, with its stages in the window; the render is NVIDIA's.
        open_model(ed, uncond)
        stages, fractions, s = watch_import(ed, 0, display, os.path.join(out_dir, "checkpoint-progress.png"))
        assert s.get("import_error", "") == "" and s["imports_done"] == 1, s
        assert s["import_from_cache"] is False, "the first opening came from a cache that should be empty"
        assert len(stages) >= 2 and stages[0].startswith("reading"), stages
        figures["first"] = s["import_seconds"]
        ed.wait("the new session on the pickle", lambda u: u["state"].get("model") == uncond)
        ed.settle()
        log = ed.state("status_message")
        assert "converted into the cache" in log, log
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "checkpoint-opened.png"))
        entries = cache_entries(cache)
        assert any(k.endswith("weights.safetensors") for k in entries) and len(entries) >= 2, entries
        want = reference("ada_uncond_fp16.pkl", lambda c: c["seed"] == ed.state("seed") and c["psi"] == 1.0
                         and c["noise"] == "const")
        got = export_output(ed, os.path.join(work, "uncond.png"))
        diff = g.mean_abs_diff(got, want)
        assert diff < 1.0, f"the window's render differs from NVIDIA's by {diff:.2f} per channel"

        # Again: from the cache, nothing converted, the entry untouched.
        open_model(ed, uncond)
        _, _, s = watch_import(ed, 1)
        assert s["imports_done"] == 2 and s["import_from_cache"] is True, s
        figures["cached"] = s["import_seconds"]
        assert cache_entries(cache) == entries, "opening the file again wrote to the cache"
        ed.settle()
        # The Model menu lists the file from now on, by its name; choosing it opens it from the cache.
        ed.click("menu/model")
        ed.wait("the file in the Model menu", lambda u: "model/ada_uncond_fp16.pkl" in u["items"])
        ed.click("model/ada_uncond_fp16.pkl")
        _, _, s = watch_import(ed, 2)
        assert s["imports_done"] == 3 and s["import_from_cache"] is True, s
        assert cache_entries(cache) == entries, "opening the file from the Model menu wrote to the cache"
        ed.settle()

        # Not a generator: the error in the window, the model in use stays.
        open_model(ed, d_only)
        _, _, s = watch_import(ed, 3)
        assert s["import"] == "failed" and "d_only.pkl" in s["import_error"], s
        ed.wait("the error in the window", lambda u: "import/error" in u["items"])
        ed.move(*ed.centre("import/error"))
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "checkpoint-error.png"))
        ed.click("import/close")
        ed.wait("the window to close", lambda u: u["state"].get("import") == "idle")
        assert ed.state("model") == uncond, ed.state("model")
        error_text = s["import_error"]

        # The conditional pickle: the class picker, one undo step per class.
        open_model(ed, cond)
        _, _, s = watch_import(ed, 3)
        assert s["imports_done"] == 4 and s["import_from_cache"] is False, s
        ed.wait("the session on the conditional pickle", lambda u: u["state"].get("model") == cond)
        ed.settle()
        ed.click("tab/stylegan")
        ed.wait("the class picker", lambda u: u["state"].get("c_dim") == 3 and "sg/class" in u["items"])
        seed = ed.state("seed")
        class0 = export_output(ed, os.path.join(work, "class0.png"))
        want0 = reference("ada_cond.pkl", lambda c: c["seed"] == seed and c.get("class") == 0 and c["psi"] == 1.0
                          and c["noise"] == "const")
        assert g.mean_abs_diff(class0, want0) < 1.0, g.mean_abs_diff(class0, want0)
        position = ed.state("history_position")
        ed.click("sg/class")
        ed.wait("the class list", lambda u: "sg/class/2" in u["items"])
        time.sleep(0.2)
        ed.click("sg/class/2")
        ed.wait("class 2", lambda u: u["state"].get("synthesis", {}).get("class") == 2)
        assert ed.state("history_position") == position + 1, "choosing a class is not one undo step"
        ed.settle()
        ed.move(*ed.centre("output/edited"))
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "checkpoint-class.png"))
        class2 = export_output(ed, os.path.join(work, "class2.png"))
        want2 = reference("ada_cond.pkl", lambda c: c["seed"] == seed and c.get("class") == 2 and c["psi"] == 1.0
                          and c["noise"] == "const")
        changed = g.mean_abs_diff(class2, class0)
        assert changed > 2.0, f"class 2 looks like class 0 (mean |diff| {changed:.2f})"
        assert g.mean_abs_diff(class2, want2) < 1.0, g.mean_abs_diff(class2, want2)
        ed.key("ctrl+z", over="output/edited")
        ed.wait("the undo", lambda u: "class" not in u["state"].get("synthesis", {}))
        ed.settle()
        undone = export_output(ed, os.path.join(work, "undone.png"))
        assert undone == class0, f"undo did not restore class 0's pixels (mean |diff| {g.mean_abs_diff(undone, class0):.2f})"

        # The conversion's report, in the log (clicking the status bar opens it).
        log = "\n".join(ed.state("log"))
        for words in ("ada_cond.pkl: a stylegan2-ada-pytorch network pickle", "using G_ema", "16x16",
                      "conditional: 3 classes (c_dim 3); pick the class in the StyleGAN2 tab", "average W (for truncation): stored in the checkpoint"):
            assert words in log, (words, log)
        ed.click("status/message")
        ed.wait("the log", lambda u: "log/window" in u["items"])
        ed.move(*ed.centre("output/edited"))
        time.sleep(0.3)
        g.screenshot(display, os.path.join(out_dir, "checkpoint-log.png"))

        # A session whose model is a checkpoint not converted yet (File > Open session): converted
        # first, then the session opens with its settings, rendered as NVIDIA's TensorFlow code does.
        ed.key("Escape")  # the log stays; the keys go to the window under the pointer
        ed.key("ctrl+o", over="output/edited")
        type_into_browser(ed, session)
        if ed.wait("the session or the prompt", lambda u: u["state"].get("imports_done") == 5 or
                   "prompt/discard" in u["items"] or u["state"].get("import") == "running")["items"].get("prompt/discard"):
            ed.click("prompt/discard")
        _, _, s = watch_import(ed, 4)
        assert s["imports_done"] == 5 and s["import_from_cache"] is False, s
        ed.wait("the session", lambda u: u["state"].get("session_path") == session and u["state"].get("model") == os.path.basename(tf))
        ed.settle()
        assert ed.state("synthesis")["truncation_psi"] == 0.7, ed.state("synthesis")
        tf_out = export_output(ed, os.path.join(work, "tf.png"))
        want_tf = reference("tf_stylegan2.pkl", lambda c: c["seed"] == 1 and c["psi"] == 0.7 and c["noise"] == "none")
        assert g.mean_abs_diff(tf_out, want_tf) < 1.0, g.mean_abs_diff(tf_out, want_tf)

        # Dropped on the window from a file manager (XDND): a copy of the unconditional pickle
        # under a name with a space has the same sha256, so it opens from the cache.
        dropped = os.path.join(work, "dropped copy.pkl")
        shutil.copyfile(uncond, dropped)
        ed.drop([dropped], over="output/edited")
        if ed.wait("the drop taken", lambda u: u["state"].get("imports_done") == 6 or "prompt/discard" in u["items"] or
                   u["state"].get("import") == "running")["items"].get("prompt/discard"):
            ed.click("prompt/discard")
        _, _, s = watch_import(ed, 5)
        assert s["imports_done"] == 6 and s["import_from_cache"] is True, s
        ed.wait("the session on the dropped file", lambda u: u["state"].get("model") == dropped)
        ed.settle()
        dropped_out = export_output(ed, os.path.join(work, "dropped.png"))
        want_dropped = reference("ada_uncond_fp16.pkl", lambda c: c["seed"] == ed.state("seed") and c["psi"] == 1.0
                                 and c["noise"] == "const")
        assert g.mean_abs_diff(dropped_out, want_dropped) < 1.0, g.mean_abs_diff(dropped_out, want_dropped)
    finally:
        ed.close()
        display.close()
    return start_model, figures, error_text, stages, changed


def main():
    app, out_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    work = g.workdir()
    for name in ("ada_uncond_fp16.pkl", "ada_cond.pkl", "d_only.pkl", "tf_stylegan2.pkl"):
        shutil.copy(os.path.join(GENUINE, name), work)
    cache = os.path.join(work, "cache")
    os.environ["XDG_CACHE_HOME"] = cache  # a private cache: the first opening converts
    start, figures, error, stages, changed = drive(app, out_dir, work, cache)
    print(f"started on {os.path.basename(start)}; cancelled once, nothing cached; ada_uncond_fp16.pkl converted in "
          f"{figures['first']:.2f} s with a {DELAY_MS} ms pause at each progress step "
          f"(stages seen: {stages}), matches NVIDIA's render; again from the cache in {figures['cached']:.3f} s, "
          f"nothing written; d_only.pkl refused: {error.splitlines()[0][:120]}; ada_cond.pkl: class 2 "
          f"(mean |diff| {changed:.1f} from class 0) matches NVIDIA's, undo restores class 0; a session naming "
          "tf_stylegan2.pkl converts it, then opens and renders as NVIDIA's TensorFlow code")
    return 0


if __name__ == "__main__":
    g.run(main)
