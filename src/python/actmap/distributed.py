"""actmap.distributed: actmap's batch work spread over processes and machines with Dask.

Dask's distributed scheduler does the scheduling, retries and worker management; this module
only cuts actmap's work into tasks:

- render_seeds: a session's edits on many seeds, to the seed-N.png files (and contact sheet)
  that `actmap-cli render SESSION --seeds A-B -o DIR/` writes, byte for byte;
- render_animation: the frames of `actmap-cli animate`, rendered on the workers, assembled into
  the GIF or MP4 on the client (or written as frame-NNNN.png);
- channel_stats, dissect, sensitivity: analyses over many samples as map-reduce.

What travels to the workers is the session's JSON (with absolute paths), the model card's path
or name and the sha256 of its weights: never tensors or pickled objects of actmap's. Each worker
loads a model once (the ActmapPlugin worker plugin, and a per-process cache), refuses to run
when its weights differ from the client's, and writes its images straight into the output folder,
each atomically (a temporary file renamed into place), so a task that runs twice, or on another
worker after one died, never leaves a duplicate or a half-written file. Inputs are checked on the
client before any task is sent. Workers need the same model files (ACTMAP_MODEL_PATH, or the
same absolute paths), and the output folder must be shared (NFS, ...) or synced afterwards.
"""
from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
import shutil
import socket
import threading
import uuid

import numpy as np

import actmap

try:
    from distributed import WorkerPlugin, as_completed, default_client
except ImportError as e:  # pragma: no cover - Debian: apt-get install python3-distributed
    raise ImportError("actmap.distributed needs Dask's distributed scheduler (Debian: python3-distributed; "
                      "bash cmake/install-deps.sh installs it)") from e

__all__ = ["ActmapPlugin", "render_seeds", "render_animation", "channel_stats", "dissect", "sensitivity",
           "parse_seeds", "shard"]

PLUGIN_NAME = "actmap"
SHEET_MAX = 1024  # images on a contact sheet, as actmap-cli render --seeds

# ---------------------------------------------------------------------------------------------
# Worker side: state kept per worker process.

_lock = threading.Lock()
_models = {}    # (card, device) -> (Model, sha256 of its weights)
_sessions = {}  # (job token, thread) -> Session (a Session renders on one thread at a time)
_SESSIONS_KEPT = 64


def _where():
    return f"{socket.gethostname()} (pid {os.getpid()})"


def _model(card, sha256, device):
    """The model of a card path or name, loaded once per process; checks the weights' hash."""
    key = (card, device)
    with _lock:
        hit = _models.get(key)
    if hit is None:
        model = actmap.Model.load(card, device=device)  # actmap's own cache loads it once, too
        hit = (model, actmap.sha256_file(model.weights_path))
        with _lock:
            _models[key] = hit
    model, actual = hit
    if sha256 and actual != sha256:
        raise actmap.Error(f"worker {_where()}: the weights of {card} ({model.weights_path}) have sha256 {actual}, but "
                           f"the client's have {sha256}: every worker needs the same model files")
    return model


def _use_threads(job):
    # LibTorch's thread count is per calling thread once that thread has run an op, so each task
    # sets its own (the plugin's setting reaches only threads that have not run one yet).
    n = job.get("threads") or 1
    if actmap.threads() != n:
        actmap.set_threads(n)


def _session(job):
    """The job's session on this thread, parsed once (from JSON: nothing else travels)."""
    _use_threads(job)
    key = (job["token"], threading.get_ident())
    with _lock:
        s = _sessions.get(key)
    if s is None:
        _model(job["card"], job["sha256"], job["device"])
        s = actmap.Session.from_json(job["session"], source=job["source"], device=job["device"])
        with _lock:
            while len(_sessions) >= _SESSIONS_KEPT:
                _sessions.pop(next(iter(_sessions)))
            _sessions[key] = s
    return s


