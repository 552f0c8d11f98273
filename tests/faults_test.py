"""Rank failures and numerics during real training under mpirun -np 4 (issue: reliability).

A rank is killed (SIGKILL) at a seeded-random moment during the forward pass, inside a
collective, half-way through a checkpoint write and during evaluation, using the
failpoints of src/common/failpoint.h. Each time: the job ends within 10 s of the kill
with a message naming the dead rank, every checkpoint left behind is complete, and
`resume: auto` finishes the run with exactly the parameters of an uninterrupted run. A
stalled rank (SIGSTOP) is ended by the collective timeout. NaN in the loss or in the
gradients is reported at the step it appears with the batch's data lines, and handled by
training.on_nan: stop | skip.

DISTTUNE_FAULT_SEED picks other random points (the seed in use is printed); the soak run
(tests/soak.py) repeats this for as long as it is given.
"""
import glob
import json
import os
import random
import re
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

import dt

VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")
WORDS = ("revenue growth cash margin segment debt equity income quarter dividend capital "
         "expenses tax assets risk lease goodwill inventory pension bond credit loan audit "
         "merger royalty subsidiary warrant hedge swap option").split()
NP = 4
STEPS = 24          # 2 epochs of 12 steps of 16 pairs
SAVE_EVERY = 2
EVAL_EVERY = 8      # a multiple of SAVE_EVERY: the best step always has a checkpoint
SEED = int(os.environ.get("DISTTUNE_FAULT_SEED", str(int(time.time()) % 100000)))


def write_pairs(path, n=240):
    rng = random.Random(5)
    with open(path, "w") as f:
        for i in range(n):
            key = " ".join(rng.choice(WORDS) for _ in range(3))
            ctx = " ".join(rng.choice(WORDS) for _ in range(12))
            f.write(json.dumps({"anchor": f"what about {key} {i % 97}?",
                                "positive": f"{ctx} {key} {i % 97}."}) + "\n")


def write_config(path, data, run_dir, extra="", epochs=2, keep_last=3, save_every=SAVE_EVERY,
                 eval_every=EVAL_EVERY):
    with open(path, "w") as f:
        f.write(
            f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, num_heads: 2,\n"
            f"         intermediate_size: 64, max_position: 64, seed: 0}}\n"
            f"  max_seq_length: 48\n  dropout: 0.1\n"
            f"data:\n  train: {data}\n  split: {{train: 0.8, val: 0.1, test: 0.1, seed: 42}}\n"
            f"training:\n  epochs: {epochs}\n  global_batch_size: 16\n  learning_rate: 1.0e-3\n"
            "  scheduler: linear\n  warmup_ratio: 0.1\n  seed: 42\n  logging_steps: 1\n"
            f"eval:\n  strategy: steps\n  steps: {eval_every}\n  batch_size: 4\n  test: false\n"
            f"checkpoint:\n  save_strategy: steps\n  save_steps: {save_every}\n  keep_last: {keep_last}\n"
            f"output:\n  dir: {run_dir}\n" + extra)


def checkpoints(run_dir):
    return sorted(glob.glob(f"{run_dir}/checkpoints/step-*.h5"))


def model_of(path):
    with h5py.File(path, "r") as f:
        return {n: f["model"][n][()] for n in f["model"]}


