#!/usr/bin/python3
"""Soak run (extended suite, not part of CI): training + evaluation under mpirun -np 4 with
checkpoints every few steps, killed and resumed over and over.

  tests/soak.py --minutes 30 --epochs 24 --save-every 8   # the run in docs/reliability.md
  tests/soak.py --minutes 3 --out x.json

1. A reference run trains without interruption while every rank's resident memory and
   open file descriptors are sampled from /proc once a second: memory must not grow after
   the first evaluation (beyond --rss-slack-mb) and the descriptor count must not grow.
   Every checkpoint it writes is kept and fingerprinted (model, optimizer and state).
2. Then, until the time is up, recovery cycles: each starts a fresh run directory and runs
   the same config with a seeded-random failpoint (SIGKILL during the forward pass, a
   collective, a checkpoint write or evaluation, on a random rank; or SIGSTOP ended by the
   collective timeout), then `resume: auto` with another random fault, and so on until a
   run completes. After every attempt each checkpoint on disk must equal the reference's
   checkpoint of the same step bit for bit, and the finished run's final model must equal
   the reference's.
Prints a summary and writes it as JSON (--out).
"""
import argparse
import glob
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dt  # noqa: E402
from faults_test import write_config, write_pairs  # noqa: E402

NP = 4
TIMEOUT_S = 4


def digest(path):
    """Fingerprint of a checkpoint's contents (every dataset and the training state)."""
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in sorted(names):
            h.update(n.encode())
            h.update(f[n][()].tobytes())
        for k in sorted(f["state"].attrs):
            h.update(f"{k}={f['state'].attrs[k]}".encode())
    return h.hexdigest()


def step_of(path):
    return int(os.path.basename(path)[5:13])


def rank_pids(cfg):
    out = subprocess.run(["pgrep", "-f", f"^{dt.DISTTUNE} train {cfg}"], capture_output=True,
                         text=True).stdout.split()
    return [int(p) for p in out]