def _write_atomic(path, data):
    """Writes bytes to a temporary file beside `path` (named after this host, process and a random
    tag, so two runs of one task never share it), flushes it to disk and renames it over `path`."""
    tmp = f"{path}.tmp-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _render_seeds_task(job, seeds):
    s = _session(job)
    done = []
    for seed in seeds:
        r = s.render(seed=seed)
        _write_atomic(os.path.join(job["out_dir"], f"seed-{seed}.png"), r.png())
        done.append((seed, r.timings["total_ms"]))
    return {"worker": _where(), "seeds": done}


def _animation(job):
    s = _session(job)
    a = actmap.Animation(s, job["frames"])
    if job["seed_walk"]:
        a.walk_seeds(job["seed_walk"])
    if job["param"]:
        a.sweep(job["param"], job["start"], job["stop"])
    return a


def _render_frames_task(job, first, end):
    a = _animation(job)
    for i in range(first, end):
        image = a.render_frame(i, job["scale"])
        _write_atomic(os.path.join(job["frame_dir"], actmap.frame_file_name(i, job["frames"])), actmap.encode_png(image))
    return {"worker": _where(), "frames": [first, end]}


def _source(job):
    """What an analysis runs on: the job's session (its edits) or its model."""
    if job.get("session"):
        return _session(job)
    _use_threads(job)
    return _model(job["card"], job["sha256"], job["device"])


def _channel_stats_task(job, tap, samples, seed, batch, edited):
    return actmap.channel_stats(_source(job), tap, samples=samples, seed=seed, batch=batch, edited=edited)


def _dissect_top_task(job, tap, samples, seed, batch, keep):
    return actmap.dissect_top_values(_source(job), tap, samples, seed, batch, keep)


def _dissect_sums_task(job, tap, region, thresholds, samples, seed, batch):
    return actmap.dissect_sums(_source(job), tap, _region_array(region), thresholds, samples, seed, batch)


def _sensitivity_task(job, tap, samples, seed, ablate, factor, batch, synthesis):
    r = actmap.sensitivity(_source(job), tap, samples=samples, seed=seed, ablate=ablate, factor=factor, batch=batch,
                           synthesis=synthesis)
    return {"tap": r["tap"], "samples": r["samples"], "sum": r["change"] * r["samples"], "ms": r["ms"]}


class ActmapPlugin(WorkerPlugin):
    """Prepares each worker (and any worker that joins or restarts later) for actmap's tasks: sets
    LibTorch's threads per task and loads the listed models once, before the first task needs
    them. `models` holds (card path or name, weights sha256) pairs; `threads` is LibTorch's
    threads per task (default 1: Dask runs one task per worker thread, so a worker with
    --nthreads 2 renders two seeds at a time)."""

    name = PLUGIN_NAME

    def __init__(self, models=(), threads=None, device="cpu"):
        self.models = [tuple(m) for m in models]
        self.threads = threads
        self.device = device

    async def setup(self, worker):
        actmap.set_threads(self.threads or 1)
        loop = asyncio.get_running_loop()
        for card, sha256 in self.models:  # off the event loop: a large model takes a while
            await loop.run_in_executor(None, _model, card, sha256, self.device)


# ---------------------------------------------------------------------------------------------
# Client side.

def parse_seeds(seeds):
    """Seeds as a list: "A-B" or "N" (as actmap-cli --seeds), a range, or an iterable of ints."""
    if isinstance(seeds, str):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", seeds.strip())
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise actmap.Error(f"seeds: expected A-B with A <= B, or N, got '{seeds}'")
        first = int(m.group(1))
        return list(range(first, (int(m.group(2)) if m.group(2) is not None else first) + 1))
    out = [int(s) for s in seeds]
    if not out:
        raise actmap.Error("seeds: none given")
    if any(s < 0 or s >= 2 ** 64 for s in out):
        raise actmap.Error("seeds: each must be in 0 .. 2^64-1")
    if len(set(out)) != len(out):
        raise actmap.Error("seeds: a seed is listed twice (its file would be written twice)")
    return out


