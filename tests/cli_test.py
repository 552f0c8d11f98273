"""The disttune command line: dispatch, help, version, validate, and how errors reach the
user (one line on stderr, exit code non-zero, reported once under mpirun)."""
import os
import sys
import tempfile
import unittest

import dt

VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "pairs.jsonl")
        with open(self.data, "w") as f:
            f.write('{"anchor": "a", "positive": "b"}\n')

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, text, name="cfg.yaml"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def good_config(self):
        return self.config(f"model:\n  init: {{vocab: {VOCAB}}}\ndata:\n  train: {self.data}\n"
                           "training:\n  global_batch_size: 8\n")

    def assert_one_error_line(self, r, expected):
        self.assertNotEqual(r.rc, 0, r)
        lines = [l for l in r.err.splitlines() if l.startswith("disttune: error:")]
        self.assertEqual(lines, [expected], r)

    def test_version_and_help(self):
        r = dt.run([dt.DISTTUNE, "--version"])
        self.assertEqual((r.rc, r.out.strip()), (0, "disttune 0.1.0"), r)
        r = dt.run([dt.DISTTUNE, "--help"])
        self.assertEqual(r.rc, 0, r)
        for cmd in ["train", "validate", "encode", "tokenize", "eval", "mine-negatives", "export"]:
            self.assertIn(f"\n  {cmd} ", r.out)
            h = dt.run([dt.DISTTUNE, cmd, "--help"])
            self.assertEqual(h.rc, 0, h)
            self.assertTrue(h.out.startswith(f"usage: disttune {cmd}"), h)
        self.assertNotEqual(dt.run([dt.DISTTUNE]).rc, 0)

    def test_unknown_command_and_flag(self):
        self.assert_one_error_line(dt.run([dt.DISTTUNE, "frobnicate"]),
                                   "disttune: error: unknown command 'frobnicate' (see disttune --help)")
        self.assert_one_error_line(
            dt.run([dt.DISTTUNE, "validate", self.good_config(), "--sett", "a=1"]),
            "disttune: error: disttune validate: unknown option --sett (see disttune validate --help)")

    def test_validate_prints_the_resolved_config(self):
        cfg = self.good_config()
        r = dt.run([dt.DISTTUNE, "validate", cfg, "--set", "training.epochs=2"])
        self.assertEqual(r.rc, 0, r)
        self.assertIn("training:\n  epochs: 2\n", r.out)
        self.assertIn("  global_batch_size: 8\n", r.out)
        self.assertIn(f"# {cfg}: valid for 1 rank(s)", r.out)

    def test_validate_errors_name_file_line_and_key(self):
        cfg = self.config("training:\n  learnig_rate: 0.1\n")
        self.assert_one_error_line(
            dt.run([dt.DISTTUNE, "validate", cfg]),
            f"disttune: error: {cfg}:2: unknown key 'training.learnig_rate' "
            "(did you mean 'training.learning_rate'?)")
        cfg = self.config(f"model:\n  init: {{vocab: {VOCAB}}}\ndata:\n  train: /nonexistent.jsonl\n")
        self.assert_one_error_line(
            dt.run([dt.DISTTUNE, "validate", cfg]),
            f"disttune: error: {cfg}:4: data.train: '/nonexistent.jsonl' is not a readable file")
        self.assert_one_error_line(
            dt.run([dt.DISTTUNE, "validate", "/nonexistent.yaml"]),
            "disttune: error: /nonexistent.yaml: cannot open config file: No such file or directory")

    def test_under_mpirun_output_and_errors_appear_once(self):
        cfg = self.good_config()
        r = dt.run([dt.DISTTUNE, "validate", cfg], np=2)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.count("valid for 2 rank(s)"), 1, r)
        bad = self.config("training:\n  epochs: 0\n", "bad.yaml")
        r = dt.run([dt.DISTTUNE, "validate", bad], np=2)
        self.assert_one_error_line(
            r, f"disttune: error: {bad}:2: training.epochs: 0 is out of range [1, 1e+06]")
        self.assertLess(r.seconds, 10, r)
        # A global batch that does not split over the ranks is refused before any work.
        r = dt.run([dt.DISTTUNE, "validate", cfg, "--set", "training.global_batch_size=6"], np=4)
        self.assert_one_error_line(
            r, "disttune: error: --set training.global_batch_size: training.global_batch_size: "
               "6 does not divide evenly over 4 rank(s) x 1 accumulation step(s)")

    def test_config_path_alone_means_train(self):
        bad = self.config("trainng: {}\n")
        self.assert_one_error_line(
            dt.run([dt.DISTTUNE, bad]),
            f"disttune: error: {bad}:1: unknown key 'trainng' (did you mean 'training'?)")


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
