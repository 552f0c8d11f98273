#!/usr/bin/python3
"""PyTorch eager reference for the `encode` benchmark: a BertModel forward written the way
Hugging Face's eager BertModel computes it (separate Q/K/V nn.Linear, matmul attention with
an additive mask, exact GELU, post-LayerNorm; every layer for every token), then mean
pooling (or, with --pooling cls, the first token's state, as bge models pool) and L2
normalisation as sentence-transformers does. Random weights, the same shapes as
benchmarks/encoder_bench.cpp.

  /usr/bin/python3 benchmarks/ref_encode.py --batch 64 --seq 128 --threads 2

--lengths FILE (written by the `encode_corpus` benchmark: "sort-key tokens" per text, in
input order) encodes a corpus as sentence-transformers' encode() does: texts sorted by
descending key (ties in input order, as disttune sorts), batches of --batch, each padded to
its longest text, embeddings put back in input order; random ids of each text's length
stand in for its tokens (the ids do not change the cost).
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
    def __init__(self, h, heads, inter, eps, dropout=0.0):
        super().__init__()
        self.heads, self.d, self.eps, self.p = heads, h // heads, eps, dropout
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.attn_norm = nn.Linear(h, h), nn.LayerNorm(h, eps=eps)
        self.inter, self.out, self.out_norm = nn.Linear(h, inter), nn.Linear(inter, h), nn.LayerNorm(h, eps=eps)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.d).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d) + mask
        probs = F.dropout(F.softmax(scores, dim=-1), self.p, self.training)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        ctx = ctx.view(x.shape)
        a = self.attn_norm(F.dropout(self.attn_out(ctx), self.p, self.training) + x)
        return self.out_norm(F.dropout(self.out(F.gelu(self.inter(a))), self.p, self.training) + a)


class Bert(nn.Module):
    def __init__(self, vocab, h, layers, heads, inter, max_pos, eps=1e-12, dropout=0.0, pooling="mean"):
        super().__init__()
        self.p, self.pooling = dropout, pooling
        self.word, self.pos, self.token_type = nn.Embedding(vocab, h), nn.Embedding(max_pos, h), nn.Embedding(2, h)
        self.norm = nn.LayerNorm(h, eps=eps)
        self.layers = nn.ModuleList([Layer(h, heads, inter, eps, dropout) for _ in range(layers)])

    def forward(self, ids, mask):
        t = ids.shape[1]
        pos = torch.arange(t, device=ids.device).unsqueeze(0)
        x = self.norm(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids)))
        x = F.dropout(x, self.p, self.training)
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, ext)
        if self.pooling == "cls":
            pooled = x[:, 0]
        else:
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
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                    help="bf16: the forward under autocast, as disttune's training.precision: bf16")
    ap.add_argument("--dropout", type=float, default=0.0,
                    help="hidden and attention dropout where the model is in training mode (BERT's places)")
    ap.add_argument("--pooling", default="mean", choices=["mean", "cls"])


def autocast(args):
    """The forward's precision context (a no-op for fp32)."""
    return torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.precision == "bf16")


def sync(args):
    """Waits for the device's queued work, so that a timing covers it."""
    if args.device == "cuda":
        torch.cuda.synchronize()


def model_from(args):
    """Sets the thread count and the seed, and builds the random model those flags describe."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return Bert(30522, args.hidden, args.layers, args.heads, args.intermediate, 512,
                dropout=args.dropout, pooling=args.pooling).to(args.device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lengths", default="", help="'sort-key tokens' per text: a length-sorted corpus pass")
    model_arguments(ap)
    args = ap.parse_args()
    model = model_from(args).eval()
    if args.lengths:
        encode = corpus_encoder(model, args.lengths, args.batch, args.device)
        n = encode.texts
    else:
        ids = torch.randint(1000, 30000, (args.batch, args.seq), device=args.device)
        mask = torch.ones_like(ids)
        encode, n = (lambda: model(ids, mask)), args.batch
    with torch.inference_mode(), autocast(args):
        encode(warmup=True) if args.lengths else encode()
        best = float("inf")
        for _ in range(args.repeats):
            sync(args)
            t0 = time.perf_counter()
            encode()
            sync(args)
            best = min(best, time.perf_counter() - t0)
    print(json.dumps({"sentences_per_s": n / best, "seconds": best, "texts": n,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


def corpus_encoder(model, path, batch, device):
    """A callable that embeds the corpus `path` describes in length-sorted batches; the
    embeddings come back to the CPU, as sentence-transformers' encode() returns them."""
    with open(path) as f:
        rows = [tuple(int(x) for x in line.split()) for line in f if line.strip()]
    order = sorted(range(len(rows)), key=lambda i: -rows[i][0])  # stable: ties in input order
    # Random ids drawn once (the tokenizer's work is not measured on either side).
    ids = [torch.randint(1000, 30000, (rows[i][1],)) for i in range(len(rows))]

    def encode(warmup=False):
        out = None
        for b in range(0, len(order), batch):
            rows_b = order[b:b + batch]
            longest = max(rows[i][1] for i in rows_b)
            x = torch.zeros(len(rows_b), longest, dtype=torch.long)
            mask = torch.zeros_like(x)
            for r, i in enumerate(rows_b):
                x[r, :rows[i][1]] = ids[i]
                mask[r, :rows[i][1]] = 1
            e = model(x.to(device), mask.to(device)).float().cpu()
            if out is None:
                out = e.new_empty(len(rows), e.shape[1])
            out[torch.tensor(rows_b)] = e
            if warmup:
                break
        return out

    encode.texts = len(rows)
    return encode


if __name__ == "__main__":
    main()
