#!/usr/bin/python3
"""PyTorch eager reference for the `train` benchmark: one optimizer step of the
sentence-transformers MNRL recipe on a random BERT (the model of benchmarks/ref_encode.py;
dropout off on both sides, so that the step's arithmetic is what is compared): embed
anchors and positives, cosine x 20 cross-entropy against the in-batch positives, backward,
global-norm clipping at 1.0, torch.optim.AdamW (weight decay 0.01 as the
Hugging Face trainer applies it: not on biases and LayerNorm weights).

  /usr/bin/python3 benchmarks/ref_train.py --batch 64 --anchor-seq 32 --seq 128 --threads 2
Prints one JSON line: {"pairs_per_s": ..., "seconds": ...}.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

from ref_encode import model_arguments, model_from


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--anchor-seq", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    model_arguments(ap)
    args = ap.parse_args()
    model = model_from(args)
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "norm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=2e-5)
    a_ids = torch.randint(1000, 30000, (args.batch, args.anchor_seq))
    p_ids = torch.randint(1000, 30000, (args.batch, args.seq))
    a_mask, p_mask = torch.ones_like(a_ids), torch.ones_like(p_ids)
    labels = torch.arange(args.batch)

    def step():
        opt.zero_grad(set_to_none=True)
        a, p = model(a_ids, a_mask), model(p_ids, p_mask)
        loss = F.cross_entropy(a @ p.T * 20.0, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    step()  # warm-up
    best = float("inf")
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"pairs_per_s": args.batch / best, "seconds": best,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
