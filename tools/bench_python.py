#!/usr/bin/python3
"""The Python and Dask figures of docs/performance.md: the Python render call against the C++
call, the Dask path against actmap-cli for a faces64 batch of 256 seeds, and throughput with 1
and 2 worker processes. Runs each measurement ROUNDS times, interleaved, and prints the median
and the range.

    PYTHONPATH=build/no-gui/python /usr/bin/python3 tools/bench_python.py build/no-gui/src/cli/actmap-cli [ROUNDS]

Scratch files go to a folder beside the build (removed at the end), never /tmp.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import actmap
import actmap.distributed as ad

SEEDS = 256
EDITS = [
    {"id": "turn", "tap": "main.5", "channels": {"range": [0, 63]}, "op": "rotate", "params": {"degrees": 30}},
    {"id": "boost", "tap": "main.8", "channels": [1, 4, 9, 16], "op": "multiply", "params": {"factor": 2.5}},
    {"id": "spot", "tap": "main.8", "channels": "all", "op": "fill", "params": {"value": 0.5},
     "mask": {"ellipse": [7.5, 7.5, 3, 2]}},
]


def summary(values, unit=""):
    v = sorted(values)
    return f"{statistics.median(v):.3f}{unit} (range {v[0]:.3f}-{v[-1]:.3f}, {len(v)} runs)"


def run_cli(cli, *args):
    t0 = time.perf_counter()
    p = subprocess.run([cli, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    return time.perf_counter() - t0, p.stdout


def cli_render_ms(stdout):
    # "wrote 256 images to DIR/ (seed-0.png .. seed-255.png, faces64, 612.3 ms)"
    return float(stdout.split(", ")[-1].split(" ms")[0])


def main():
    cli = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    build = os.path.dirname(os.path.dirname(os.path.dirname(cli)))
    work = tempfile.mkdtemp(prefix="bench-python-", dir=build)
    os.environ["TMPDIR"] = work
    import dask
    dask.config.set({"temporary-directory": work})
    from distributed import Client, LocalCluster
    try:
        session = os.path.join(work, "s.json")
        with open(session, "w") as f:
            json.dump({"actmap_session": 1, "model": {"card": "faces64"}, "latent": {"seed": 5}, "edits": EDITS}, f)
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start; {actmap.Model.load('faces64')}")

        # 1. The Python render call against the C++ call it wraps, over the same 256 seeds.
        s = actmap.Session.load(session)
        for threads in (1, 2):
            actmap.set_threads(threads)
            for seed in range(20):
                s.render(seed=seed)
            py_wall, py_inner, cli_inner = [], [], []
            for _ in range(rounds):
                walls, inner = [], []
                for seed in range(SEEDS):
                    t0 = time.perf_counter()
                    r = s.render(seed=seed)
                    walls.append((time.perf_counter() - t0) * 1e3)
                    inner.append(r.timings["total_ms"])
                py_wall.append(statistics.mean(walls))
                py_inner.append(statistics.mean(inner))
                _, out = run_cli(cli, "render", session, "--seeds", f"0-{SEEDS - 1}", "--no-sheet", "--threads", threads,
                                 "-o", os.path.join(work, "cli-loop"))
                cli_inner.append(cli_render_ms(out) / SEEDS)
            print(f"\n1. render call, mean ms per seed over 256 seeds, {threads} LibTorch thread{'s' if threads > 1 else ''}:")
            print(f"   Python Session.render(seed), wall:          {summary(py_wall)}")
            print(f"   its C++ render_session inside (timings):    {summary(py_inner)}")
            print(f"   actmap-cli render --seeds, render_session:  {summary(cli_inner)}")
            print(f"   Python wall / C++ in the same call:         {summary([a / b for a, b in zip(py_wall, py_inner)], 'x')}")
            print(f"   Python wall / actmap-cli's C++ call:        {summary([a / b for a, b in zip(py_wall, cli_inner)], 'x')}")

        # 2. Dask against the CLI for 256 seeds, whole batch wall time, on warm clusters.
        configs = [  # label, workers, threads per worker, LibTorch threads per task, CLI --threads to compare with
            ("1 worker x 2 threads, 1 LibTorch thread per task", 1, 2, 1, 2),
            ("1 worker x 1 thread, 2 LibTorch threads per task", 1, 1, 2, 2),
            ("1 worker x 1 thread, 1 LibTorch thread per task", 1, 1, 1, 1)]
        clusters = []
        for label, workers, threads, torch_threads, cli_threads in configs:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None,
                                   silence_logs=40)
            client = Client(cluster)
            ad.render_seeds(session, "0-15", os.path.join(work, "warm"), client, threads=torch_threads)
            clusters.append((label, cluster, client, torch_threads, cli_threads))
        cli_wall = {1: [], 2: []}
        cli_one = {1: [], 2: []}
        dask_wall = {c[0]: [] for c in clusters}
        empty = {c[0]: [] for c in clusters}
        tasks = {}
        for _ in range(rounds):
            for t in (1, 2):
                w, _ = run_cli(cli, "render", session, "--seeds", f"0-{SEEDS - 1}", "--threads", t, "-o", os.path.join(work, "cli"))
                cli_wall[t].append(w)
                w, _ = run_cli(cli, "render", session, "--seeds", "0-0", "--threads", t, "-o", os.path.join(work, "cli1"))
                cli_one[t].append(w)
            for label, cluster, client, torch_threads, _ in clusters:
                out = os.path.join(work, "dask")
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                r = ad.render_seeds(session, f"0-{SEEDS - 1}", out, client, threads=torch_threads)
                dask_wall[label].append(time.perf_counter() - t0)
                tasks[label] = r["tasks"]
                # Dask's own cost per task: the same job's tasks with no seeds to render.
                job = ad._session_job(actmap.Session.load(session), "cpu", out_dir=out)
                job["token"] += "-empty-" + str(len(empty[label]))
                job["threads"] = torch_threads
                t0 = time.perf_counter()
                ad._run(client, ad._render_seeds_task, [([],)] * 64, "bench-empty", job)
                empty[label].append((time.perf_counter() - t0) * 1e3 / 64)
        print("\n2. 256 seeds of faces64 with the contact sheet, wall seconds:")
        for t in (1, 2):
            print(f"   actmap-cli render --seeds 0-255 --threads {t}:   {summary(cli_wall[t], ' s')}")
            print(f"   actmap-cli --threads {t}, start-up, model load and one seed: {summary(cli_one[t], ' s')}")
        for label, _, _, _, cli_threads in clusters:
            d = dask_wall[label]
            loop = [(a - b) * SEEDS / (SEEDS - 1) for a, b in zip(cli_wall[cli_threads], cli_one[cli_threads])]
            print(f"   Dask, {label} ({tasks[label]} tasks): {summary(d, ' s')}")
            print(f"      against actmap-cli --threads {cli_threads}, whole run: "
                  f"{summary([100 * (a / b - 1) for a, b in zip(d, cli_wall[cli_threads])], ' %')}")
            print(f"      against its render loop (no start-up): {summary([100 * (a / b - 1) for a, b in zip(d, loop)], ' %')}")
            print(f"      an empty task (64 in a row): {summary(empty[label], ' ms')}")
        for _, cluster, client, _, _ in clusters:
            client.close()
            cluster.close()

        # 3. Throughput with 1 and 2 worker processes of 1 thread each.
        rates = {}
        for workers in (1, 2):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40)
            client = Client(cluster)
            ad.render_seeds(session, "0-15", os.path.join(work, "warm"), client)
            rates[workers] = []
            for _ in range(rounds):
                out = os.path.join(work, f"dask{workers}")
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                ad.render_seeds(session, f"0-{SEEDS - 1}", out, client, sheet=False)
                rates[workers].append(SEEDS / (time.perf_counter() - t0))
            client.close()
            cluster.close()
        print("\n3. throughput, images per second (256 seeds, no sheet, 1 thread per worker):")
        for workers in (1, 2):
            print(f"   {workers} worker process{'es' if workers > 1 else ''}: {summary(rates[workers])}")
        print(f"   2 / 1: {summary([b / a for a, b in zip(rates[1], rates[2])], 'x')}")
        print(f"load {os.getloadavg()[0]:.1f} at the end")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