def sample(pid):
    """(resident MiB, open descriptors) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


def launch(cfg, env=None, sets=()):
    args = [dt.MPIEXEC, "-np", str(NP), "--oversubscribe", dt.DISTTUNE, "train", cfg]
    for s in sets:
        args += ["--set", s]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env or dt.mpi_env(), cwd=dt.SOURCE, start_new_session=True)


def reference_run(cfg, run_dir, log):
    """Runs cfg to the end sampling every rank; returns (samples {pid: [(t, rss, fds)]},
    output, seconds)."""
    t0 = time.time()
    p = launch(cfg)
    samples = {}
    out = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()))
    reader.start()
    while p.poll() is None:
        for pid in rank_pids(cfg):
            s = sample(pid)
            if s:
                samples.setdefault(pid, []).append((time.time() - t0, *s))
        time.sleep(1)
    reader.join()
    if p.returncode != 0:
        sys.exit(f"soak: the reference run failed:\n{out[0]}")
    log(f"reference run: {time.time() - t0:.0f} s, {len(glob.glob(run_dir + '/checkpoints/step-*.h5'))} checkpoints")
    return samples, out[0], time.time() - t0


def random_fault(rng, steps, saves):
    kind = rng.choice(["train.forward", "dist.collective", "checkpoint.write", "embed.batch", "stop"])
    rank = 0 if kind == "checkpoint.write" else rng.randrange(NP)
    hit = {"train.forward": lambda: rng.randrange(1, steps),
           "dist.collective": lambda: rng.randrange(1, 8 * steps),
           "checkpoint.write": lambda: rng.randrange(1, saves),
           "embed.batch": lambda: rng.randrange(1, 12),
           "stop": lambda: rng.randrange(1, steps)}[kind]()
    if kind == "stop":
        return kind, f"train.forward@{rank}#{hit}=stop"
    return kind, f"{kind}@{rank}#{hit}=kill"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--pairs", type=int, default=1600, help="dataset rows (16 per step)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--save-every", type=int, default=4)
    ap.add_argument("--eval-every", type=int, default=16)
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--rss-slack-mb", type=float, default=16)
    ap.add_argument("--out", default=os.path.join(dt.BUILD, "soak.json"))
    args = ap.parse_args()
    t_start = time.time()
    deadline = t_start + args.minutes * 60
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="disttune-soak-")

    def log(msg):
        print(f"[soak {time.time() - t_start:6.0f} s] {msg}", flush=True)

    log(f"seed {args.seed}, {args.minutes} minutes, working in {tmp}")
    data = os.path.join(tmp, "pairs.jsonl")
    write_pairs(data, args.pairs)
    extra = f"distributed:\n  timeout_s: {TIMEOUT_S}\n"
    ref_cfg, ref_dir = os.path.join(tmp, "reference.yaml"), os.path.join(tmp, "reference")
    # The reference keeps every checkpoint: recovered runs are compared step by step.
    write_config(ref_cfg, data, ref_dir, extra, args.epochs, 1000000, args.save_every, args.eval_every)
    samples, _, ref_seconds = reference_run(ref_cfg, ref_dir, log)
    ref = {step_of(p): digest(p) for p in glob.glob(ref_dir + "/checkpoints/step-*.h5")}
    with open(ref_dir + "/final/model.safetensors", "rb") as f:
        ref_final = f.read()
    steps = max(ref)
    saves = len(ref)

    # Memory and descriptors of the long uninterrupted run.
    growth = []
    for pid, s in samples.items():
        if len(s) < 4:
            continue
        warm = [x for x in s if x[0] >= s[-1][0] * 0.3]  # after start-up and the first evals
        rss0, rss_max = warm[0][1], max(x[1] for x in warm)
        # Descriptors come and go (a checkpoint being written, a log line): a leak shows as
        # a rising floor, so compare the least seen in the first and the last third.
        third = max(1, len(warm) // 3)
        growth.append({"pid": pid, "rss_mib_after_warmup": round(rss0, 1),
                       "rss_mib_max": round(rss_max, 1), "rss_growth_mib": round(rss_max - rss0, 1),
                       "fds_floor_first_third": min(x[2] for x in warm[:third]),
                       "fds_floor_last_third": min(x[2] for x in warm[-third:]),
                       "fds_max": max(x[2] for x in warm), "samples": len(s)})
    shutil.rmtree(ref_dir + "/checkpoints")  # digests kept; frees the disk

    cycles = []
    failures = []
    kinds = {}
    while time.time() < deadline:
        n = len(cycles)
        cfg, run_dir = os.path.join(tmp, f"cycle{n}.yaml"), os.path.join(tmp, f"cycle{n}")
        write_config(cfg, data, run_dir, extra, args.epochs, 3, args.save_every, args.eval_every)
        attempts = []
        while True:
            if len(attempts) >= 30:
                failures.append(f"cycle {n}: did not finish in 30 attempts")
                break
            kind, spec = random_fault(rng, steps, saves)
            env = dt.mpi_env()
            env["DISTTUNE_FAILPOINTS"] = spec
            stamp = os.path.join(tmp, "stamp")
            if os.path.exists(stamp):
                os.remove(stamp)
            env["DISTTUNE_FAILPOINT_STAMP"] = stamp
            p = launch(cfg, env)
            try:
                out, _ = p.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, _ = p.communicate()
                failures.append(f"cycle {n}: {spec} hung for 600 s")
                break
            ended = time.time()
            fired = os.path.exists(stamp)
            took = None
            if fired:
                with open(stamp) as f:
                    took = ended - float(f.read())
            limit = 10 + (TIMEOUT_S if kind == "stop" else 0)
            if fired:
                kinds[kind] = kinds.get(kind, 0) + 1
                if p.returncode == 0:
                    failures.append(f"cycle {n}: {spec} fired but the job succeeded")
                if took > limit:
                    failures.append(f"cycle {n}: {spec}: the job took {took:.1f} s to end")
            elif p.returncode != 0:
                failures.append(f"cycle {n}: {spec} did not fire but the run failed:\n{out[-3000:]}")
                break
            for c in glob.glob(run_dir + "/checkpoints/step-*.h5"):
                s = step_of(c)
                if ref.get(s) != digest(c):
                    failures.append(f"cycle {n}: after {spec}: {os.path.basename(c)} differs from the reference")
            leftovers = glob.glob(run_dir + "/checkpoints/*.tmp.*")
            attempts.append({"fault": spec, "fired": fired, "seconds_to_end": took,
                             "rc": p.returncode, "leftover_temporaries": len(leftovers)})
            if not fired:
                with open(run_dir + "/final/model.safetensors", "rb") as f:
                    same = f.read() == ref_final
                if not same:
                    failures.append(f"cycle {n}: the final model differs from the reference")
                break
        cycles.append({"attempts": attempts})
        resumes = sum(1 for a in attempts if a["fired"])
        log(f"cycle {n}: {resumes} faults, {'; '.join(a['fault'] for a in attempts if a['fired'])}; "
            f"{len(failures)} failures so far")
        shutil.rmtree(run_dir, ignore_errors=True)
        if failures:
            break

    summary = {
        "seed": args.seed, "minutes": round((time.time() - t_start) / 60, 1), "ranks": NP,
        "reference": {"seconds": round(ref_seconds), "steps": steps, "checkpoints": saves,
                      "ranks": growth},
        "cycles": len(cycles), "faults_by_kind": kinds,
        "faults": sum(kinds.values()),
        "max_seconds_to_end": max((a["seconds_to_end"] or 0 for c in cycles for a in c["attempts"]), default=0),
        "failures": failures,
    }
    mem_ok = bool(growth) and all(g["rss_growth_mib"] <= args.rss_slack_mb and
                                  g["fds_floor_last_third"] <= g["fds_floor_first_third"] for g in growth)
    summary["memory_and_descriptors_flat"] = mem_ok
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    ok = not failures and mem_ok
    log("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