def shard(items, k, n):
    """Shard k of n (1-based) of a list: the same contiguous split as actmap-cli --shard K/N."""
    if not (1 <= k <= n):
        raise actmap.Error(f"shard: expected 1 <= K <= N, got {k}/{n}")
    size = len(items)
    return items[(k - 1) * size // n: k * size // n]


def _client(client):
    return client if client is not None else default_client()


def _load_session(session, device):
    if isinstance(session, actmap.Session):
        return session
    return actmap.Session.load(os.fspath(session), device=device)


def _token(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def _session_job(s, device, **extra):
    text = s.to_json(absolute=True)
    source = s.path or "<session>"
    # A model name is found through each worker's own ACTMAP_MODEL_PATH; a card by its absolute path.
    card = s.card_path if ("/" in s.model or s.model.endswith(".json")) else s.model
    job = {"session": text, "source": os.path.abspath(source) if s.path else source, "card": card,
           "sha256": s.weights_sha256, "device": device}
    job.update(extra)
    job["token"] = _token(sorted(job.items()))
    return job


def _model_job(model, device):
    """The model (a Model, a Session's model, or a name or card path) and the job naming it."""
    if isinstance(model, actmap.Session):
        m = model.open_model()
    elif isinstance(model, actmap.Model):
        m = model
    else:
        m = actmap.Model.load(os.fspath(model), device=device)
    job = {"session": None, "source": None, "card": m.card_path, "sha256": actmap.sha256_file(m.weights_path),
           "device": m.device}
    job["token"] = _token(sorted(job.items()))
    return m, job


def _worker_threads(client):
    n = sum(client.nthreads().values())
    if n == 0:
        raise actmap.Error("the Dask cluster has no workers (start some with `dask worker SCHEDULER_ADDRESS`)")
    return n


def _chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def _default_chunk(count, client, multiple=1):
    # About four tasks per worker thread: enough to balance uneven workers, few enough that Dask's
    # per-task cost (a few ms) stays small next to the renders.
    size = max(1, math.ceil(count / (4 * _worker_threads(client))))
    return max(multiple, math.ceil(size / multiple) * multiple)


def _register(client, job, threads):
    job["threads"] = threads or 1
    client.register_worker_plugin(ActmapPlugin([(job["card"], job["sha256"])], threads, job["device"]), name=PLUGIN_NAME)


def _run(client, fn, argument_lists, prefix, job, progress=None):
    """Submits one task per argument list and returns their results in order; the first error
    cancels the rest and is raised."""
    futures = [client.submit(fn, job, *args, key=f"actmap-{prefix}-{job['token']}-{i}", pure=False)
               for i, args in enumerate(argument_lists)]
    results = {}
    try:
        done = 0
        for future in as_completed(futures):
            results[future.key] = future.result()
            done += 1
            if progress is not None:
                progress(done, len(futures))
    except BaseException:
        client.cancel(futures)
        raise
    return [results[f.key] for f in futures]


def _remove_stale_temporaries(folder, names):
    """Temporary files of our outputs left by a worker that died while writing one."""
    wanted = set(names)
    pattern = re.compile(r"^(.*)\.tmp-[^/]*$")
    removed = 0
    for entry in os.listdir(folder):
        m = pattern.match(entry)
        if m and m.group(1) in wanted:
            try:
                os.unlink(os.path.join(folder, entry))
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def render_seeds(session, seeds, out_dir, client=None, *, sheet=True, chunk=None, threads=None, device="cpu",
                 progress=None):
    """Renders a session's edits on each seed into out_dir/seed-N.png (and out_dir/contact-sheet.png
    with the first 1024, unless sheet=False): the files `actmap-cli render SESSION --seeds A-B -o
    out_dir/` writes, byte for byte. `session` is a path or an actmap.Session; `seeds` is "A-B", a
    range or a list. The session is checked here, before any task is sent. `chunk` seeds go to one
    task (default: about four tasks per worker thread); `threads` is LibTorch's threads per task.
    Returns {"images", "out_dir", "sheet", "tasks", "render_ms", "workers"}."""
    client = _client(client)
    s = _load_session(session, device)
    seeds = parse_seeds(seeds)
    out_dir = os.path.abspath(os.fspath(out_dir))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise actmap.Error(f"{out_dir}: cannot create directory: {e.strerror}") from e
    job = _session_job(s, device, out_dir=out_dir)
    _register(client, job, threads)
    size = chunk or _default_chunk(len(seeds), client)
    results = _run(client, _render_seeds_task, [(c,) for c in _chunks(seeds, size)], "render-seeds", job, progress)
    names = [f"seed-{seed}.png" for seed in seeds]
    _remove_stale_temporaries(out_dir, names)
    sheet_path = None
    if sheet:
        images = [actmap.read_image(os.path.join(out_dir, n)) for n in names[:SHEET_MAX]]
        sheet_path = os.path.join(out_dir, "contact-sheet.png")
        actmap.write_png(sheet_path, actmap.tile_images(images))
    return {"images": len(seeds), "out_dir": out_dir, "sheet": sheet_path, "tasks": len(results),
            "render_ms": sum(ms for r in results for _, ms in r["seeds"]),
            "workers": sorted({r["worker"] for r in results})}


def render_animation(session, out, client=None, *, frames=60, param=None, start=None, stop=None, seed_walk=None,
                     fps=30.0, scale=1, chunk=None, threads=None, device="cpu", progress=None):
    """Renders an animation like `actmap-cli animate`: the number at JSON pointer `param` swept from
    `start` to `stop` and/or the latent walking through `seed_walk` seeds, over `frames` frames.
    The workers render the frames; `out` ending in .gif or .mp4 is assembled here, on the client,
    through ffmpeg (the frames pass through a hidden folder beside it, removed afterwards);
    anything else is a folder of frame-NNNN.png. Returns {"frames", "out", "tasks", "workers"}."""
    client = _client(client)
    s = _load_session(session, device)
    if not param and not seed_walk:
        raise actmap.Error("nothing to animate: give param (with start and stop) and/or seed_walk")
    if param and (start is None or stop is None):
        raise actmap.Error("param needs start and stop")
    walk = [int(x) for x in seed_walk] if seed_walk else []
    check = actmap.Animation(s, frames)  # checks the pointer, the values and the seeds now
    if walk:
        check.walk_seeds(walk)
    if param:
        check.sweep(param, float(start), float(stop))
    out = os.path.abspath(os.fspath(out))
    writer = actmap.FrameWriter(out, float(fps), frames)  # checks the output type and ffmpeg
    job = _session_job(s, device, frames=frames, param=param or "", start=float(start or 0), stop=float(stop or 0),
                       seed_walk=walk, scale=int(scale), out=out)
    frame_dir = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.frames-{job['token'][:12]}") \
        if writer.video else out
    job["frame_dir"] = frame_dir
    os.makedirs(frame_dir, exist_ok=True)
    _register(client, job, threads)
    size = chunk or _default_chunk(frames, client)
    ranges = [(a, min(a + size, frames)) for a in range(0, frames, size)]
    try:
        results = _run(client, _render_frames_task, ranges, "animate", job, progress)
        names = [actmap.frame_file_name(i, frames) for i in range(frames)]
        _remove_stale_temporaries(frame_dir, names)
        if writer.video:
            for n in names:
                writer.add(actmap.read_image(os.path.join(frame_dir, n)))
            writer.finish()
    finally:
        if writer.video:
            shutil.rmtree(frame_dir, ignore_errors=True)
    return {"frames": frames, "out": out, "tasks": len(results), "workers": sorted({r["worker"] for r in results})}


def _sample_chunks(samples, seed, size):
    return [(min(size, samples - first), seed + first) for first in range(0, samples, size)]


def channel_stats(source, tap, samples=64, seed=0, client=None, *, batch=8, edited=True, chunk=None, threads=None,
                  device="cpu", progress=None):
    """actmap.channel_stats over many samples as map-reduce: each task gathers one run of seeds,
    the client merges them (Chan et al.'s update; the same result as one process up to rounding).
    `source`: a Session or session path (its edits apply), or a Model or model name (no edits)."""
    client = _client(client)
    if isinstance(source, actmap.Session) or (isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith(".json")
                                              and _is_session_file(source)):
        s = _load_session(source, device)
        job = _session_job(s, device)
        tap_name = s.open_model().tap(tap).name
    else:
        model, job = _model_job(source, device)
        tap_name = model.tap(tap).name
    _register(client, job, threads)
    size = chunk or _default_chunk(samples, client, batch)
    parts = _run(client, _channel_stats_task,
                 [(tap_name, n, first, batch, edited) for n, first in _sample_chunks(samples, seed, size)],
                 "channel-stats", job, progress)
    return actmap.merge_channel_stats(parts)


def _is_session_file(path):
    import json
    try:
        with open(os.fspath(path), encoding="utf-8") as f:
            return "actmap_session" in json.load(f)
    except (OSError, ValueError):
        return False


def _region_payload(region):
    r = actmap.region(region)
    return {"height": int(r.shape[0]), "width": int(r.shape[1]), "bits": np.packbits(r).tobytes()}


def _region_array(payload):
    n = payload["height"] * payload["width"]
    bits = np.unpackbits(np.frombuffer(payload["bits"], dtype=np.uint8))[:n]
    return bits.reshape(payload["height"], payload["width"])


def dissect(model, tap, region, samples=64, seed=0, client=None, *, quantile=0.99, batch=8, chunk=None, threads=None,
            device="cpu", progress=None):
    """actmap.dissect over many samples in two map-reduce passes: each task finds its samples'
    largest activations per channel, the client takes each channel's quantile level from them
    (exactly the level one process finds), then each task counts its samples' overlap with the
    region at those levels and the client adds the counts up: the same IoU as actmap.dissect (the
    means agree to rounding). Returns what actmap.dissect returns."""
    client = _client(client)
    m, job = _model_job(model, device)
    tap_name = m.tap(tap).name
    payload = _region_payload(region)
    region_array = _region_array(payload)
    keep = actmap.dissect_keep(m, tap_name, quantile, samples)
    _register(client, job, threads)
    # Whole batches from the first seed, so each sample is computed in the batch it has in one process.
    size = chunk or _default_chunk(samples, client, batch)
    size = max(batch, size // batch * batch)
    parts = _sample_chunks(samples, seed, size)
    tops = _run(client, _dissect_top_task, [(tap_name, n, first, batch, keep) for n, first in parts], "dissect-top", job)
    thresholds = actmap.dissect_thresholds(tops, keep)
    sums = _run(client, _dissect_sums_task, [(tap_name, payload, thresholds, n, first, batch) for n, first in parts],
                "dissect-sums-" + _token(thresholds.tobytes()), job, progress)
    total = {"samples": sum(p["samples"] for p in sums)}
    for key in ("intersection", "on", "inside_sum", "total_sum"):
        total[key] = np.sum([p[key] for p in sums], axis=0)
    return actmap.dissect_scores(m, tap_name, region_array, thresholds, total)


def sensitivity(model, taps=None, samples=16, seed=0, client=None, *, ablate=True, factor=0.0, batch=64, synthesis=None,
                chunk=None, threads=None, device="cpu", progress=None):
    """actmap.sensitivity of every tap (or the listed ones) over many samples: one task per tap and
    run of seeds, the client averages the runs. Returns {tap name: {tap, change, ranking, samples}}
    in the model's tap order (the output tap itself is left out)."""
    client = _client(client)
    m, job = _model_job(model, device)
    names = [t.name for t in m.taps[:-1]] if taps is None else [m.tap(t).name for t in taps]
    if synthesis is not None and dict(synthesis).get("noise_mode") == "random":
        raise actmap.Error("sensitivity: noise 'random' is drawn per batch element; use 'const' or 'none'")
    _register(client, job, threads)
    size = chunk or max(1, math.ceil(samples * len(names) / (4 * _worker_threads(client))))
    size = min(size, samples)
    work = [(name, n, first, ablate, factor, batch, synthesis) for name in names for n, first in _sample_chunks(samples, seed, size)]
    parts = _run(client, _sensitivity_task, work, "sensitivity", job, progress)
    out = {}
    for name in names:
        mine = [p for p in parts if p["tap"] == name]
        change = np.sum([p["sum"] for p in mine], axis=0) / samples
        out[name] = {"tap": name, "change": change, "ranking": np.argsort(-change, kind="stable"),
                     "samples": samples, "ms": sum(p["ms"] for p in mine)}
    return out
