#!/usr/bin/python3
"""The actmap Python module against actmap-cli: the same pixels and floats for the same session,
the same error messages, activations, set-activation re-runs, Ctrl+C and the GIL.

    PYTHONPATH=build/no-gui/python /usr/bin/python3 tests/python/test_api.py ACTMAP_CLI SCRATCH_DIR
"""
import json
import os
import pickle
import signal
import sys
import threading
import time
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import support  # noqa: E402
from support import EDITS, FACES64, cli, cli_error, read, scratch, write_session  # noqa: E402

import actmap  # noqa: E402


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("api")
        cls.session_path = write_session(os.path.join(cls.dir, "s.json"), EDITS)
        cls.model = actmap.Model.load("faces64")

    def test_taps_match_actmap_cli_layers(self):
        _, out, _ = cli("layers", "--json", "-m", "faces64")
        expected = json.loads(out)["taps"]
        taps = self.model.taps
        self.assertEqual([t.name for t in taps], [t["name"] for t in expected])
        self.assertEqual([t.shape for t in taps], [(t["channels"], t["height"], t["width"]) for t in expected])
        self.assertEqual(self.model.tap(-1).name, expected[-1]["name"])
        self.assertEqual(self.model.tap("main.8").shape, (expected[2]["channels"], expected[2]["height"], expected[2]["width"]))
        # The same generator by card path and by the checkpoint file's card.
        self.assertEqual([t.name for t in actmap.Model.load(FACES64).taps], [t["name"] for t in expected])

    def test_ops_are_the_registry_actmap_cli_lists(self):
        _, out, _ = cli("ops", "--json")
        self.assertEqual(actmap.ops(), json.loads(out))
        rotate = actmap.op("rotate")
        self.assertEqual([p["name"] for p in rotate["params"]][0], "degrees")
        with self.assertRaises(actmap.Error) as e:
            actmap.op("spin")
        self.assertIn("unknown op 'spin'", str(e.exception))

    def test_session_render_is_byte_for_byte_actmap_cli(self):
        d = scratch("render")
        cli("render", self.session_path, "-o", f"{d}/cli.png", "--tensor-out", f"{d}/cli.npy")
        s = actmap.Session.load(self.session_path)
        r = s.render()
        self.assertEqual(r.png(), read(f"{d}/cli.png"))
        self.assertEqual(r._repr_png_(), read(f"{d}/cli.png"))
        r.save(f"{d}/py.png")
        self.assertEqual(read(f"{d}/py.png"), read(f"{d}/cli.png"))
        out = np.load(f"{d}/cli.npy")
        self.assertEqual(r.output.dtype, np.float32)
        self.assertEqual(r.output.shape, out.shape)
        self.assertTrue(np.array_equal(r.output, out))
        self.assertEqual(r.image.dtype, np.uint8)
        self.assertEqual(r.image.shape, (64, 64, 3))
        self.assertEqual(r.images.shape, (1, 64, 64, 3))
        self.assertFalse(r.output.flags.writeable)
        # Another seed, and the --seeds files.
        cli("render", self.session_path, "--seed", 11, "-o", f"{d}/cli11.png")
        self.assertEqual(s.render(seed=11).png(), read(f"{d}/cli11.png"))
        cli("render", self.session_path, "--seeds", "3-5", "-o", f"{d}/seeds")
        for seed in (3, 4, 5):
            self.assertEqual(s.render(seed=seed).png(), read(f"{d}/seeds/seed-{seed}.png"), seed)
        # A pickled session (its JSON) renders the same.
        self.assertEqual(pickle.loads(pickle.dumps(s)).render().png(), read(f"{d}/cli.png"))

    def test_model_render_with_edits_is_actmap_cli(self):
        d = scratch("model-render")
        with open(f"{d}/edits.json", "w") as f:
            json.dump({"edits": EDITS}, f)
        cli("render", "-m", "faces64", "--seed", 3, "--count", 4, "--edits", f"{d}/edits.json", "-o", f"{d}/grid.png",
            "--tensor-out", f"{d}/grid.npy")
        r = self.model.render(seed=3, count=4, edits=EDITS)
        self.assertEqual(r.png(), read(f"{d}/grid.png"))
        self.assertTrue(np.array_equal(r.output, np.load(f"{d}/grid.npy")))
        self.assertEqual(r.images.shape, (4, 64, 64, 3))
        # Explicit z: the model's own seeded latents give the same.
        z = self.model.latents(seed=3, count=4)
        self.assertEqual(z.shape, (4, self.model.latent_size))
        self.assertTrue(np.array_equal(self.model.render(z=z, edits=EDITS).output, r.output))

    def test_errors_carry_actmap_cli_messages(self):
        d = scratch("errors")
        bad = dict(EDITS[0], params={"degrees": "ninety"})
        # A session file with a bad edit: actmap-cli check and Session.load say the same.
        path = write_session(f"{d}/bad.json", [EDITS[1], bad])
        message = cli_error("check", path)
        self.assertIn("/edits/1/params/degrees", message)
        with self.assertRaises(actmap.Error) as e:
            actmap.Session.load(path)
        self.assertEqual(str(e.exception), message)
        # The same edit added as a dict to a good session at that path: the same message.
        good = write_session(f"{d}/good.json", [EDITS[1]])
        s = actmap.Session.load(good)
        with self.assertRaises(actmap.Error) as e:
            s.add_edit(bad)
        write_session(good, [EDITS[1], bad])
        self.assertEqual(str(e.exception), cli_error("check", good))
        self.assertEqual(len(s.edits), 1)  # nothing half-applied
        # An unknown tap and a channel out of range.
        for edit in (dict(EDITS[1], tap="main.99"), dict(EDITS[1], channels=[500])):
            write_session(good, [EDITS[1]])
            s = actmap.Session.load(good)
            with self.assertRaises(actmap.Error) as e:
                s.edits = [EDITS[1], edit]
            write_session(good, [EDITS[1], edit])
            self.assertEqual(str(e.exception), cli_error("check", good))
        # Edits alone, checked as in a file.
        with self.assertRaises(actmap.Error) as e:
            actmap.check_edits([bad])
        self.assertEqual(str(e.exception), '/edits/0/params/degrees: expected a number, got "ninety"')
        self.assertEqual(actmap.check_edits([{"tap": "main.5", "op": "rotate"}])[0]["params"]["degrees"], 0.0)
        # A missing file.
        with self.assertRaises(actmap.Error) as e:
            actmap.Session.load(f"{d}/none.json")
        self.assertEqual(str(e.exception), cli_error("check", f"{d}/none.json"))
        with self.assertRaises(actmap.Error) as e:
            actmap.Model.load("no-such-model")
        self.assertEqual(str(e.exception), cli_error("layers", "-m", "no-such-model"))
        with self.assertRaises(IndexError):
            self.model.tap(99)

    def test_edit_and_save_round_trip(self):
        d = scratch("edit")
        s = actmap.Session.new("faces64")
        self.assertEqual(s.seed, 0)
        s.seed = 5
        ids = [s.add_edit(e) for e in EDITS]
        self.assertEqual(ids, ["turn", "boost", "spot"])
        self.assertEqual(s.add_edit({"tap": "main.11", "op": "invert", "channels": 0}), "e1")
        s.update_edit("e1", enabled=False)
        self.assertFalse(s.edit("e1")["enabled"])
        s.remove_edit("e1")
        s.update_edit("turn", params={"degrees": 30})
        s.save(f"{d}/saved.json")
        self.assertEqual(s.path, f"{d}/saved.json")
        # actmap-cli renders the saved file to the pixels of the hand-written session with the same content.
        cli("render", f"{d}/saved.json", "-o", f"{d}/saved.png")
        cli("render", self.session_path, "-o", f"{d}/written.png")
        self.assertEqual(read(f"{d}/saved.png"), read(f"{d}/written.png"))
        self.assertEqual(s.render().png(), read(f"{d}/written.png"))
        doc = s.to_dict()
        self.assertEqual(doc["edits"][0]["params"]["degrees"], 30)
        self.assertEqual(actmap.Session.from_dict(doc, source=f"{d}/saved.json").render().png(), read(f"{d}/written.png"))

    def test_activations_before_and_after_edits(self):
        d = scratch("taps")
        cli("render", self.session_path, "-o", f"{d}/x.png", "--dump-taps", f"{d}/taps")
        s = actmap.Session.load(self.session_path)
        s.render()
        for t in self.model.taps:
            a = s.activation(t.name)
            self.assertEqual(a.shape, (1,) + t.shape)
            self.assertTrue(np.array_equal(a, np.load(f"{d}/taps/{t.name}.npy")), t.name)
        # Before main.8's edits: the activation a session without them has there (only later edits).
        plain = write_session(f"{d}/plain.json", [EDITS[0]])
        cli("render", plain, "-o", f"{d}/y.png", "--dump-taps", f"{d}/plain")
        self.assertTrue(np.array_equal(s.activation("main.8", edited=False), np.load(f"{d}/plain/main.8.npy")))
        self.assertFalse(np.array_equal(s.activation("main.8"), s.activation("main.8", edited=False)))
        # The unedited output: a session with no edits.
        none = write_session(f"{d}/none.json", [])
        cli("render", none, "-o", f"{d}/z.png", "--tensor-out", f"{d}/none.npy")
        self.assertTrue(np.array_equal(s.unedited_output(), np.load(f"{d}/none.npy")))
        # A Renderer on the model: the same activations for the model render.
        r = actmap.Renderer(self.model)
        r.render(seed=5, edits=EDITS)
        self.assertTrue(np.array_equal(r.activation(2), np.load(f"{d}/taps/main.8.npy")))

    def test_set_activation_reruns_from_that_tap(self):
        d = scratch("set")
        # Seed 9's activation at main.5, put into a render of seed 5, gives seed 9's output with the
        # later edits (faces64 carries nothing else between taps).
        later = [EDITS[1], EDITS[2]]
        s9 = write_session(f"{d}/s9.json", later, seed=9)
        cli("render", s9, "-o", f"{d}/s9.png", "--tensor-out", f"{d}/s9.npy", "--dump-taps", f"{d}/taps9")
        s = actmap.Session.load(write_session(f"{d}/s5.json", later, seed=5))
        first = s.render()
        r = s.set_activation("main.5", np.load(f"{d}/taps9/main.5.npy"))
        self.assertEqual(r.timings["first_stage"], 2)
        self.assertEqual(r.png(), read(f"{d}/s9.png"))
        self.assertTrue(np.array_equal(r.output, np.load(f"{d}/s9.npy")))
        # Zeroing a tap by hand is the session with a multiply-by-0 edit there.
        zero = write_session(f"{d}/zero.json", [{"tap": "main.11", "channels": "all", "op": "multiply", "params": {"factor": 0}}]
                             + later, seed=5)
        cli("render", zero, "-o", f"{d}/zero.png")
        s.render()
        r = s.set_activation("main.11", np.zeros_like(s.activation("main.11")))
        self.assertEqual(r.png(), read(f"{d}/zero.png"))
        # The next render forgets the replacement.
        self.assertEqual(s.render().png(), first.png())
        with self.assertRaises(actmap.Error) as e:
            s.set_activation("main.11", np.zeros((1, 2, 3, 4), np.float32))
        self.assertIn("must have shape [1, 32, 32, 32]", str(e.exception))

    def test_checkpoint_file_loads_as_actmap_cli_import(self):
        d = scratch("pkl")
        pkl = os.path.join(support.SOURCE_DIR, "tests", "fixtures", "checkpoints", "nvidia_tiny.pkl")
        cli("import", pkl, "-o", f"{d}/tiny.safetensors", "--card", f"{d}/tiny.json")
        cli("render", "-m", f"{d}/tiny.json", "--seed", 2, "-o", f"{d}/tiny.png")
        m = actmap.Model.load(pkl)
        self.assertEqual(m.family, "stylegan2")
        self.assertTrue(m.has_mapping)
        self.assertEqual(m.render(seed=2).png(), read(f"{d}/tiny.png"))

    def test_fp16_is_asked_as_actmap_cli_fp16_and_stays_float32_on_the_cpu(self):
        pkl = os.path.join(support.SOURCE_DIR, "tests", "fixtures", "checkpoints", "genuine", "ada_uncond_fp16.pkl")
        plain = actmap.Model.load(pkl)
        self.assertEqual(plain.precision, "float32")
        actmap.set_cuda_fp16(True)
        try:
            asked = actmap.Model.load(pkl)  # loaded again: the cache of models knows the setting
            self.assertIsNot(asked, plain)
            self.assertEqual(asked.precision, "float32")  # the CPU has no float16 convolutions
            self.assertEqual(asked.render(seed=1).png(), plain.render(seed=1).png())
        finally:
            actmap.set_cuda_fp16(False)

    def test_analyses_match_actmap_cli(self):
        d = scratch("analysis")
        cli("sensitivity", "-m", "faces64", "--tap", "main.8", "--samples", 3, "-o", f"{d}/sens.csv")
        rows = [l.split(",") for l in support.read(f"{d}/sens.csv").decode().split()[1:]]
        r = actmap.sensitivity(self.model, "main.8", samples=3)
        self.assertEqual(r["change"].shape, (self.model.tap("main.8").channels,))
        self.assertEqual([int(x[1]) for x in rows], list(r["ranking"]))
        for rank, channel, change in rows:
            self.assertAlmostEqual(r["change"][int(channel)], float(change), delta=1e-5 * max(1.0, float(change)))
        cli("cluster", "-m", "faces64", "--tap", "main.5", "--samples", 16, "-o", f"{d}/clusters.json")
        c = actmap.cluster(self.model, "main.5", samples=16)
        self.assertEqual(list(c["labels"]), json.loads(support.read(f"{d}/clusters.json"))["clusters"]["main.5"])
        self.assertEqual(c["mean_maps"].shape[0], self.model.tap("main.5").channels)
        # Dissection against a region image, and in parts (what actmap.distributed does).
        region = np.zeros((64, 64, 3), np.uint8)
        region[36:52, 20:44] = 255
        actmap.write_png(f"{d}/mouth.png", region)
        cli("dissect", "-m", "faces64", "--tap", "main.8", "--region", f"{d}/mouth.png", "--samples", 16, "--csv", f"{d}/d.csv")
        rows = [l.split(",") for l in support.read(f"{d}/d.csv").decode().split()[1:]]
        full = actmap.dissect(self.model, "main.8", f"{d}/mouth.png", samples=16)
        self.assertEqual([u["channel"] for u in full["units"]], [int(x[1]) for x in rows])
        for u, row in zip(full["units"], rows):
            self.assertAlmostEqual(u["iou"], float(row[2]), delta=1e-5)
        keep = actmap.dissect_keep(self.model, "main.8", 0.99, 16)
        tops = [actmap.dissect_top_values(self.model, "main.8", 8, seed, 8, keep) for seed in (0, 8)]
        thresholds = actmap.dissect_thresholds(tops, keep)
        self.assertTrue(np.array_equal(thresholds, full["threshold"]))
        parts = [actmap.dissect_sums(self.model, "main.8", region, thresholds, 8, seed, 8) for seed in (0, 8)]
        total = {"samples": 16, **{k: parts[0][k] + parts[1][k] for k in ("intersection", "on", "inside_sum", "total_sum")}}
        joined = actmap.dissect_scores(self.model, "main.8", region, thresholds, total)
        self.assertTrue(np.array_equal(joined["iou"], full["iou"]))
        np.testing.assert_allclose(joined["inside_mean"], full["inside_mean"], rtol=1e-12)
        # A depth sweep: the strip actmap-cli writes.
        cli("sweep", self.session_path, "--edit", "boost", "-o", f"{d}/strip.png")
        sw = actmap.sweep(actmap.Session.load(self.session_path), "boost")
        self.assertEqual(actmap.encode_png(sw["strip"]), read(f"{d}/strip.png"))
        self.assertEqual(len(sw["steps"]), len(self.model.taps))

    def test_channel_stats_match_numpy(self):
        s = actmap.Session.load(self.session_path)
        stats = actmap.channel_stats(s, "main.8", samples=10, seed=2, batch=4)
        r = actmap.Renderer(self.model)
        acts = []
        for seed in range(2, 12):
            r.render(seed=seed, edits=EDITS)
            acts.append(np.array(r.activation("main.8"), dtype=np.float64))
        a = np.concatenate(acts)  # [10, C, H, W]
        per_channel = a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)
        self.assertEqual(stats["count"], per_channel.shape[1])
        np.testing.assert_allclose(stats["mean"], per_channel.mean(1), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(stats["variance"], per_channel.var(1), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(stats["max"], per_channel.max(1).astype(np.float32))
        halves = [actmap.channel_stats(s, "main.8", samples=5, seed=seed, batch=4) for seed in (2, 7)]
        merged = actmap.merge_channel_stats(halves)
        np.testing.assert_allclose(merged["variance"], stats["variance"], rtol=1e-9, atol=1e-12)
        # Before main.8's edits: what the model gives with the earlier edit alone.
        unedited = actmap.channel_stats(s, "main.8", samples=2, seed=0, edited=False)
        earlier = actmap.channel_stats(self.model, "main.8", samples=2, seed=0, edits=[EDITS[0]])
        np.testing.assert_array_equal(unedited["mean"], earlier["mean"])

    def test_ctrl_c_stops_a_long_call_and_the_model_stays_usable(self):
        expected = self.model.render(seed=1).png()
        timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        timer.start()
        with self.assertRaises(KeyboardInterrupt):  # 128 x 400 runs from main.5: about a minute
            actmap.sensitivity(self.model, "main.5", samples=400, batch=8)
        self.assertLess(time.monotonic() - t0, 20.0)
        self.assertEqual(self.model.render(seed=1).png(), expected)
        # A progress callback that says stop.
        seen = []
        with self.assertRaises(actmap.Cancelled):
            actmap.cluster(self.model, "main.5", samples=64, batch=8, progress=lambda done, total: seen.append(done) or done < 16)
        self.assertTrue(seen)

    def test_the_gil_is_released_while_the_model_runs(self):
        # A long call on another thread; this thread keeps running meanwhile.
        done = threading.Event()
        stamps = []

        def work():
            actmap.sensitivity(self.model, "main.2", samples=40, batch=64)
            done.set()

        t = threading.Thread(target=work)
        start = time.monotonic()
        t.start()
        while not done.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.005)
        t.join()
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 0.3, "the call was too short to tell")
        gaps = np.diff([start] + stamps)
        self.assertLess(gaps.max(), max(0.25, 0.5 * elapsed), f"this thread stalled {gaps.max():.3f} s of {elapsed:.3f} s")

    def test_help_explains(self):
        self.assertIn("render", actmap.Session.__doc__ + actmap.Session.render.__doc__)
        self.assertIn("byte for byte", actmap.RenderResult.save.__doc__)
        stubs = os.path.join(os.path.dirname(actmap.__file__), "_actmap.pyi")
        self.assertTrue(os.path.exists(stubs))
        with open(stubs) as f:
            text = f.read()
        for name in ("class Session", "def render(", "def set_activation(", "def ops()", "class Model"):
            self.assertIn(name, text)


if __name__ == "__main__":
    support.run_tests()
