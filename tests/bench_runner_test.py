"""benchmarks/run's train entries end to end on a small model: build/disttune_bench train and
its PyTorch reference (benchmarks/ref_train.py) at np 1 and np 2, the ratios, and the peak
memory both report (the resident high-water mark of the entry's largest batch). Timing is
never asserted; the peak is, against the batch: a step's activations grow with it."""
import importlib.machinery
import importlib.util
import os
import subprocess
import unittest

import dt

BENCH = os.path.join(dt.BUILD, "disttune_bench")
REF_PYTHON = "/usr/bin/python3"  # benchmarks/run's default interpreter for the references
MODEL = ["--layers=2", "--hidden=128", "--heads=2", "--intermediate=512", "--anchor-seq=16", "--seq=32",
         "--steps=1"]


def load_runner():
    loader = importlib.machinery.SourceFileLoader("bench_runner", os.path.join(dt.SOURCE, "benchmarks", "run"))
    spec = importlib.util.spec_from_loader("bench_runner", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def reference_available():
    return subprocess.run([REF_PYTHON, "-c", "import torch"], capture_output=True).returncode == 0


@unittest.skipUnless(os.path.exists(BENCH), f"{BENCH} not built")
@unittest.skipUnless(reference_available(), f"{REF_PYTHON} has no torch (python3-torch) for the reference")
class BenchRunner(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.runner = load_runner()
        os.environ.pop("OMP_NUM_THREADS", None)  # the entries choose their threads per rank

    def entry(self, np_, batches):
        r = self.runner.run(BENCH, "train", np_, [*MODEL, "--batches=" + ",".join(map(str, batches))])
        r["label"] = "small model"
        self.assertEqual(r["rc"], 0, r["stderr"])
        self.runner.run_train_reference(r)
        self.assertNotIn("reference_error", r, r.get("reference_error"))
        return r

    def test_both_sides_report_the_peak_of_the_largest_batch(self):
        small, large = self.entry(1, [16]), self.entry(1, [16, 512])
        for r in (small, large):
            x = r["result"]
            self.assertEqual([p["global_batch"] for p in x["points"]], [16, 512][:len(x["points"])])
            for p in x["points"]:
                self.assertGreater(p["speedup_vs_pytorch_eager"], 0)
                self.assertIn("pytorch_eager_mfu", p)
            # The runtime alone (libtorch; Python and torch) is over 100 MiB on either side.
            self.assertGreater(x["peak_rss_mib"], 100)
            self.assertGreater(r["pytorch_eager"]["peak_rss_mib"], 100)
        # 512 pairs of 48 tokens through two layers of 128 / 512 keep hundreds of MiB of
        # activations for the backward pass, 16 pairs a few: the peak must show it, on both sides.
        for side in (lambda r: r["result"]["peak_rss_mib"], lambda r: r["pytorch_eager"]["peak_rss_mib"]):
            self.assertGreater(side(large) - side(small), 150, (side(small), side(large)))

        # The table prints the peaks on the largest batch's row only.
        rows = [line for line in self.runner.train_table([large]).splitlines() if line.startswith("| 2x128")]
        self.assertEqual(len(rows), 2)
        cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
        self.assertEqual(cells[0][2], "16")
        self.assertEqual(cells[0][-1], "")
        self.assertEqual(cells[1][-1], f'{large["result"]["peak_rss_mib"]:,.0f} / '
                                       f'{large["pytorch_eager"]["peak_rss_mib"]:,.0f}')

    def test_two_ranks_on_both_sides(self):
        r = self.entry(2, [64])
        x = r["result"]
        self.assertEqual(x["world_size"], 2)
        self.assertEqual(r["pytorch_eager"]["world_size"], 2)
        self.assertGreater(x["peak_rss_mib"], 100)
        self.assertGreater(r["pytorch_eager"]["peak_rss_mib"], 100)
        self.assertEqual(x["points"][0]["pytorch_eager"]["global_batch"], 64)


if __name__ == "__main__":
    unittest.main()
