"""Storage faults in the real binary (docs/reliability.md, "Storage faults"): the LD_PRELOAD
injector build/libdt_faultfs.so (tests/faultfs.c) fails write/pwrite with ENOSPC partway,
fsync with EIO and rename with EIO for the files a test names, beneath disttune and libhdf5.
Each time the command fails with one line naming the file and the OS error, the job ends on
every rank, no temporary is left, the previous outputs still load, and `resume: auto` goes on
from the last good checkpoint. Also: output paths are confined (a symlinked final/ or
export target is replaced, never followed; a non-model directory is never replaced).

The in-process counterpart, every writer against every fault, is the StorageFault* gtests."""
import glob
import json
import os
import random
import shutil
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

import dt

FAULTFS = os.path.join(dt.BUILD, "libdt_faultfs.so")
VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")
WORDS = ("revenue growth cash margin segment debt equity income quarter dividend capital "
         "expenses tax assets risk lease goodwill inventory pension bond credit loan audit").split()
CKPT = "step-{:08d}.h5"


def fault_env(log, **faults):
    """The environment of a run under the injector: FAULTFS_<KEY>=value for each fault."""
    env = dt.mpi_env()
    env["LD_PRELOAD"] = FAULTFS
    env["FAULTFS_LOG"] = log
    for k, v in faults.items():
        env["FAULTFS_" + k.upper()] = str(v)
    # A sanitizer build wants its runtime first in the library list; the injector comes first.
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"), "verify_asan_link_order=0") if x)
    return env


def faults_fired(log):
    """[(unix time, pid, fault, path)] that the injector wrote to its log."""
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [(float(t), int(p), what, path) for t, p, what, path in (l.split(" ", 3) for l in f.read().splitlines())]


def load_whole_checkpoint(path):
    """Reads every dataset (HDF5 verifies each Fletcher-32 checksum); returns the step."""
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: o[()] if isinstance(o, h5py.Dataset) else None)
        return int(f.attrs["step"])


def steps_of(run):
    return sorted(int(os.path.basename(p)[5:13]) for p in glob.glob(f"{run}/checkpoints/step-*.h5"))


def leftovers(root):
    """Temporaries anywhere under root (name.tmp.<pid>, name.old.<pid>)."""
    out = []
    for d, dirs, files in os.walk(root):
        out += [os.path.join(d, n) for n in dirs + files if ".tmp." in n or ".old." in n]
    return out


class StorageFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.path.exists(FAULTFS), f"{FAULTFS} is missing: build the dt_faultfs target"
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "pairs.jsonl")
        rng = random.Random(7)
        with open(cls.data, "w") as f:
            for i in range(240):
                key = " ".join(rng.choice(WORDS) for _ in range(3))
                ctx = " ".join(rng.choice(WORDS) for _ in range(12))
                f.write(json.dumps({"anchor": f"what about {key} {i % 97}?",
                                    "positive": f"{ctx} {key} {i % 97}."}) + "\n")
        # One run without faults: its checkpoints and model are the reference.
        cls.base_cfg, cls.base = cls.config("base")
        r = dt.run([dt.DISTTUNE, "train", cls.base_cfg], timeout=600)
        assert r.rc == 0, r
        assert steps_of(cls.base) == [4, 8, 12], steps_of(cls.base)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def config(cls, name, keep_last=5, evaluate=False):
        """12 steps of a tiny model, dropout off, a checkpoint (and, when `evaluate`, an
        evaluation) every 4 steps."""
        run = os.path.join(cls.tmp.name, name)
        body = (f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, num_heads: 2,\n"
                "         intermediate_size: 64, max_position: 64, seed: 0}\n"
                "  max_seq_length: 48\n  dropout: 0.0\n"
                f"data:\n  train: {cls.data}\n  split: {{train: 0.8, val: 0.1, test: 0.1, seed: 42}}\n"
                "training:\n  epochs: 1\n  global_batch_size: 16\n  learning_rate: 1.0e-3\n"
                "  scheduler: linear\n  warmup_ratio: 0.1\n  seed: 42\n  logging_steps: 1\n"
                + ("eval:\n  strategy: steps\n  steps: 4\n  test: false\n" if evaluate else
                   "eval:\n  strategy: no\n  test: false\n") +
                f"checkpoint:\n  save_strategy: steps\n  save_steps: 4\n  keep_last: {keep_last}\n"
                f"output:\n  dir: {run}\n")
        path = os.path.join(cls.tmp.name, name + ".yaml")
        with open(path, "w") as f:
            f.write(body)
        return path, run

    def log(self, name):
        return os.path.join(self.tmp.name, name + ".faults")

    def assert_one_error_line(self, r, *parts):
        self.assertNotEqual(r.rc, 0, r)
        lines = [l for l in r.err.splitlines() if l.startswith("disttune: error:")]
        self.assertTrue(lines, r)
        for p in parts:
            self.assertIn(p, lines[0], r)

    def test_checkpoint_disk_full_under_mpirun_then_resume(self):
        """np 2: the step-8 checkpoint meets ENOSPC partway (after step 4 was saved): the job
        ends on both ranks with the file and the OS error, step 4 loads, no temporary is
        left, and resume: auto finishes with the uninterrupted run's model."""
        cfg, run = self.config("enospc")
        log = self.log("enospc")
        bad = f"{run}/checkpoints/" + CKPT.format(8)
        r = dt.run([dt.DISTTUNE, "train", cfg], np=2, timeout=300,
                   env=fault_env(log, match=CKPT.format(8) + ".tmp", enospc_after=2_000_000))
        ended = time.time()
        self.assert_one_error_line(r, bad, "No space left on device")
        fired = faults_fired(log)
        kinds = {f[2] for f in fired}
        self.assertIn("short-write-then-ENOSPC", kinds, fired)  # partway, not at the first byte
        self.assertIn("ENOSPC", kinds, fired)
        self.assertEqual(len({f[1] for f in fired}), 1, "only rank 0 writes checkpoints")
        print(f"np 2 job ended {ended - fired[0][0]:.1f} s after the injected ENOSPC", flush=True)
        self.assertLess(ended - fired[0][0], 10, f"the job took {ended - fired[0][0]:.1f} s to end")
        self.assertEqual(steps_of(run), [4])
        self.assertEqual(load_whole_checkpoint(f"{run}/checkpoints/" + CKPT.format(4)), 4)
        self.assertEqual(leftovers(run), [])
        self.assertFalse(os.path.exists(f"{run}/final"))

        r = dt.run([dt.DISTTUNE, "train", cfg], np=2, timeout=300)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("resumed from " + f"{run}/checkpoints/" + CKPT.format(4), r.out)
        self.assertEqual(steps_of(run), [4, 8, 12])
        for s in (8, 12):
            self.assertEqual(load_whole_checkpoint(f"{run}/checkpoints/" + CKPT.format(s)), s)
        # Dropout off: 2 ranks x 8 = 1 rank x 16 to float rounding, so the resumed job ends
        # with the fault-free run's model.
        a, b = dt.read_safetensors(f"{self.base}/final/model.safetensors"), dt.read_safetensors(f"{run}/final/model.safetensors")
        self.assertEqual(set(a), set(b))
        for n, v in a.items():
            np.testing.assert_allclose(b[n], v, atol=2e-5, rtol=1e-4, err_msg=n)
        self.assertEqual(leftovers(run), [])

    def test_directory_fsync_failure_keeps_older_checkpoints(self):
        """keep_last 1, evaluating every 4 steps: the step-8 checkpoint is renamed into place
        but its directory fsync fails. Nothing older is pruned (pruning waits for a durable
        publish), both load, and resume: auto goes on from step 8 and ends keeping the last
        checkpoint and the best one."""
        cfg, run = self.config("dirsync", keep_last=1, evaluate=True)
        os.makedirs(f"{run}/checkpoints")
        shutil.copy(f"{self.base}/checkpoints/" + CKPT.format(4), f"{run}/checkpoints/")
        # Left by a killed run: removed at the start. A symlink named like one is removed
        # at most, never followed: the file it points to outside the run stays.
        stale = f"{run}/checkpoints/" + CKPT.format(99) + ".tmp.4242"
        with open(stale, "wb") as f:
            f.write(b"\0" * 1000)
        outside = os.path.join(self.tmp.name, "outside-dirsync.h5.tmp.1")
        with open(outside, "w") as f:
            f.write("keep me")
        os.symlink(outside, f"{run}/checkpoints/" + CKPT.format(98) + ".tmp.7")
        log = self.log("dirsync")
        r = dt.run([dt.DISTTUNE, "train", cfg], timeout=300,
                   env=fault_env(log, match=CKPT.format(8) + ".tmp", fsync="dir"))
        self.assert_one_error_line(r, f"{run}/checkpoints/" + CKPT.format(8), "fsync failed: Input/output error")
        self.assertIn("EIO-fsync", {f[2] for f in faults_fired(log)})
        self.assertFalse(os.path.exists(stale))
        with open(outside) as f:
            self.assertEqual(f.read(), "keep me")
        self.assertEqual(steps_of(run), [4, 8])
        for s in (4, 8):
            self.assertEqual(load_whole_checkpoint(f"{run}/checkpoints/" + CKPT.format(s)), s)

        r = dt.run([dt.DISTTUNE, "train", cfg], timeout=300)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("resumed from " + f"{run}/checkpoints/" + CKPT.format(8), r.out)
        with open(f"{run}/metrics.jsonl") as f:
            val = [json.loads(l) for l in f if '"val"' in l]
        self.assertEqual([x["step"] for x in val], [8, 12])
        best = max(val, key=lambda x: x["cosine_ndcg@10"])["step"]
        self.assertEqual(steps_of(run), sorted({best, 12}))
        for s in steps_of(run):
            self.assertEqual(load_whole_checkpoint(f"{run}/checkpoints/" + CKPT.format(s)), s)
        self.assertEqual(leftovers(run), [])

    def test_token_store_rename_failure(self):
        """The tokenized store cannot be renamed into place: the run stops naming it, and the
        cache holds no store and no temporary."""
        cfg, run = self.config("storerename")
        log = self.log("storerename")
        r = dt.run([dt.DISTTUNE, "train", cfg], timeout=300,
                   env=fault_env(log, match=".tokens.h5", rename=1))
        self.assert_one_error_line(r, "building the token store", ".tokens.h5", "Input/output error")
        self.assertIn("EIO-rename", {f[2] for f in faults_fired(log)})
        self.assertEqual(os.listdir(f"{run}/cache"), [])

    def test_export_encode_eval_mine_keep_previous_outputs(self):
        """export, encode, eval --output and mine-negatives meet ENOSPC partway (after a short
        write): each fails naming its output and the OS error, what was at the output path
        is byte-for-byte what it was, and no temporary is left."""
        work = os.path.join(self.tmp.name, "outputs")
        os.makedirs(work)
        model = f"{self.base}/final"
        texts = os.path.join(work, "texts.jsonl")
        with open(texts, "w") as f:
            for i in range(300):
                f.write(json.dumps({"text": f"document {i} about {WORDS[i % len(WORDS)]}"}) + "\n")
        beir = os.path.join(work, "beir")
        os.makedirs(f"{beir}/qrels")
        with open(f"{beir}/corpus.jsonl", "w") as c, open(f"{beir}/queries.jsonl", "w") as q, \
                open(f"{beir}/qrels/test.tsv", "w") as r:
            r.write("query-id\tcorpus-id\tscore\n")
            for i in range(40):
                c.write(json.dumps({"_id": f"d{i}", "title": "", "text": f"{WORDS[i % 20]} report {i}"}) + "\n")
                q.write(json.dumps({"_id": f"q{i}", "text": f"{WORDS[i % 20]} {i}"}) + "\n")
                r.write(f"q{i}\td{i}\t1\n")
        ckpt = f"{self.base}/checkpoints/" + CKPT.format(12)
        cases = {
            "export": ([dt.DISTTUNE, "export", "--checkpoint", ckpt, "--output", f"{work}/model"],
                       f"{work}/model", "model.tmp", 200_000),
            "encode": ([dt.DISTTUNE, "encode", "--model", model, "--input", texts, "--output", f"{work}/emb.h5"],
                       f"{work}/emb.h5", "emb.h5.tmp", 20_000),
            "eval": ([dt.DISTTUNE, "eval", "--model", model, "--beir", beir, "--output", f"{work}/metrics.json"],
                     f"{work}/metrics.json", "metrics.json.tmp", 100),
            "mine": ([dt.DISTTUNE, "mine-negatives", "--input", self.data, "--output", f"{work}/mined.jsonl"],
                     f"{work}/mined.jsonl", "mined.jsonl.tmp", 10_000),
        }
        for name, (args, out, match, after) in cases.items():
            with self.subTest(name):
                # Something already at the output path (a model directory for export).
                if name == "export":
                    os.makedirs(out)
                    for n in ("config.json", "model.safetensors"):
                        with open(f"{out}/{n}", "w") as f:
                            f.write("previous " + n)
                else:
                    with open(out, "w") as f:
                        f.write("previous output")
                before = snapshot(out)
                log = self.log("out-" + name)
                r = dt.run(args, timeout=300, env=fault_env(log, match=match, enospc_after=after))
                self.assert_one_error_line(r, out, "No space left on device")
                self.assertIn("short-write-then-ENOSPC", {f[2] for f in faults_fired(log)})
                self.assertEqual(snapshot(out), before)
                self.assertEqual(leftovers(work), [])
                # Without the fault the same command replaces it.
                if name in ("export", "eval"):
                    r = dt.run(args, timeout=300)
                    self.assertEqual(r.rc, 0, r)
                    self.assertNotEqual(snapshot(out), before)

    def test_output_paths_are_confined(self):
        """Only a model directory (or an empty one) is ever replaced by export; a target that
        is a symlink is replaced itself, its target left alone; "." is refused."""
        ckpt = f"{self.base}/checkpoints/" + CKPT.format(4)
        work = os.path.join(self.tmp.name, "confined")
        os.makedirs(f"{work}/notes")
        with open(f"{work}/notes/keep.txt", "w") as f:
            f.write("mine")
        r = dt.run([dt.DISTTUNE, "export", "--checkpoint", ckpt, "--output", f"{work}/notes"])
        self.assert_one_error_line(r, f"{work}/notes", "is not a model directory")
        self.assertEqual(os.listdir(f"{work}/notes"), ["keep.txt"])
        r = dt.run([dt.DISTTUNE, "export", "--checkpoint", ckpt, "--output", "."], cwd=f"{work}/notes")
        self.assert_one_error_line(r, "'.'")
        self.assertEqual(os.listdir(f"{work}/notes"), ["keep.txt"])
        # A symlink to a model directory elsewhere: the link is replaced by the export.
        os.makedirs(f"{work}/elsewhere")
        for n, text in (("config.json", "{}"), ("keep.txt", "theirs")):
            with open(f"{work}/elsewhere/{n}", "w") as f:
                f.write(text)
        os.symlink(f"{work}/elsewhere", f"{work}/link")
        r = dt.run([dt.DISTTUNE, "export", "--checkpoint", ckpt, "--output", f"{work}/link/"])
        self.assertEqual(r.rc, 0, r)
        self.assertFalse(os.path.islink(f"{work}/link"))
        self.assertTrue(os.path.exists(f"{work}/link/model.safetensors"))
        self.assertEqual(sorted(os.listdir(f"{work}/elsewhere")), ["config.json", "keep.txt"])
        self.assertEqual(leftovers(work), [])
        # A run whose OUTPUT/final holds something else stops at its start, not after training.
        cfg, run = self.config("finalnotes")
        os.makedirs(f"{run}/final")
        with open(f"{run}/final/keep.txt", "w") as f:
            f.write("mine")
        r = dt.run([dt.DISTTUNE, "train", cfg], timeout=300)
        self.assert_one_error_line(r, f"{run}/final", "is not a model directory")
        self.assertNotIn("train: world size", r.out)
        self.assertEqual(os.listdir(f"{run}/final"), ["keep.txt"])


def snapshot(path):
    """{relative path: bytes} of a file or of every file under a directory."""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return {"": f.read()}
    out = {}
    for d, _, files in os.walk(path):
        for n in files:
            with open(os.path.join(d, n), "rb") as f:
                out[os.path.relpath(os.path.join(d, n), path)] = f.read()
    return out


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
