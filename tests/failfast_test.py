"""Fail-fast: an error on one rank, or a stalled rank, ends the whole job within seconds
with that rank's message, instead of leaving the other ranks waiting forever. Time is
measured from the moment the failing rank fails (it records a timestamp), so that slow
start-up on a loaded machine does not count."""
import os
import sys
import tempfile
import time
import unittest

import dt


def run_case(test, stamp):
    env = dt.mpi_env()
    env["DISTTUNE_FAILFAST_STAMP"] = stamp
    r = dt.run([dt.TESTS_BIN, "--gtest_filter=MpiFailFast.DISABLED_" + test,
                "--gtest_also_run_disabled_tests"], np=4, timeout=120, env=env)
    ended = time.time()
    with open(stamp) as f:
        failed_at = float(f.read())
    return r, ended - failed_at


class FailFast(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.stamp = os.path.join(self.tmp.name, "stamp")

    def tearDown(self):
        self.tmp.cleanup()

    def test_rank_one_throws_ends_job_with_its_message(self):
        r, after_failure = run_case("RankOneThrows", self.stamp)
        self.assertNotEqual(r.rc, 0, r)
        self.assertLess(after_failure, 10, r)
        self.assertIn("disttune: error: rank 1: injected failure on rank 1", r.err, r)

    def test_stalled_rank_is_detected_by_the_collective_timeout(self):
        r, after_stall = run_case("StalledRankTimesOut", self.stamp)
        self.assertNotEqual(r.rc, 0, r)
        self.assertLess(after_stall, 10, r)
        self.assertIn("barrier did not complete within 2 s", r.err, r)


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
