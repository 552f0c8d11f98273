"""Fail-fast: an error on one rank, or a stalled rank, ends the whole job within seconds
with that rank's message, instead of leaving the other ranks waiting forever."""
import sys
import unittest

import dt


class FailFast(unittest.TestCase):
    def test_rank_one_throws_ends_job_with_its_message(self):
        r = dt.run([dt.TESTS_BIN, "--gtest_filter=MpiFailFast.DISABLED_RankOneThrows",
                    "--gtest_also_run_disabled_tests"], np=4, timeout=60)
        self.assertNotEqual(r.rc, 0, r)
        self.assertLess(r.seconds, 10, r)
        self.assertIn("disttune: error: rank 1: injected failure on rank 1", r.err, r)

    def test_stalled_rank_is_detected_by_the_collective_timeout(self):
        r = dt.run([dt.TESTS_BIN, "--gtest_filter=MpiFailFast.DISABLED_StalledRankTimesOut",
                    "--gtest_also_run_disabled_tests"], np=4, timeout=60)
        self.assertNotEqual(r.rc, 0, r)
        self.assertLess(r.seconds, 15, r)
        self.assertIn("barrier did not complete within 2 s", r.err, r)


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
