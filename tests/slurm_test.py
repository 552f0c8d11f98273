"""A real SLURM job: cluster/local-slurm.sh starts slurmctld + slurmd on this machine
(loopback), cluster/single-node.sbatch is submitted with sbatch at 2 ranks (srun --mpi=pmix)
for a tiny training run, and the job must complete with a checkpoint, metrics from both
ranks' run, and the final model. Skipped, saying why, where slurm-wlm or munge is missing
or the test does not run as root (slurmd runs the job as its user)."""
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

import dt

VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")
LOCAL_SLURM = os.path.join(dt.SOURCE, "cluster", "local-slurm.sh")


def missing():
    for exe in ("slurmctld", "slurmd", "sbatch", "munged"):
        if not shutil.which(exe) and not os.path.exists(f"/usr/sbin/{exe}"):
            return f"{exe} not installed (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "needs root to run slurmd"
    return None


@unittest.skipIf(missing(), missing())
class Slurm(unittest.TestCase):
    def setUp(self):
        # Under /tmp rather than the temp dir of the test: slurmd's job must reach it.
        self.tmp = tempfile.mkdtemp(prefix="disttune-slurm-")
        self.cluster = os.path.join(self.tmp, "cluster")
        self.env = dict(os.environ, SLURM_TEST_PORT=str(17000 + os.getpid() % 1000 * 2))
        r = subprocess.run([LOCAL_SLURM, "start", self.cluster], capture_output=True, text=True,
                           env=self.env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.env["SLURM_CONF"] = os.path.join(self.cluster, "slurm.conf")

    def tearDown(self):
        subprocess.run([LOCAL_SLURM, "stop", self.cluster], capture_output=True, env=self.env)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sbatch_training_job_completes(self):
        data = os.path.join(self.tmp, "pairs.jsonl")
        rng = random.Random(1)
        words = "cash debt equity margin revenue tax lease bond loan risk asset audit".split()
        with open(data, "w") as f:
            for i in range(160):
                key = " ".join(rng.choice(words) for _ in range(3))
                f.write(json.dumps({"anchor": f"{key} {i}?", "positive": f"about {key} {i}."}) + "\n")
        run = os.path.join(self.tmp, "run")
        cfg = os.path.join(self.tmp, "tiny.yaml")
        with open(cfg, "w") as f:
            f.write(f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, num_heads: 2,\n"
                    "         intermediate_size: 64, max_position: 64, seed: 0}\n"
                    f"data:\n  train: {data}\n  split: {{train: 0.8, val: 0.1, test: 0.1, seed: 42}}\n"
                    "training: {epochs: 1, global_batch_size: 16, learning_rate: 1.0e-3}\n"
                    f"output: {{dir: {run}}}\n")
        out = os.path.join(self.tmp, "job-%j.out")
        env = dict(self.env, DISTTUNE=os.path.abspath(dt.DISTTUNE))
        r = subprocess.run(["sbatch", "--parsable", f"--chdir={dt.SOURCE}", "--ntasks-per-node=2",
                            "--cpus-per-task=1", "--gpus-per-node=0", "--time=10",
                            f"--output={out}", os.path.join(dt.SOURCE, "cluster", "single-node.sbatch"), cfg],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        job = r.stdout.strip().split(";")[0]
        deadline = time.time() + 300
        state = ""
        while time.time() < deadline:
            q = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, env=env)
            state = next((w.split("=", 1)[1] for w in q.stdout.split() if w.startswith("JobState=")), "")
            if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
                break
            time.sleep(1)
        log = ""
        if os.path.exists(out.replace("%j", job)):
            with open(out.replace("%j", job)) as f:
                log = f.read()
        self.assertEqual(state, "COMPLETED", log)
        self.assertIn("world size 2", log)
        self.assertTrue(os.listdir(os.path.join(run, "checkpoints")), log)
        self.assertTrue(os.path.exists(os.path.join(run, "final", "model.safetensors")))
        with open(os.path.join(run, "metrics.jsonl")) as f:
            splits = {json.loads(l)["split"] for l in f}
        self.assertEqual(splits, {"train", "val", "test"})
        logs = os.listdir(os.path.join(run, "logs"))
        self.assertTrue(any(".rank-1." in n for n in logs), logs)  # both ranks ran and logged


if __name__ == "__main__":
    unittest.main()
