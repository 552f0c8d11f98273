#!/usr/bin/env python3
"""Writes the (query, relevant document) pairs of one split of a BEIR dataset as training pairs.

One JSONL row {"anchor": query text, "positive": document text} per qrels line whose score is
above 0, in qrels order. The document text is title + " " + text when the title is not empty,
as evaluation reads BEIR (docs/data.md). Used to train on a BEIR set's train split, e.g. as
an entry of a config's `datasets:` section (docs/recipes.md, "Several datasets").

usage: beir_pairs.py BEIR_DIR OUTPUT.jsonl [--split train]
"""
import argparse
import csv
import json
import os
import sys


def read_jsonl(path, fields):
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [k for k in fields if k not in row]
            if missing:
                sys.exit(f"{path}:{n}: missing {', '.join(missing)}")
            out[str(row["_id"])] = row
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("beir_dir")
    ap.add_argument("output")
    ap.add_argument("--split", default="train")
    args = ap.parse_args()
    queries = read_jsonl(os.path.join(args.beir_dir, "queries.jsonl"), ["_id", "text"])
    corpus = read_jsonl(os.path.join(args.beir_dir, "corpus.jsonl"), ["_id", "text"])
    qrels = os.path.join(args.beir_dir, "qrels", args.split + ".tsv")
    rows = []
    with open(qrels, encoding="utf-8", newline="") as f:
        for n, rec in enumerate(csv.reader(f, delimiter="\t"), 1):
            rec = [x.strip() for x in rec]
            if n == 1 and rec[:2] == ["query-id", "corpus-id"]:
                continue
            if len(rec) != 3:
                sys.exit(f"{qrels}:{n}: expected query-id, corpus-id, score")
            qid, did, score = rec
            if float(score) <= 0:
                continue
            if qid not in queries or did not in corpus:
                sys.exit(f"{qrels}:{n}: unknown {'query' if qid not in queries else 'document'} id")
            doc = corpus[did]
            title = doc.get("title") or ""
            rows.append({"anchor": queries[qid]["text"], "positive": f"{title} {doc['text']}" if title else doc["text"]})
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    os.replace(tmp, args.output)
    print(f"{args.output}: {len(rows)} pairs from {qrels}")


if __name__ == "__main__":
    main()
