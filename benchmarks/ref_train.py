#!/usr/bin/python3
"""PyTorch eager reference for the `train` benchmark: one optimizer step of the
sentence-transformers MNRL recipe on a random BERT (the model of benchmarks/ref_encode.py;
dropout off on both sides by default, so that the step's arithmetic is what is compared;
--dropout P turns on BERT's hidden and attention dropout, as a real fine-tuning step runs): embed
anchors and positives, cos_sim x 20 cross-entropy against the in-batch positives, backward,
global-norm clipping at 1.0, torch.optim.AdamW (weight decay 0.01 as the Hugging Face
trainer applies it: not on biases and LayerNorm weights).

With --world-size N > 1 it runs the step the way sentence-transformers trains on several
processes: N processes (torch.multiprocessing, gloo), the model in DistributedDataParallel
(bucketed gradient all-reduce overlapped with backward), every rank embedding
global_batch / N pairs and scoring its anchors against all positives gathered with
torch.distributed.nn.all_gather (differentiable). --threads is per process.

With --mini-batch M > 0 the step is CachedMultipleNegativesRankingLoss (GradCache):
embed without a graph in chunks of M, loss and embedding gradients on the cached
embeddings, then re-embed each chunk with the graph and backpropagate its gradient.

--lengths FILE (written by `disttune_bench lengths`, the file the train benchmark reads):
global batch g takes the file's first g pairs, each rank its slice, every role padded to
its longest row with random ids, as sentence-transformers' tokenizer pads a batch.

--device cuda runs on the GPU (rank r on cuda:r, NCCL instead of gloo), --precision bf16
with the forward under autocast, as the train benchmark's --device and --precision.

One warm-up step at the largest batch, then --steps timed steps per batch (the best counts).
--profile FILE records one more step (benchmarks/profile_compare.py reads it).

  /usr/bin/python3 benchmarks/ref_train.py --batches 64,128 --anchor-seq 16 --seq 48 --threads 2
Prints one JSON line: {"points": [{"global_batch": ..., "pairs_per_s": ..., "seconds": ...}], ...}.
"""
import argparse
import json
import os
import resource
import tempfile
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ref_encode import autocast, model_arguments, model_from, sync


def read_lengths(path):
    """The (anchor, positive) token counts of --lengths FILE; [] for no file."""
    if not path:
        return []
    with open(path) as f:
        return [tuple(int(x) for x in line.split()) for line in f if line.strip()]


def random_batch(args, lengths, role, rows):
    """Random ids and the attention mask of one role (0 anchors, 1 positives) for `rows`:
    fixed --anchor-seq / --seq, or each row's length from `lengths`, padded to the longest."""
    if not lengths:
        ids = torch.randint(1000, 30000, (len(rows), args.seq if role else args.anchor_seq))
        return ids, torch.ones_like(ids)
    n = torch.tensor([lengths[i][role] for i in rows]).unsqueeze(1)
    mask = (torch.arange(int(n.max())).unsqueeze(0) < n).long()
    return torch.randint(1000, 30000, mask.shape) * mask, mask


