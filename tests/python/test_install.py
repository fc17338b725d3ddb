#!/usr/bin/python3
"""`cmake --install BUILD --component python --prefix PREFIX` puts a working actmap package into
PREFIX/lib/python3.X/dist-packages (the system's site folder when PREFIX is /usr/local), and it
renders the pixels of actmap-cli.

    ACTMAP_BUILD_DIR=build/no-gui /usr/bin/python3 tests/python/test_install.py ACTMAP_CLI SCRATCH_DIR
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
BUILD = os.environ.get("ACTMAP_BUILD_DIR", "")
import support  # noqa: E402
from support import EDITS, cli, read, scratch, write_session  # noqa: E402


class Install(unittest.TestCase):
    def test_cmake_install_into_a_prefix(self):
        self.assertTrue(os.path.isfile(os.path.join(BUILD, "CMakeCache.txt")), f"ACTMAP_BUILD_DIR={BUILD!r} is no build folder")
        prefix = scratch("prefix")
        p = subprocess.run(["cmake", "--install", BUILD, "--component", "python", "--prefix", prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout)
        site = os.path.join(prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}", "dist-packages")
        installed = sorted(os.listdir(os.path.join(site, "actmap")))
        for name in ("__init__.py", "distributed.py", "_actmap.pyi", "distributed.pyi", "py.typed"):
            self.assertIn(name, installed)
        self.assertTrue(any(n.startswith("_actmap.") and n.endswith(".so") for n in installed), installed)
        d = scratch("render")
        session = write_session(f"{d}/s.json", EDITS)
        cli("render", session, "-o", f"{d}/cli.png")
        env = dict(os.environ, PYTHONPATH=site)
        code = (f"import actmap; assert actmap.__file__.startswith({site!r}), actmap.__file__; "
                f"actmap.Session.load({session!r}).render().save({d + '/py.png'!r})")
        p = subprocess.run(["/usr/bin/python3", "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=300, cwd=d)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(read(f"{d}/py.png"), read(f"{d}/cli.png"))


if __name__ == "__main__":
    support.run_tests()
