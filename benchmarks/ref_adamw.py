#!/usr/bin/python3
"""torch.optim.AdamW step time on the parameter shapes of benchmarks/bert_shapes.h.

  /usr/bin/python3 benchmarks/ref_adamw.py [--threads N] [--repeats R] [--sizes small,base]

Two parameter groups as the Hugging Face trainer builds them (no decay for bias and
LayerNorm). Times the default CPU path (foreach=False, one set of ops per tensor) and
foreach=True. Prints one line per case and the JSON on the last line.
"""
import argparse
import json
import time

import torch


def bert_shapes(hidden, layers):
    vocab, positions, inter = 30522, 512, 4 * hidden
    s = [("embeddings.word_embeddings.weight", (vocab, hidden)),
         ("embeddings.position_embeddings.weight", (positions, hidden)),
         ("embeddings.token_type_embeddings.weight", (2, hidden)),
         ("embeddings.LayerNorm.weight", (hidden,)), ("embeddings.LayerNorm.bias", (hidden,))]
    for l in range(layers):
        p = f"encoder.layer.{l}."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            s += [(p + m + ".weight", (hidden, hidden)), (p + m + ".bias", (hidden,))]
        s += [(p + "attention.output.LayerNorm.weight", (hidden,)),
              (p + "attention.output.LayerNorm.bias", (hidden,)),
              (p + "intermediate.dense.weight", (inter, hidden)), (p + "intermediate.dense.bias", (inter,)),
              (p + "output.dense.weight", (hidden, inter)), (p + "output.dense.bias", (hidden,)),
              (p + "output.LayerNorm.weight", (hidden,)), (p + "output.LayerNorm.bias", (hidden,))]
    s += [("pooler.dense.weight", (hidden, hidden)), ("pooler.dense.bias", (hidden,))]
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="small,base")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    results = []
    for label, hidden, layers in (("small", 384, 6), ("base", 768, 12)):
        if label not in a.sizes:
            continue
        named = []
        for name, shape in bert_shapes(hidden, layers):
            p = torch.nn.Parameter(torch.randn(shape))
            p.grad = torch.randn(shape) * 1e-3
            named.append((name, p))
        n = sum(p.numel() for _, p in named)
        no_decay = lambda name: "bias" in name or "LayerNorm" in name
        for foreach in (False, True):
            groups = [{"params": [p for k, p in named if not no_decay(k)], "weight_decay": 0.01},
                      {"params": [p for k, p in named if no_decay(k)], "weight_decay": 0.0}]
            opt = torch.optim.AdamW(groups, lr=2e-5, foreach=foreach)
            opt.step()  # warm-up: creates the state
            best = float("inf")
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                opt.step()
                best = min(best, time.perf_counter() - t0)
            impl = "torch_foreach" if foreach else "torch_default"
            print(f"torch adamw  {label} {n / 1e6:.1f}M params ({len(named)} tensors)  {impl}: "
                  f"{best * 1e3:.1f} ms/step")
            results.append({"size": label, "params": n, "tensors": len(named), "impl": impl,
                            "step_s": best})
    print(json.dumps({"benchmark": "adamw_torch", "threads": a.threads, "results": results}))


if __name__ == "__main__":
    main()
