"""Shared helpers for the script tests (tests/*_test.py): locate the build, run disttune
alone or under mpirun, and report checks the way unittest does."""
import os
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("DISTTUNE_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "build")
SOURCE = os.environ.get("DISTTUNE_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..")
DISTTUNE = os.path.join(BUILD, "disttune")
TESTS_BIN = os.path.join(BUILD, "disttune_tests")
MPIEXEC = os.environ.get("DISTTUNE_MPIEXEC") or "mpirun"
DATA = os.environ.get("DISTTUNE_DATA") or os.path.join(SOURCE, "..", "shared", "data")


def mpi_env():
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


class Run:
    def __init__(self, rc, out, err, seconds):
        self.rc, self.out, self.err, self.seconds = rc, out, err, seconds

    def __repr__(self):
        return f"rc={self.rc} ({self.seconds:.1f}s)\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run(args, np=None, timeout=300, stdin=None, cwd=None, env=None):
    """Runs args (a list); under `mpirun -np N` when np is given."""
    cmd = ([MPIEXEC, "-np", str(np), "--oversubscribe"] if np else []) + list(args)
    t0 = time.time()
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                       cwd=cwd or SOURCE, env=env or mpi_env())
    return Run(p.returncode, p.stdout, p.stderr, time.time() - t0)


def read_safetensors(path):
    """{name: numpy array} of a safetensors file, read by hand from its header (F32/F16/I64)."""
    import json
    import struct

    import numpy as np
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=dtypes[h["dtype"]]).reshape(h["shape"])
    return out


class TempDirTest(unittest.TestCase):
    """A test case with a fresh temporary directory per test."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def write_jsonl(self, name, rows):
        import json
        p = self.path(name)
        with open(p, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        return p
