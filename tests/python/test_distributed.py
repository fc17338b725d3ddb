#!/usr/bin/python3
"""actmap.distributed on a LocalCluster of 2 worker processes: outputs byte-equal to the
single-process actmap-cli, a worker SIGKILLed in the middle of a job, a bad session refused on the
client before any task is sent, and the map-reduce analyses against one process.

    PYTHONPATH=build/no-gui/python /usr/bin/python3 tests/python/test_distributed.py ACTMAP_CLI SCRATCH_DIR
"""
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import support  # noqa: E402
from support import EDITS, cli, cli_error, read, scratch, write_session  # noqa: E402

import actmap  # noqa: E402
import actmap.distributed as ad  # noqa: E402


def files_of(folder):
    return {n: read(os.path.join(folder, n)) for n in sorted(os.listdir(folder))}


class Distributed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import dask
        from distributed import Client, LocalCluster
        cls.dir = scratch("dask")
        dask.config.set({"temporary-directory": os.path.join(cls.dir, "dask"), "distributed.comm.timeouts.connect": "30s"})
        cls.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40)
        cls.client = Client(cls.cluster)
        cls.session_path = write_session(os.path.join(cls.dir, "s.json"), EDITS)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.cluster.close()

    def scheduler_task_prefixes(self):
        return self.client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))

    def test_1_a_bad_session_fails_on_the_client_before_any_task(self):
        d = scratch("bad")
        bad = write_session(f"{d}/bad.json", [EDITS[0], dict(EDITS[1], params={"factor": "lots"})])
        with self.assertRaises(actmap.Error) as e:
            ad.render_seeds(bad, "0-99", f"{d}/out", self.client)
        self.assertEqual(str(e.exception), cli_error("check", bad))
        missing_weights = write_session(f"{d}/w.json", EDITS, model=f"{d}/card.json")
        with open(f"{d}/card.json", "w") as f:
            f.write(read(support.FACES64).decode().replace('"faces64.safetensors"', '"gone.safetensors"'))
        with self.assertRaises(actmap.Error) as e:
            ad.render_seeds(missing_weights, "0-9", f"{d}/out", self.client)
        self.assertIn("gone.safetensors", str(e.exception))
        with self.assertRaises(actmap.Error) as e:
            ad.render_seeds(self.session_path, "9-2", f"{d}/out", self.client)
        self.assertIn("9-2", str(e.exception))
        with self.assertRaises(actmap.Error) as e:
            ad.render_animation(self.session_path, f"{d}/a.gif", self.client, frames=4, param="/edits/9/params/degrees",
                                start=0, stop=1)
        self.assertIn("/edits/9", str(e.exception))
        self.assertEqual(self.scheduler_task_prefixes(), [], "a task reached the scheduler")
        self.assertFalse(os.path.exists(f"{d}/out"))

    def test_render_seeds_is_byte_equal_to_actmap_cli(self):
        d = scratch("seeds")
        cli("render", self.session_path, "--seeds", "0-19", "-o", f"{d}/cli")
        summary = ad.render_seeds(self.session_path, "0-19", f"{d}/dask", self.client)
        self.assertEqual(summary["images"], 20)
        self.assertEqual(len(summary["workers"]), 2, summary)
        self.assertEqual(files_of(f"{d}/dask"), files_of(f"{d}/cli"))
        # python3 -m actmap against the same scheduler.
        p = subprocess.run([sys.executable, "-m", "actmap", "render-seeds", self.session_path, "--seeds", "4-9", "-o",
                            f"{d}/module", "--no-sheet", "--scheduler", self.cluster.scheduler_address],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(files_of(f"{d}/module"), {f"seed-{s}.png": read(f"{d}/cli/seed-{s}.png") for s in range(4, 10)})
        # actmap-cli --dask hands the same job to the cluster.
        _, out, _ = cli("render", self.session_path, "--seeds", "0-19", "--dask", self.cluster.scheduler_address,
                        "-o", f"{d}/cli-dask")
        self.assertIn("wrote 20 images", out)
        self.assertEqual(files_of(f"{d}/cli-dask"), files_of(f"{d}/cli"))

    def test_a_worker_killed_in_the_middle_of_a_job(self):
        d = scratch("kill")
        seeds = "0-319"
        cli("render", self.session_path, "--seeds", seeds, "-o", f"{d}/cli")
        pids = list(self.client.run(os.getpid).values())
        self.assertEqual(len(pids), 2)
        out = f"{d}/dask"
        result, error = {}, []

        def job():
            try:
                result.update(ad.render_seeds(self.session_path, seeds, out, self.client, chunk=8))
            except BaseException as e:  # noqa: B902 - reported below
                error.append(e)

        t = threading.Thread(target=job)
        t.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not os.path.isdir(out) or len(os.listdir(out)) < 24):
            time.sleep(0.005)
        done_at_kill = len([n for n in os.listdir(out) if n.endswith(".png")])
        os.kill(pids[0], signal.SIGKILL)
        t.join(600)
        self.assertFalse(t.is_alive(), "the job did not finish")
        self.assertEqual(error, [])
        self.assertLess(done_at_kill, 320, "the job was over before the kill")
        self.assertEqual(files_of(out), files_of(f"{d}/cli"))  # every seed and the sheet, no temporary files
        # The cluster has its 2 workers again (the nanny restarted the killed one).
        self.client.wait_for_workers(2, timeout=120)

    def test_animation_frames_and_video_are_actmap_cli(self):
        d = scratch("animate")
        args = ["--param", "/edits/0/params/degrees", "--from", "0", "--to", "90", "--frames", "10"]
        cli("animate", self.session_path, *args, "-o", f"{d}/cli-frames")
        cli("animate", self.session_path, *args, "--scale", "2", "-o", f"{d}/cli.gif")
        ad.render_animation(self.session_path, f"{d}/frames", self.client, frames=10, param="/edits/0/params/degrees",
                            start=0, stop=90)
        self.assertEqual(files_of(f"{d}/frames"), files_of(f"{d}/cli-frames"))
        s = ad.render_animation(self.session_path, f"{d}/dask.gif", self.client, frames=10, param="/edits/0/params/degrees",
                                start=0, stop=90, scale=2, chunk=3)
        self.assertEqual(s["tasks"], 4)
        self.assertEqual(read(f"{d}/dask.gif"), read(f"{d}/cli.gif"))
        cli("animate", self.session_path, *args, "--scale", "2", "--dask", self.cluster.scheduler_address, "-o", f"{d}/cli-dask.gif")
        self.assertEqual(read(f"{d}/cli-dask.gif"), read(f"{d}/cli.gif"))
        self.assertEqual(sorted(os.listdir(d)), ["cli-dask.gif", "cli-frames", "cli.gif", "dask.gif", "frames"])  # no frame folder left

    def test_map_reduce_analyses_equal_one_process(self):
        s = actmap.Session.load(self.session_path)
        one = actmap.channel_stats(s, "main.8", samples=24, seed=3)
        many = ad.channel_stats(self.session_path, "main.8", samples=24, seed=3, client=self.client, chunk=8)
        self.assertEqual(many["count"], one["count"])
        for key in ("mean", "variance", "min", "max"):
            np.testing.assert_allclose(many[key], one[key], rtol=1e-9, atol=1e-12, err_msg=key)

        model = actmap.Model.load("faces64")
        region = np.zeros((64, 64), np.uint8)
        region[36:52, 20:44] = 1
        one = actmap.dissect(model, "main.8", region, samples=32)
        many = ad.dissect("faces64", "main.8", region, samples=32, client=self.client, chunk=8)
        np.testing.assert_array_equal(many["threshold"], one["threshold"])
        np.testing.assert_array_equal(many["iou"], one["iou"])
        np.testing.assert_array_equal(many["ranking"], one["ranking"])
        np.testing.assert_allclose(many["inside_mean"], one["inside_mean"], rtol=1e-12)

        every = ad.sensitivity(model, samples=6, client=self.client, chunk=2)
        self.assertEqual(list(every), [t.name for t in model.taps[:-1]])
        for tap, r in every.items():
            single = actmap.sensitivity(model, tap, samples=6)
            np.testing.assert_allclose(r["change"], single["change"], rtol=1e-5, atol=1e-6, err_msg=tap)


if __name__ == "__main__":
    support.run_tests()
