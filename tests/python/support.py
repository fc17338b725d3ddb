"""Shared pieces of the Python tests: actmap-cli runs, a scratch folder inside the build tree, sessions.

Each test file is run as `/usr/bin/python3 tests/python/test_X.py ACTMAP_CLI SCRATCH_DIR` with
PYTHONPATH naming the build tree's python/ folder (tests/CMakeLists.txt registers them). Scratch
folders are made under SCRATCH_DIR (never /tmp), TMPDIR points there too, and they are removed
when the tests end.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CLI = None
SCRATCH_ROOT = None
SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FACES64 = os.path.join(SOURCE_DIR, "models", "faces64.json")


def setup_from_argv():
    """Reads ACTMAP_CLI and SCRATCH_DIR from the command line (the rest goes to unittest)."""
    global CLI, SCRATCH_ROOT
    if len(sys.argv) < 3:
        print(f"usage: {sys.argv[0]} ACTMAP_CLI SCRATCH_DIR [unittest options]", file=sys.stderr)
        sys.exit(2)
    CLI = os.path.abspath(sys.argv[1])
    os.makedirs(sys.argv[2], exist_ok=True)
    SCRATCH_ROOT = tempfile.mkdtemp(prefix="run-", dir=os.path.abspath(sys.argv[2]))
    os.environ["TMPDIR"] = SCRATCH_ROOT
    tempfile.tempdir = SCRATCH_ROOT
    for key in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        os.environ[key] = os.path.join(SCRATCH_ROOT, key.lower())
    del sys.argv[1:3]


def cleanup():
    if SCRATCH_ROOT:
        shutil.rmtree(SCRATCH_ROOT, ignore_errors=True)


def run_tests():
    """unittest's main with our arguments; exit status 1 when anything failed."""
    setup_from_argv()
    try:
        program = unittest.main(verbosity=2, exit=False)
        ok = program.result.wasSuccessful()
    finally:
        cleanup()
    sys.exit(0 if ok else 1)


def scratch(name):
    path = tempfile.mkdtemp(prefix=name + "-", dir=SCRATCH_ROOT)
    return path


def cli(*args, check=True):
    """Runs actmap-cli; returns (exit status, stdout, stderr)."""
    p = subprocess.run([CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"actmap-cli {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
    return p.returncode, p.stdout, p.stderr


def cli_error(*args):
    """The message of a failing actmap-cli run (without the 'actmap-cli: error: ' prefix)."""
    code, _, err = cli(*args, check=False)
    assert code == 1, f"expected actmap-cli {' '.join(map(str, args))} to fail, got {code}: {err}"
    at = err.rfind("actmap-cli: error: ")
    assert at >= 0, err
    return err[at + len("actmap-cli: error: "):].rstrip("\n")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_session(path, edits, seed=5, model=FACES64, **extra):
    doc = {"actmap_session": 1, "model": {"card": model}, "latent": {"seed": seed}, "edits": edits}
    doc.update(extra)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    return path


# A session on faces64 with edits at two taps (geometry at 8x8, values at 16x16, a masked fill).
EDITS = [
    {"id": "turn", "tap": "main.5", "channels": {"range": [0, 63]}, "op": "rotate", "params": {"degrees": 30}},
    {"id": "boost", "tap": "main.8", "channels": [1, 4, 9, 16], "op": "multiply", "params": {"factor": 2.5}},
    {"id": "spot", "tap": "main.8", "channels": "all", "op": "fill", "params": {"value": 0.5},
     "mask": {"ellipse": [7.5, 7.5, 3, 2]}},
]
