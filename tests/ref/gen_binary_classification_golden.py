#!/usr/bin/python3
"""Writes tests/golden/eval/binary_classification.json: sentence-transformers'
BinaryClassificationEvaluator (cosine) as computed by references the C++ code is checked
against (src/eval/binary_classification_evaluator_test.cpp).

The evaluator's threshold searches are its own definition, stated in
sentence_transformers/evaluation/BinaryClassificationEvaluator.py: sort the pairs by
decreasing similarity (a stable sort: ties keep their order), consider the split after each
of the first n-1 pairs, keep the first split with the best accuracy (or F1, precision and
recall of "the pairs before the split are positive"), and report the float32 midpoint of the
two similarities around it. `search()` below follows that definition; on data without tied
similarities every figure is then recomputed by sklearn (accuracy_score, f1_score,
precision_score, recall_score of `similarity >= threshold`) and must agree, so the golden
values rest on sklearn wherever thresholding and the split count coincide. Average
precision and the Matthews correlation (at the F1 threshold) always come from sklearn
(average_precision_score, matthews_corrcoef).

Cases: random similarities without ties; a hand-made list with ties (where the split count
and thresholding differ, as in the evaluator); degenerate label sets; and an end-to-end
case on embeddings with python3-torch (Matryoshka truncation, F.normalize, the float32
row-wise product of sentence_transformers.util.pairwise_cos_sim), including a zero row.

Run: /usr/bin/python3 tests/ref/gen_binary_classification_golden.py
     (needs python3-torch, python3-numpy and python3-sklearn)
"""
import json
import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import (accuracy_score, average_precision_score, f1_score, matthews_corrcoef,
                             precision_score, recall_score)

OUT = os.path.join(os.path.dirname(__file__), "..", "golden", "eval", "binary_classification.json")


def search(sim, labels):
    """The evaluator's two threshold searches on float32 similarities."""
    order = sorted(range(len(sim)), key=lambda i: -float(sim[i]))  # stable
    n, pos = len(labels), int(sum(labels))
    acc, acc_t = 0.0, -1.0
    f1, prec, rec, f1_t = 0.0, 0.0, 0.0, 0.0
    above_pos = 0
    for i in range(n - 1):
        above_pos += labels[order[i]]
        taken = i + 1
        below_neg = (n - pos) - (taken - above_pos)
        mid = float((np.float32(sim[order[i]]) + np.float32(sim[order[i + 1]])) / np.float32(2))
        a = (above_pos + below_neg) / n
        if a > acc:
            acc, acc_t = a, mid
        if above_pos > 0:
            p, r = above_pos / taken, above_pos / pos
            f = 2 * p * r / (p + r)
            if f > f1:
                f1, prec, rec, f1_t = f, p, r, mid
    return acc, acc_t, f1, prec, rec, f1_t


def figures(sim, labels, check_with_sklearn):
    sim = np.asarray(sim, dtype=np.float32)
    labels = [int(v) for v in labels]
    acc, acc_t, f1, prec, rec, f1_t = search(sim, labels)
    predicted = (sim >= np.float32(f1_t)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap = float(average_precision_score(labels, sim)) + 0.0  # -0.0 with no positive
        mcc = float(matthews_corrcoef(labels, predicted))
    if check_with_sklearn:
        assert len(set(sim.tolist())) == len(sim), "no ties in this case"
        at_acc = (sim >= np.float32(acc_t)).astype(int)
        assert abs(accuracy_score(labels, at_acc) - acc) < 1e-12
        assert abs(f1_score(labels, predicted) - f1) < 1e-12
        assert abs(precision_score(labels, predicted) - prec) < 1e-12
        assert abs(recall_score(labels, predicted) - rec) < 1e-12
    return {"cosine_accuracy": acc, "cosine_accuracy_threshold": acc_t, "cosine_f1": f1,
            "cosine_f1_threshold": f1_t, "cosine_precision": prec, "cosine_recall": rec,
            "cosine_ap": ap, "cosine_mcc": mcc}


def case(sim, labels, check_with_sklearn):
    return {"similarity": [float(np.float32(v)) for v in sim], "labels": [int(v) for v in labels],
            "metrics": figures(sim, labels, check_with_sklearn)}


def main():
    rng = np.random.default_rng(20261207)
    sim = rng.uniform(-0.3, 0.9, 60).astype(np.float32)
    labels = (sim + rng.normal(scale=0.3, size=60) > 0.35).astype(int)
    cases = [
        case(sim, labels, True),
        # Ties: 0.5 three times (one positive among them), 0.2 twice. The same labels in
        # another order inside the tied run give another best F1 (0.667 at 0.5 against 0.6
        # at 0.05): the split count depends on the order the pairs came in.
        case([0.5, 0.9, 0.5, 0.2, 0.5, 0.2, -0.1, 0.7], [1, 1, 0, 0, 0, 1, 0, 0], False),
        case([0.5, 0.9, 0.5, 0.2, 0.5, 0.2, -0.1, 0.7], [0, 1, 0, 0, 1, 1, 0, 0], False),
        # Every pair positive / negative, and a single pair.
        case([0.3, 0.1, 0.8, 0.4], [1, 1, 1, 1], True),
        case([0.3, 0.1, 0.8, 0.4], [0, 0, 0, 0], True),
        case([0.6], [1], False),  # no split at all: 0 at threshold -1, as the evaluator
        # Perfectly separable: accuracy, F1, AP and MCC all 1.
        case([0.9, 0.1, 0.8, 0.2, 0.7], [1, 0, 1, 0, 1], True),
    ]

    n, dim, dims = 40, 12, [6, 3]
    a = torch.from_numpy(rng.normal(size=(n, dim)).astype(np.float32))
    b = (0.5 * a + torch.from_numpy(rng.normal(size=(n, dim)).astype(np.float32))).contiguous()
    b[7] = 0.0
    full = (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(dim=-1).numpy()
    gold = (full + rng.normal(scale=0.25, size=n) > 0.3).astype(int)
    metrics = {}
    for i, d in enumerate([dim] + dims):
        s = (F.normalize(a[:, :d], p=2, dim=1) * F.normalize(b[:, :d], p=2, dim=1)).sum(dim=-1).numpy()
        prefix = "" if i == 0 else f"dim_{d}_"
        # The zero row's 0 may tie with nothing else; no sklearn cross-check needed here.
        metrics.update({prefix + k: v for k, v in figures(s, gold, False).items()})
    out = {
        "cases": cases,
        "embedding_case": {"a": a.tolist(), "b": b.tolist(), "labels": [int(v) for v in gold],
                           "dims": dims, "metrics": metrics},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
