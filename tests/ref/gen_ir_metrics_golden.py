#!/usr/bin/python3
"""Writes tests/golden/eval/ir_metrics.json: retrieval metrics computed by references the
C++ code is checked against (src/eval/ir_metrics_test.cpp).

1. `st_cases`: a plain transcription of the formulas of sentence-transformers'
   InformationRetrievalEvaluator.compute_metrics (binary relevance; queries without a
   relevant document dropped; precision divides by k; ndcg's ideal DCG over
   min(k, #relevant); map divides by min(k, #relevant); averages with np.mean, accuracy and
   mrr as running sums divided by the query count), on random rankings.
2. `sklearn_cases`: sklearn.metrics.ndcg_score, an implementation no one here wrote. Its
   definition agrees with sentence-transformers' ndcg@k when (a) relevance is binary,
   (b) every query has at least one relevant document (sentence-transformers drops the
   others, sklearn would score them 0), (c) scores have no ties (sklearn averages the gain
   over tied scores; sentence-transformers takes one order), and (d) the ranking covers the
   corpus down to k (sklearn ranks every document). The cases are built to satisfy all four.

3. `torch_case`: end to end on embeddings with python3-torch: unit vectors by
   torch.nn.functional.normalize (after Matryoshka truncation), scores q @ d.T, ranking by a
   stable descending sort (ties to the lower corpus index), metrics as in 1. The C++
   evaluate_ir must produce the same names and values from the same embeddings.

Run: /usr/bin/python3 tests/ref/gen_ir_metrics_golden.py   (needs numpy and python3-sklearn)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import ndcg_score

OUT = os.path.join(os.path.dirname(__file__), "..", "golden", "eval", "ir_metrics.json")


def st_metrics(ranked, relevant, cut):
    """ranked[q]: corpus indices best first; relevant[q]: set of relevant indices."""
    queries = [q for q in range(len(ranked)) if len(relevant[q]) > 0]
    hits = {k: 0 for k in cut["accuracy"]}
    prec = {k: [] for k in cut["precision_recall"]}
    rec = {k: [] for k in cut["precision_recall"]}
    mrr = {k: 0 for k in cut["mrr"]}
    ndcg = {k: [] for k in cut["ndcg"]}
    avep = {k: [] for k in cut["map"]}

    def dcg(rels, k):
        total = 0
        for i in range(min(len(rels), k)):
            total += rels[i] / np.log2(i + 2)
        return total

    for q in queries:
        top, rel = ranked[q], relevant[q]
        for k in cut["accuracy"]:
            if any(d in rel for d in top[:k]):
                hits[k] += 1
        for k in cut["precision_recall"]:
            c = sum(1 for d in top[:k] if d in rel)
            prec[k].append(c / k)
            rec[k].append(c / len(rel))
        for k in cut["mrr"]:
            for r, d in enumerate(top[:k]):
                if d in rel:
                    mrr[k] += 1.0 / (r + 1)
                    break
        for k in cut["ndcg"]:
            got = [1 if d in rel else 0 for d in top[:k]]
            ndcg[k].append(dcg(got, k) / dcg([1] * len(rel), k))
        for k in cut["map"]:
            c, s = 0, 0
            for r, d in enumerate(top[:k]):
                if d in rel:
                    c += 1
                    s += c / (r + 1)
            avep[k].append(s / min(k, len(rel)))

    n = len(queries)
    out = {}
    for k in cut["accuracy"]:
        out[f"cosine_accuracy@{k}"] = hits[k] / n
    for k in cut["precision_recall"]:
        out[f"cosine_precision@{k}"] = float(np.mean(prec[k]))
        out[f"cosine_recall@{k}"] = float(np.mean(rec[k]))
    for k in cut["mrr"]:
        out[f"cosine_mrr@{k}"] = mrr[k] / n
    for k in cut["ndcg"]:
        out[f"cosine_ndcg@{k}"] = float(np.mean(ndcg[k]))
    for k in cut["map"]:
        out[f"cosine_map@{k}"] = float(np.mean(avep[k]))
    return out, n, len(ranked) - n


def random_case(rng, n_queries, corpus, cut, p_empty, max_rel):
    depth = max(max(v) for v in cut.values())
    ranked, relevant = [], []
    for _ in range(n_queries):
        n_rel = 0 if rng.random() < p_empty else int(rng.integers(1, max_rel + 1))
        rel = sorted(rng.choice(corpus, size=min(n_rel, corpus), replace=False).tolist())
        # Relevant documents get a random boost (none, small, large): near the top often, not always.
        score = rng.random(corpus)
        score[rel] += rng.random(len(rel)) * rng.choice([0.0, 0.2, 1.0], size=len(rel))
        order = np.argsort(-score, kind="stable")[:depth].tolist()
        ranked.append(order)
        relevant.append(rel)
    metrics, n, skipped = st_metrics(ranked, [set(r) for r in relevant], cut)
    return {"cutoffs": cut, "ranked": ranked, "relevant": relevant, "metrics": metrics,
            "queries": n, "queries_without_relevant": skipped}


def sklearn_case(rng, n_queries, corpus, ks, max_rel):
    y_true = np.zeros((n_queries, corpus))
    y_score = rng.random((n_queries, corpus))
    relevant = []
    for q in range(n_queries):
        rel = sorted(rng.choice(corpus, size=int(rng.integers(1, max_rel + 1)), replace=False).tolist())
        y_true[q, rel] = 1
        y_score[q, rel] += rng.random(len(rel)) * rng.choice([0.0, 0.2, 1.0], size=len(rel))
        relevant.append(rel)
    assert all(len(set(row)) == corpus for row in y_score.tolist()), "tied scores"
    depth = max(ks)
    ranked = [np.argsort(-row)[:depth].tolist() for row in y_score]
    ndcg = {str(k): float(ndcg_score(y_true, y_score, k=k)) for k in ks}
    return {"ks": ks, "ranked": ranked, "relevant": relevant, "ndcg": ndcg}


def torch_case(rng, n_queries, corpus, dim, dims, cut):
    # Embeddings with 5 decimals, so that the JSON holds exactly the float32 inputs.
    docs = np.round(rng.standard_normal((corpus, dim)), 5)
    relevant = []
    queries = np.round(rng.standard_normal((n_queries, dim)) * 0.8, 5)
    for q in range(n_queries):
        n_rel = 0 if q % 7 == 3 else int(rng.integers(1, 4))
        rel = sorted(rng.choice(corpus, size=n_rel, replace=False).tolist())
        if rel:
            queries[q] = np.round(queries[q] + docs[rel[0]], 5)
        relevant.append(rel)
    depth = max(max(v) for v in cut.values())
    metrics = {}
    for d in [dim] + dims:
        qt = F.normalize(torch.tensor(queries, dtype=torch.float32)[:, :d], p=2, dim=1)
        dt = F.normalize(torch.tensor(docs, dtype=torch.float32)[:, :d], p=2, dim=1)
        scores = qt @ dt.T
        order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :depth]
        m, n, skipped = st_metrics(order.tolist(), [set(r) for r in relevant], cut)
        prefix = "" if d == dim else f"dim_{d}_"
        metrics.update({prefix + k: v for k, v in m.items()})
    return {"dims": dims, "cutoffs": cut, "queries": queries.tolist(), "corpus": docs.tolist(),
            "relevant": relevant, "metrics": metrics, "queries_without_relevant": skipped}


def main():
    rng = np.random.default_rng(20240607)
    st_default = {"accuracy": [1, 3, 5, 10], "precision_recall": [1, 3, 5, 10], "mrr": [10],
                  "ndcg": [10], "map": [100]}
    wide = {"accuracy": [1, 2, 7], "precision_recall": [1, 4, 20], "mrr": [1, 5, 20],
            "ndcg": [1, 2, 3, 5, 20], "map": [3, 10, 20]}
    st_cases = [
        # The defaults on a corpus larger than the depth, some queries without relevance.
        random_case(rng, 24, 150, st_default, 0.15, 4),
        # Many relevant documents per query (more than small k), unusual cut-offs.
        random_case(rng, 20, 40, wide, 0.0, 25),
        # A corpus smaller than the deepest cut-off (map@100 over 30 documents).
        random_case(rng, 20, 30, st_default, 0.1, 6),
        # More than 128 queries: numpy's pairwise summation takes its recursive branch.
        random_case(rng, 300, 60, {"accuracy": [1, 10], "precision_recall": [1, 10], "mrr": [10],
                                    "ndcg": [10], "map": [20]}, 0.05, 3),
    ]
    sklearn_cases = [
        sklearn_case(rng, 25, 50, [1, 3, 5, 10, 50], 3),
        sklearn_case(rng, 15, 12, [1, 5, 12], 8),  # many relevant, k equal to the corpus
    ]
    small = {"accuracy": [1, 3], "precision_recall": [1, 3], "mrr": [10], "ndcg": [3, 10],
             "map": [20]}
    with open(OUT, "w") as f:
        json.dump({"generator": "tests/ref/gen_ir_metrics_golden.py", "st_cases": st_cases,
                   "sklearn_cases": sklearn_cases,
                   "torch_case": torch_case(rng, 21, 120, 8, [4, 2], small)},
                  f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
