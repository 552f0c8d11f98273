#!/usr/bin/python3
"""Writes tests/golden/eval/similarity.json: sentence-transformers' EmbeddingSimilarityEvaluator
(cosine) as computed by references the C++ code is checked against
(src/eval/similarity_evaluator_test.cpp).

1. `correlations`: scipy.stats.pearsonr and scipy.stats.spearmanr (average ranks for ties)
   on score lists with ties, negative correlation, and a constant side (NaN, written null).
2. `embedding_case`: end to end on embeddings with python3-torch as the evaluator does it:
   Matryoshka truncation, torch.nn.functional.normalize, the row-wise dot product in float32
   (sentence_transformers.util.pairwise_cos_sim), then pearsonr / spearmanr of the gold
   scores against those float32 similarities. Names as the evaluator reports them:
   pearson_cosine, spearman_cosine, and dim_<d>_... for the truncated dimensions. A zero
   embedding is included (normalize leaves it zero: similarity 0).

Run: /usr/bin/python3 tests/ref/gen_similarity_golden.py   (needs python3-torch and python3-scipy)
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr

OUT = os.path.join(os.path.dirname(__file__), "..", "golden", "eval", "similarity.json")


def num(v):
    v = float(v)
    return None if math.isnan(v) else v


def correlation_case(x, y):
    return {"x": x, "y": y, "pearson": num(pearsonr(x, y)[0]), "spearman": num(spearmanr(x, y)[0])}


def main():
    rng = np.random.default_rng(20261207)
    cases = [
        correlation_case([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 10.5]),
        # Ties on both sides: spearman's average ranks matter.
        correlation_case([0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 5.0], [0.1, 0.4, 0.2, 0.2, 0.9, 0.3, 0.7, 0.6]),
        correlation_case([5.0, 4.0, 3.0, 2.0, 1.0, 0.5], [0.2, 0.3, 0.1, 0.6, 0.8, 0.7]),
        correlation_case([float(v) for v in rng.integers(0, 6, 40)], [float(v) for v in rng.normal(size=40)]),
        correlation_case([2.0, 2.0, 2.0, 2.0], [0.1, 0.5, 0.3, 0.2]),
    ]

    n, dim, dims = 24, 12, [6, 3]
    a = torch.from_numpy(rng.normal(size=(n, dim)).astype(np.float32))
    b = (0.6 * a + torch.from_numpy(rng.normal(size=(n, dim)).astype(np.float32))).contiguous()
    b[5] = 0.0
    # Integer gold scores loosely following the similarity: many ties, as STS-B's labels.
    full = (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(dim=-1).numpy().astype(np.float64)
    gold = [float(v) for v in np.clip(np.round(2.5 + 3.0 * full + rng.normal(scale=0.8, size=n)), 0, 5)]
    gold[1] = 2.5
    metrics = {}
    for i, d in enumerate([dim] + dims):
        sims = (F.normalize(a[:, :d], p=2, dim=1) * F.normalize(b[:, :d], p=2, dim=1)).sum(dim=-1)
        s = sims.numpy()  # float32, as the evaluator hands scipy
        prefix = "" if i == 0 else f"dim_{d}_"
        metrics[prefix + "pearson_cosine"] = float(pearsonr(gold, s)[0])
        metrics[prefix + "spearman_cosine"] = float(spearmanr(gold, s)[0])
    out = {
        "correlations": cases,
        "embedding_case": {"a": a.tolist(), "b": b.tolist(), "scores": gold, "dims": dims, "metrics": metrics},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
