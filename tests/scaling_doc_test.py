"""docs/scaling.md holds the predictions benchmarks/scaling_model.py makes: every row of the
tables the script prints from its own constants (sizes, all-reduce, GPU step times) is in
the page, so a change to the model (its FLOP count, its constants) cannot leave the page
behind. The measured CPU section depends on the last benchmark run and is not compared."""
import os
import subprocess
import sys
import unittest

import dt

SCRIPT = os.path.join(dt.SOURCE, "benchmarks", "scaling_model.py")
PAGE = os.path.join(dt.SOURCE, "docs", "scaling.md")


class ScalingDoc(unittest.TestCase):
    def test_every_predicted_row_is_on_the_page(self):
        with open(PAGE, encoding="utf-8") as f:
            page = f.read()
        for section in ("sizes", "allreduce", "gpu"):
            out = subprocess.run([sys.executable, SCRIPT, "--section", section], capture_output=True,
                                 text=True, check=True).stdout
            rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
            self.assertGreater(len(rows), 2, section)
            for row in rows:
                self.assertIn(row, page, f"docs/scaling.md lacks this {section} row of scaling_model.py; "
                                         f"paste the script's output into the page")


if __name__ == "__main__":
    unittest.main()