def peak_rss_mib():
    """The process's resident high-water mark (VmHWM), MiB."""
    with open("/proc/self/status") as f:
        return next((int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:")), 0.0)


def run(rank, args, init_file, out_file):
    world = args.world_size
    lengths = read_lengths(args.lengths)
    if args.device == "cuda":
        torch.cuda.set_device(rank % torch.cuda.device_count())
    if world > 1:
        dist.init_process_group("nccl" if args.device == "cuda" else "gloo", init_method="file://" + init_file,
                                rank=rank, world_size=world)
    model = model_from(args)  # same seed on every rank: identical replicas
    model.train(args.dropout > 0)
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "norm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=2e-5)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model

    def gather(x):
        if world == 1:
            return x
        import torch.distributed.nn
        return torch.cat(torch.distributed.nn.all_gather(x), 0)

    def mnrl(a, p):
        # sentence-transformers' cos_sim normalises again; the model's output is already unit.
        scores = F.normalize(a, dim=1) @ F.normalize(gather(p), dim=1).T * 20.0
        labels = torch.arange(rank * a.shape[0], (rank + 1) * a.shape[0], device=a.device)
        return F.cross_entropy(scores, labels)

    def step(global_batch):
        local = global_batch // world
        torch.manual_seed(1000 + rank)
        rows = range(rank * local, (rank + 1) * local)
        ids, masks = zip(*((i.to(args.device), m.to(args.device)) for i, m in (random_batch(args, lengths, role, rows) for role in range(2))))
        opt.zero_grad(set_to_none=True)
        if args.mini_batch <= 0:
            with autocast(args):
                a, p = net(ids[0], masks[0]), net(ids[1], masks[1])
            loss = mnrl(a.float(), p.float())
            loss.backward()
        else:
            m = args.mini_batch
            chunks = [(r, b) for r in range(2) for b in range(0, local, m)]
            with torch.no_grad(), autocast(args):
                cached = [torch.cat([net(ids[r][b:b + m], masks[r][b:b + m]) for b in range(0, local, m)]).float()
                          for r in range(2)]
            cached = [c.requires_grad_() for c in cached]
            loss = mnrl(*cached)
            loss.backward()
            for i, (r, b) in enumerate(chunks):
                last = i == len(chunks) - 1
                no_sync = net.no_sync() if world > 1 and not last else _Null()
                with no_sync:
                    with autocast(args):
                        e = net(ids[r][b:b + m], masks[r][b:b + m]).float()
                    e.backward(cached[r].grad[b:b + m])
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss = loss.detach()
        if world > 1:  # the global mean, as the C++ side reports it
            dist.all_reduce(loss)
            loss /= world
        return loss.item()

    def barrier():
        if world > 1:
            dist.barrier()

    for _ in range(args.warmup):
        step(max(args.batches))
    barrier()
    points = []
    for b in args.batches:
        best = float("inf")
        u0 = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(args.steps):
            sync(args)
            t0 = time.perf_counter()
            loss = step(b)  # ends with loss.item(): the device's work is done
            barrier()
            best = min(best, time.perf_counter() - t0)
        u1 = resource.getrusage(resource.RUSAGE_SELF)
        points.append({"global_batch": b, "pairs_per_s": b / best, "seconds": best, "loss": loss,
                       "page_faults_per_step": (u1.ru_minflt - u0.ru_minflt) / args.steps,
                       "cpu_seconds_per_step": (u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime) / args.steps})
    # As the C++ benchmark reports it: the largest rank's peak, that of the largest batch
    # (smaller batches reuse the warm-up's heap); read before the profiled step.
    # On a GPU also the caching allocator's peak (the C++ side reads the same counter).
    gpu = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else -1.0
    peak = torch.tensor([peak_rss_mib(), gpu], dtype=torch.float64, device=args.device)
    if world > 1:
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    peak = peak.tolist()
    if args.profile:
        with torch.autograd.profiler.profile() as prof:
            step(max(args.batches))
        if rank == 0:
            prof.export_chrome_trace(args.profile)
    if rank == 0:
        out = {"points": points, "peak_rss_mib": peak[0], "world_size": world, "threads": torch.get_num_threads(),
               "mini_batch": args.mini_batch, "device": args.device, "precision": args.precision,
               "torch": torch.__version__}
        if peak[1] >= 0:
            out["peak_gpu_allocated_mib"] = peak[1]
        with open(out_file, "w") as f:
            json.dump(out, f)
    if world > 1:
        dist.destroy_process_group()


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")], default=[64],
                    help="global batch sizes, comma-separated")
    ap.add_argument("--anchor-seq", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--mini-batch", type=int, default=0)
    ap.add_argument("--lengths", default="", help="token counts per pair (disttune_bench lengths)")
    ap.add_argument("--world-size", type=int, default=1)
    ap.add_argument("--profile", default="", help="chrome trace of one more step at the largest batch")
    model_arguments(ap)
    args = ap.parse_args()
    for b in args.batches:
        if b % args.world_size:
            ap.error(f"--batches: {b} does not divide by --world-size {args.world_size}")
    with tempfile.TemporaryDirectory() as tmp:
        init_file, out_file = os.path.join(tmp, "init"), os.path.join(tmp, "out.json")
        if args.world_size == 1:
            run(0, args, init_file, out_file)
        else:
            torch.multiprocessing.spawn(run, args=(args, init_file, out_file), nprocs=args.world_size)
        with open(out_file) as f:
            print(f.read())


if __name__ == "__main__":
    main()
