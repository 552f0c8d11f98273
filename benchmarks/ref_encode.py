#!/usr/bin/python3
"""PyTorch eager reference for the `encode` benchmark: a BertModel forward written the way
Hugging Face's eager BertModel computes it (separate Q/K/V nn.Linear, matmul attention with
an additive mask, exact GELU, post-LayerNorm), then mean pooling and L2 normalisation as
sentence-transformers does. Random weights, the same shapes as benchmarks/encoder_bench.cpp.

  /usr/bin/python3 benchmarks/ref_encode.py --batch 64 --seq 128 --threads 2
Prints one JSON line: {"sentences_per_s": ..., "seconds": ...}.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


class Layer(nn.Module):
    def __init__(self, h, heads, inter, eps):
        super().__init__()
        self.heads, self.d, self.eps = heads, h // heads, eps
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.attn_norm = nn.Linear(h, h), nn.LayerNorm(h, eps=eps)
        self.inter, self.out, self.out_norm = nn.Linear(h, inter), nn.Linear(inter, h), nn.LayerNorm(h, eps=eps)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.d).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d) + mask
        ctx = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(x.shape)
        a = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.out(F.gelu(self.inter(a))) + a)


class Bert(nn.Module):
    def __init__(self, vocab, h, layers, heads, inter, max_pos, eps=1e-12):
        super().__init__()
        self.word, self.pos, self.token_type = nn.Embedding(vocab, h), nn.Embedding(max_pos, h), nn.Embedding(2, h)
        self.norm = nn.LayerNorm(h, eps=eps)
        self.layers = nn.ModuleList([Layer(h, heads, inter, eps) for _ in range(layers)])

    def forward(self, ids, mask):
        t = ids.shape[1]
        pos = torch.arange(t).unsqueeze(0)
        x = self.norm(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids)))
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, ext)
        m = mask.unsqueeze(-1).float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)


def model_arguments(ap):
    """The flags the benchmarks pass to every reference: threads and the model shape."""
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--intermediate", type=int, default=1536)


def model_from(args):
    """Sets the thread count and the seed, and builds the random model those flags describe."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return Bert(30522, args.hidden, args.layers, args.heads, args.intermediate, 512)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    model_arguments(ap)
    args = ap.parse_args()
    model = model_from(args).eval()
    ids = torch.randint(1000, 30000, (args.batch, args.seq))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        model(ids, mask)  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            model(ids, mask)
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"sentences_per_s": args.batch / best, "seconds": best,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
