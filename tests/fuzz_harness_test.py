"""The fuzz harness itself (tests/fuzz, disttune_fuzz): each kind of failure it exists to
catch is planted in a selftest_* target and must end the run with a non-zero status, a
message saying what happened, and the input saved where `--input` reproduces it; a clean
error must not count as a failure; a seeded run is deterministic."""
import glob
import os
import re
import subprocess
import sys
import unittest

import dt

FUZZ = os.path.join(dt.BUILD, "disttune_fuzz")


def sanitized():
    with open(os.path.join(dt.BUILD, "CMakeCache.txt")) as f:
        return re.search(r"^DISTTUNE_SANITIZE:BOOL=ON$", f.read(), re.M) is not None


class FuzzHarness(dt.TempDirTest):
    def fuzz(self, *args, timeout=120):
        p = subprocess.run([FUZZ, *args], capture_output=True, text=True, timeout=timeout,
                           cwd=self.tmp.name)
        return dt.Run(p.returncode, p.stdout, p.stderr, 0)

    def planted(self, target, *flags, expect):
        armed = self.path("armed")
        with open(armed, "wb") as f:
            f.write(b"bug\x00\x00\x00\x00\x00\x00\x00\x00")
        prefix = self.path("out-")
        r = self.fuzz(target, "--input", armed, "--artifact-prefix", prefix, *flags)
        self.assertNotEqual(r.rc, 0, r)
        self.assertRegex(r.err, expect)
        saved = glob.glob(prefix + "crash-" + target + "-*")
        self.assertEqual(len(saved), 1, r)
        with open(saved[0], "rb") as f:
            self.assertEqual(f.read(), b"bug" + b"\x00" * 8)
        self.assertIn(f"disttune_fuzz {target} --input {saved[0]}", r.err)
        # The same target on a harmless input passes.
        fine = self.path("fine")
        with open(fine, "w") as f:
            f.write("fine")
        self.assertEqual(self.fuzz(target, "--input", fine).rc, 0)

    def test_crash_is_reported_and_saved(self):
        # Release: our SIGSEGV handler; UBSan build: its null-pointer check comes first.
        self.planted("selftest_segv", expect="SIGSEGV|runtime error: store to null pointer")

    def test_internal_error_is_a_bug(self):
        self.planted("selftest_internal", expect=r"BUG in target selftest_internal: InternalError .*planted invariant")

    def test_foreign_exception_is_a_bug(self):
        self.planted("selftest_exception", expect=r"BUG in target selftest_exception: std::out_of_range escaped")

    def test_unbounded_allocation_is_a_bug(self):
        # Release: the address-space limit makes it std::bad_alloc; ASan: its allocator
        # refuses it (max_allocation_size_mb) with an out-of-memory report.
        self.planted("selftest_alloc", expect=r"BUG in target selftest_alloc: std::bad_alloc|"
                                              r"AddressSanitizer: allocator is out of memory")

    def test_peak_rss_growth_is_a_bug(self):
        self.planted("selftest_rss", "--rss-limit-mb", "128", "--timeout", "300",
                     expect=r"raised the peak RSS by \d+ MB \(limit 128 MB\)")

    def test_hang_is_a_bug(self):
        self.planted("selftest_hang", "--timeout", "1", expect=r"ran longer than 1 s \(hang\)")

    @unittest.skipUnless(sanitized(), "needs the AddressSanitizer build (DISTTUNE_SANITIZE=ON)")
    def test_heap_overflow_is_caught_by_asan(self):
        self.planted("selftest_heap_overflow", expect="heap-buffer-overflow")

    def test_clean_error_is_not_a_failure(self):
        armed = self.path("armed")
        with open(armed, "w") as f:
            f.write("bug")
        r = self.fuzz("selftest_clean", "--input", armed)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("planted clean error", r.out)

    def test_seeded_run_is_deterministic_and_reports_each_target(self):
        runs = [self.fuzz("qrels", "--runs", "300", "--seed", "7") for _ in range(2)]
        for r in runs:
            self.assertEqual(r.rc, 0, r)
        # Same seed: the same inputs, so the same counts of accepted inputs, distinct outcomes
        # and corpus entries (seconds, exec/s and RSS differ from run to run).
        rows = [r.out.splitlines()[1].split() for r in runs]
        counts = [[row[i] for i in (0, 1, 4, 5, 6, 8)] for row in rows]
        self.assertEqual(counts[0], counts[1])
        self.assertEqual(counts[0][:2], ["qrels", "300"])
        self.assertEqual(counts[0][-1], "ok")
        listed = self.fuzz("--list").out.split()
        for t in ["safetensors", "tokenize", "tokenizer_files", "config", "jsonl", "json", "csv", "tsv",
                  "beir", "qrels", "checkpoint"]:
            self.assertIn(t, listed)
        self.assertNotIn("selftest_segv", listed)

    def test_unknown_target_and_bad_flags_are_usage_errors(self):
        self.assertEqual(self.fuzz("nope").rc, 2)
        self.assertEqual(self.fuzz("qrels", "--runs", "-1").rc, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
