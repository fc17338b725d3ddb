#!/usr/bin/python3
"""actmap-cli render --seeds and animate with --shard K/N: the union of every shard's files is what
one process writes, byte for byte; --sheet-only makes the contact sheet afterwards; bad shards fail.

    /usr/bin/python3 tests/cli/test_shard.py ACTMAP_CLI SCRATCH_DIR
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import support  # noqa: E402
from support import EDITS, cli, cli_error, read, scratch, write_session  # noqa: E402


def files_of(folder):
    return {n: read(os.path.join(folder, n)) for n in sorted(os.listdir(folder))}


class Shard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("shard")
        cls.session = write_session(os.path.join(cls.dir, "s.json"), EDITS)

    def test_render_seeds_shards_add_up_to_one_run(self):
        d = scratch("render")
        cli("render", self.session, "--seeds", "10-20", "-o", f"{d}/one")
        for k in (1, 2, 3):
            _, out, _ = cli("render", self.session, "--seeds", "10-20", "--shard", f"{k}/3", "-o", f"{d}/shards")
            self.assertIn("wrote", out)
        # Shards write no sheet; 11 seeds in 3 shards: 10-12, 13-16, 17-20.
        self.assertEqual(sorted(os.listdir(f"{d}/shards")), sorted(f"seed-{s}.png" for s in range(10, 21)))
        _, out, _ = cli("render", self.session, "--seeds", "10-13", "--shard", "1/3", "-o", f"{d}/first")
        self.assertEqual(sorted(os.listdir(f"{d}/first")), ["seed-10.png"])
        _, out, _ = cli("render", self.session, "--seeds", "10-20", "--sheet-only", "-o", f"{d}/shards")
        self.assertIn("contact-sheet.png", out)
        self.assertEqual(files_of(f"{d}/shards"), files_of(f"{d}/one"))
        # More shards than seeds: an empty shard says so.
        _, out, _ = cli("render", self.session, "--seeds", "1-2", "--shard", "2/5", "-o", f"{d}/few")
        self.assertIn("no seeds", out)

    def test_animate_shards_add_up_to_one_run(self):
        d = scratch("animate")
        args = ["--param", "/edits/1/params/factor", "--from", "1", "--to", "4", "--frames", "7"]
        cli("animate", self.session, *args, "-o", f"{d}/one")
        for k in (1, 2):
            cli("animate", self.session, *args, "--shard", f"{k}/2", "-o", f"{d}/shards")
        self.assertEqual(files_of(f"{d}/shards"), files_of(f"{d}/one"))
        self.assertIn("--shard writes frames", cli_error("animate", self.session, *args, "--shard", "1/2", "-o", f"{d}/a.gif"))

    def test_bad_shards(self):
        d = scratch("bad")
        for bad in ("0/3", "4/3", "1", "a/b", "1/0", "-1/2"):
            self.assertIn("--shard: expected K/N", cli_error("render", self.session, "--seeds", "0-3", "--shard", bad, "-o", d))
        self.assertIn("missing", cli_error("render", self.session, "--seeds", "0-3", "--sheet-only", "-o", d))


if __name__ == "__main__":
    support.run_tests()