def run_with(cfg, failpoints, stamp, np_=NP, sets=()):
    env = dt.mpi_env()
    env["DISTTUNE_FAILPOINTS"] = failpoints
    env["DISTTUNE_FAILPOINT_STAMP"] = stamp
    args = [dt.DISTTUNE, "train", cfg]
    for s in sets:
        args += ["--set", s]
    r = dt.run(args, np=np_, timeout=300, env=env)
    ended = time.time()
    if not os.path.exists(stamp):
        return r, False, None
    with open(stamp) as f:
        return r, True, ended - float(f.read())


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print(f"faults_test: DISTTUNE_FAULT_SEED={SEED}", file=sys.stderr)
        cls.rng = random.Random(SEED)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "pairs.jsonl")
        write_pairs(cls.data)
        # The uninterrupted run every recovered run must reproduce exactly.
        cfg, cls.ref_dir = cls.make_config("reference")
        r = dt.run([dt.DISTTUNE, "train", cfg], np=NP, timeout=300)
        assert r.rc == 0, r
        cls.ref_last = model_of(checkpoints(cls.ref_dir)[-1])
        cls.ref_final = dt.read_safetensors(f"{cls.ref_dir}/final/model.safetensors")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def make_config(cls, name, extra=""):
        cfg = os.path.join(cls.tmp.name, name + ".yaml")
        run_dir = os.path.join(cls.tmp.name, name)
        write_config(cfg, cls.data, run_dir, extra)
        return cfg, run_dir

    def kill_and_recover(self, name, point, rank, hit):
        cfg, run_dir = self.make_config(name)
        stamp = os.path.join(self.tmp.name, name + ".stamp")
        spec = f"{point}@{rank}#{hit}=kill"
        r, fired, after = run_with(cfg, spec, stamp)
        self.assertTrue(fired, f"{spec} never fired\n{r}")
        self.assertNotEqual(r.rc, 0, r)
        self.assertLess(after, 10, f"{spec}: the job took {after:.1f} s to end\n{r}")
        # Open MPI's launcher names the rank that died (version 5's prterun breaks the line
        # before "signal 9").
        self.assertRegex(r.out + r.err, rf"rank {rank}\b[^\n]*\n?[^\n]*(signal 9|Killed)", r)
        left = checkpoints(run_dir)
        for p in left:  # every file that looks complete is complete
            with h5py.File(p, "r") as f:
                self.assertIn("optimizer", f, p)
                self.assertEqual(f.attrs["step"], int(os.path.basename(p)[5:13]), p)
        # `resume: auto` finishes the run with the uninterrupted run's parameters.
        r2 = dt.run([dt.DISTTUNE, "train", cfg], np=NP, timeout=300)
        self.assertEqual(r2.rc, 0, r2)
        if left:
            self.assertIn(f"resumed from {left[-1]}", r2.out)
        self.assertEqual(glob.glob(f"{run_dir}/checkpoints/*.tmp.*"), [],
                         "a temporary file of the killed writer was left behind")
        last = model_of(checkpoints(run_dir)[-1])
        for n, v in self.ref_last.items():
            np.testing.assert_array_equal(last[n], v, err_msg=f"{spec}: {n}")
        final = dt.read_safetensors(f"{run_dir}/final/model.safetensors")
        for n, v in self.ref_final.items():
            np.testing.assert_array_equal(final[n], v, err_msg=f"{spec}: final {n}")
        print(f"  {spec}: ended {after:.1f} s after the kill, {len(left)} checkpoints left, "
              f"resumed from {os.path.basename(left[-1]) if left else 'scratch'}", file=sys.stderr)

    # The forward pass runs once per rank per step (no accumulation): hit = step + 1.
    def test_kill_during_forward(self):
        self.kill_and_recover("forward", "train.forward", self.rng.randrange(NP),
                              self.rng.randrange(2, STEPS - 2))

    # Every blocking collective: the loss's all-gathers, the loss all-reduce, the gradient
    # buckets, the barriers after checkpoints and the evaluation's gathers.
    def test_kill_during_collective(self):
        self.kill_and_recover("collective", "dist.collective", self.rng.randrange(NP),
                              self.rng.randrange(10, 8 * STEPS))

    # Rank 0 writes checkpoints; the failpoint sits between the model and optimizer groups.
    def test_kill_during_checkpoint_write(self):
        self.kill_and_recover("checkpoint", "checkpoint.write", 0,
                              self.rng.randrange(1, STEPS // SAVE_EVERY))

    # Each rank encodes its share of the validation queries and corpus in batches of 4.
    def test_kill_during_evaluation(self):
        self.kill_and_recover("evaluation", "embed.batch", self.rng.randrange(NP),
                              self.rng.randrange(1, 6))

    def test_stalled_rank_is_ended_by_the_collective_timeout(self):
        cfg, _ = self.make_config("stalled", "distributed:\n  timeout_s: 3\n")
        stamp = os.path.join(self.tmp.name, "stalled.stamp")
        rank = self.rng.randrange(NP)
        r, fired, after = run_with(cfg, f"train.forward@{rank}#{self.rng.randrange(2, 10)}=stop", stamp)
        self.assertTrue(fired, r)
        self.assertNotEqual(r.rc, 0, r)
        # The others wait timeout_s in a collective, then end the job.
        self.assertLess(after, 3 + 10, r)
        self.assertRegex(r.err, r"did not complete within 3 s \(distributed.timeout_s\)", r)

    def nan_run(self, name, point, on_nan):
        cfg, run_dir = self.make_config(name)
        stamp = os.path.join(self.tmp.name, name + ".stamp")
        step = self.rng.randrange(3, 12)
        rank = self.rng.randrange(2)
        r, _, _ = run_with(cfg, f"{point}@{rank}#{step + 1}=nan", stamp, np_=2,
                           sets=[f"training.on_nan={on_nan}"])
        return r, run_dir, step

    def test_nan_loss_stops_at_its_step_naming_the_rows(self):
        r, _, step = self.nan_run("nan_stop", "train.loss", "stop")
        self.assertNotEqual(r.rc, 0, r)
        m = re.search(rf"step {step}: loss is -?nan \(batch of 16 rows; \S+ lines ([\d, .]+)\); "
                      r"stopping \(training.on_nan: stop\)", r.err)
        self.assertIsNotNone(m, r)
        self.assertGreaterEqual(len(m.group(1).split(",")), 16)

    def test_nan_gradient_is_skipped(self):
        r, run_dir, step = self.nan_run("nan_skip", "train.grad", "skip")
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out + r.err, rf"step {step}: gradient norm is -?nan")
        self.assertIn("step skipped (training.on_nan: skip)", r.out + r.err)
        with h5py.File(checkpoints(run_dir)[-1], "r") as f:
            self.assertEqual(f["state"].attrs["skipped_steps"], 1)
            for n in f["model"]:
                self.assertTrue(np.isfinite(f["model"][n][()]).all(), n)
        with open(f"{run_dir}/metrics.jsonl") as f:
            rows = [json.loads(l) for l in f]
        self.assertTrue(all(np.isfinite(r["loss"]) for r in rows if r["split"] == "train"))


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
