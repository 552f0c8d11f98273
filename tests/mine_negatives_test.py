"""`disttune mine-negatives`: the same file for 1 and 2 ranks, config and flag modes, the
mined file reads back as triplets, and bad flags/config keys are reported precisely."""
import json
import os
import random
import sys
import tempfile
import unittest

import dt

VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")
PAIRS = os.path.join(dt.DATA, "financial-rag", "pairs.jsonl")


def error_lines(r):
    return [l for l in r.err.splitlines() if l.startswith("disttune: error:")]


class MineNegatives(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = self.path("qa.jsonl")
        rng = random.Random(3)
        words = ["revenue", "growth", "cash", "margin", "segment", "debt", "equity", "income",
                 "quarter", "dividend", "capital", "expenses", "tax", "assets", "risk"]
        with open(self.data, "w") as f:
            # Each context repeats its question's words; "item" numbers are shared by 2-3 rows,
            # so some candidates score close to the positive (the margin has work to do).
            for i in range(300):
                q = " ".join(rng.choice(words) for _ in range(4)) + f" item{i % 120}"
                c = " ".join(rng.choice(words) for _ in range(20))
                f.write(json.dumps({"question": f"what about {q}?", "context": f"{q} {c}."}) + "\n")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def config(self, body, name="mine.yaml"):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(body)
        return p

    def mine_config(self, data, out, extra=""):
        return self.config(f"data:\n  train: {data}\n  columns: {{anchor: question, positive: context}}\n"
                           f"  on_bad_row: skip\nmining:\n  output: {out}\n{extra}")

    def test_same_file_for_one_and_two_ranks(self):
        outs = []
        for np in (None, 2):
            out = self.path(f"mined-{np}.jsonl")
            cfg = self.mine_config(self.data, out, "  sampling: random\n  num_negatives: 4\n"
                                   "  relative_margin: 0.05\n  seed: 7\n")
            r = dt.run([dt.DISTTUNE, "mine-negatives", cfg], np=np)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.out.count("negatives found:"), 1, r)  # rank 0 alone reports
            self.assertIn("skipped", r.out)
            with open(out) as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1])
        rows = [json.loads(l) for l in outs[0].splitlines()]
        self.assertEqual(len(rows), 1200)  # 4 per row: the margin drops only a few candidates
        self.assertTrue(all(set(r) == {"anchor", "positive", "negative"} for r in rows))
        self.assertTrue(all(r["negative"] != r["positive"] for r in rows))
        self.assertFalse([n for n in os.listdir(self.tmp.name) if ".tmp." in n])

    def test_financial_rag_one_and_two_ranks(self):
        if not os.path.exists(PAIRS):
            self.skipTest(f"reference data {PAIRS} is absent")
        outs = []
        for np in (None, 2):
            out = self.path(f"fin-{np}.jsonl")
            r = dt.run([dt.DISTTUNE, "mine-negatives", "--input", PAIRS, "--output", out,
                        "--on-bad-row", "skip", "--num-negatives", "3", "--margin", "0",
                        "--range-min", "1"], np=np)
            self.assertEqual(r.rc, 0, r)
            self.assertIn("mined 6998 rows: ", r.out)
            with open(out, "rb") as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1])

    def test_model_method_takes_the_most_similar_candidates(self):
        # A small randomly initialised BERT; its embeddings come from `disttune encode`, and the
        # negatives must be the highest-cosine candidates that are not the row's positive.
        try:
            import h5py
            import numpy as np
        except ImportError:
            self.skipTest("needs /usr/bin/python3 with h5py and numpy")
        model = self.config(f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, "
                            "num_heads: 2, intermediate_size: 64, seed: 9}\n  max_seq_length: 48\n",
                            "model.yaml")
        with open(self.data) as f:
            rows = [json.loads(l) for l in f][:80]
        data = self.path("small.jsonl")
        with open(data, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        outs = []
        for np_ in (None, 2):
            out = self.path(f"model-{np_}.jsonl")
            r = dt.run([dt.DISTTUNE, "mine-negatives", "--input", data, "--output", out, "--anchor",
                        "question", "--positive", "context", "--method", "model", "--model", model,
                        "--num-negatives", "2", "--batch-size", "16"], np=np_,
                       env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
            self.assertEqual(r.rc, 0, r)
            with open(out, "rb") as f:
                outs.append(f.read())
        # Config mode: the model section and mining.batch_size give the same file.
        cfg = self.mine_config(data, self.path("model-cfg.jsonl"),
                               "  method: model\n  num_negatives: 2\n  batch_size: 16\n"
                               f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, "
                               "num_heads: 2, intermediate_size: 64, seed: 9}\n  max_seq_length: 48\n")
        r = dt.run([dt.DISTTUNE, "mine-negatives", cfg], np=2, env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
        self.assertEqual(r.rc, 0, r)
        with open(self.path("model-cfg.jsonl"), "rb") as f:
            outs.append(f.read())
        self.assertEqual(outs[0], outs[1])
        self.assertEqual(outs[0], outs[2])
        mined = [json.loads(l) for l in outs[0].decode().splitlines()]
        self.assertEqual(len(mined), 160)

        def embed(texts, name):
            inp, h5 = self.path(name + ".txt"), self.path(name + ".h5")
            with open(inp, "w") as f:
                f.write("\n".join(texts) + "\n")
            r = dt.run([dt.DISTTUNE, "encode", "--model", model, "--input", inp, "--output", h5],
                       env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
            self.assertEqual(r.rc, 0, r)
            with h5py.File(h5, "r") as f:
                e = f["embeddings"][:].astype(np.float64)
            return e / np.linalg.norm(e, axis=1, keepdims=True)

        corpus = list(dict.fromkeys(r["context"] for r in rows))
        a = embed([r["question"] for r in rows], "anchors")
        c = embed(corpus, "corpus")
        scores = a @ c.T
        for i, r in enumerate(rows):
            order = sorted(range(len(corpus)), key=lambda j: (-scores[i, j], j))
            want = [corpus[j] for j in order if corpus[j] != r["context"]][:2]
            got = [m["negative"] for m in mined if m["anchor"] == r["question"] and m["positive"] == r["context"]]
            self.assertEqual(got, want, f"row {i}")
        # n-tuple-scores: the same negatives as n-tuple, and the cosines of the positive and
        # of each negative (sentence-transformers' "score" list), which margin_mse trains on.
        tuples = {}
        for fmt in ("n-tuple", "n-tuple-scores"):
            out = self.path(f"model-{fmt}.jsonl")
            r = dt.run([dt.DISTTUNE, "mine-negatives", "--input", data, "--output", out, "--anchor", "question",
                        "--positive", "context", "--method", "model", "--model", model, "--num-negatives", "2",
                        "--format", fmt], np=2, env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
            self.assertEqual(r.rc, 0, r)
            with open(out) as f:
                tuples[fmt] = [json.loads(l) for l in f]
        self.assertEqual([{k: v for k, v in t.items() if k != "score"} for t in tuples["n-tuple-scores"]],
                         tuples["n-tuple"])
        index = {t: j for j, t in enumerate(corpus)}
        questions = [r["question"] for r in rows]
        for t in tuples["n-tuple-scores"]:
            i = questions.index(t["anchor"])
            want = [scores[i, index[t[k]]] for k in ("positive", "negative", "negative_2")]
            np.testing.assert_allclose(t["score"], want, rtol=0, atol=2e-6)
        self.validates(self.path("model-n-tuple-scores.jsonl"),
                       "{anchor: anchor, positive: positive, negative: negative, negative_2: negative_2, score: score}",
                       f"triplets with scores, {len(tuples['n-tuple'])} rows read, all kept", "loss:\n  name: margin_mse\n")

    def test_n_tuple_reads_back_as_triplets(self):
        out = self.path("n.jsonl")
        r = dt.run([dt.DISTTUNE, "mine-negatives", "--input", self.data, "--output", out,
                    "--anchor", "question", "--positive", "context", "--num-negatives", "2",
                    "--format", "n-tuple"])
        self.assertEqual(r.rc, 0, r)
        with open(out) as f:
            rows = [json.loads(l) for l in f]
        self.assertTrue(rows)
        self.assertTrue(all(list(r) == ["anchor", "positive", "negative", "negative_2"] for r in rows))
        self.assertIn(f"wrote {len(rows)} rows to {out}", r.out)
        self.validates(out, "{anchor: anchor, positive: positive, negative: negative, negative_2: negative_2}",
                       f"triplets, {len(rows)} rows read, all kept")

    def validates(self, data, columns, summary, extra=""):
        """`disttune validate` of a config training on `data` with `columns` (and `extra`)
        passes and reads it as `summary` says; returns the config."""
        cfg = self.config(f"model:\n  init: {{vocab: {VOCAB}}}\ndata:\n  train: {data}\n  columns: {columns}\n"
                          "training:\n  global_batch_size: 8\n" + extra, "val.yaml")
        v = dt.run([dt.DISTTUNE, "validate", cfg])
        self.assertEqual(v.rc, 0, v)
        self.assertIn(f"# data.train: {summary}\n", v.out)
        return cfg

    def test_labeled_pairs_read_back_as_scored_pairs(self):
        """--format labeled-pair: each row's (question, context) scored 1, then its question's
        negatives scored 0 (once per distinct question), as sentence2 of scored pairs; they
        read back as scored pairs, evaluate as binary classification, and the default
        (anchor, positive) mapping refuses them rather than reading them as pairs."""
        out, tri = self.path("l.jsonl"), self.path("t.jsonl")
        flags = ["--input", self.data, "--anchor", "question", "--positive", "context", "--num-negatives", "2"]
        r = dt.run([dt.DISTTUNE, "mine-negatives", "--output", out, "--format", "labeled-pair"] + flags, np=2)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("output rows (labeled-pair):", r.out)
        self.assertEqual(dt.run([dt.DISTTUNE, "mine-negatives", "--output", tri] + flags).rc, 0)
        with open(out) as f:
            rows = [json.loads(l) for l in f]
        with open(self.data) as f:
            inputs = [json.loads(l) for l in f]
        with open(tri) as f:
            triplets = [json.loads(l) for l in f]
        self.assertIn(f"wrote {len(rows)} rows to {out}", r.out)
        self.assertTrue(all(list(x) == ["sentence1", "sentence2", "score"] for x in rows))
        # The positives, in input order, each followed by the negatives the triplet output
        # gives that row.
        ones = [(x["sentence1"], x["sentence2"]) for x in rows if x["score"] == 1]
        self.assertEqual(ones, [(x["question"], x["context"]) for x in inputs])
        want = []
        for x in inputs:
            want.append((x["question"], x["context"], 1))
            negs = [t["negative"] for t in triplets if t["anchor"] == x["question"] and t["positive"] == x["context"]]
            want += [(x["question"], n, 0) for n in negs]
        self.assertEqual([(x["sentence1"], x["sentence2"], x["score"]) for x in rows], want)
        self.assertEqual(sum(x["score"] == 0 for x in rows), len(triplets))  # no repeated question here
        cfg = self.validates(out, "{sentence1: sentence1, sentence2: sentence2, score: score}",
                             f"scored pairs, {len(rows)} rows read, all kept")
        e = dt.run([dt.DISTTUNE, "eval", "--model", cfg, "--scored", out])
        self.assertEqual(e.rc, 0, e)
        self.assertIn("cosine_ap", e.out)
        bad = self.config(f"model:\n  init: {{vocab: {VOCAB}}}\ndata:\n  train: {out}\n", "pairs.yaml")
        v = dt.run([dt.DISTTUNE, "validate", bad])
        self.assertNotEqual(v.rc, 0)
        self.assertIn(f"{out}:1: column 'anchor': missing", v.err)

    def test_errors_name_the_flag_or_the_key(self):
        out = self.path("o.jsonl")
        base = [dt.DISTTUNE, "mine-negatives", "--input", self.data, "--output", out,
                "--anchor", "question", "--positive", "context"]
        cases = [
            (base + ["--method", "model"],
             "disttune mine-negatives: --method model needs --model DIR (a model directory or a "
             "config with a model section)"),
            (base + ["--model", self.tmp.name],
             "disttune mine-negatives: --model applies to --method model only"),
            (base + ["--method", "model", "--model", self.path("nope")],
             f"disttune mine-negatives: --model: '{self.path('nope')}' is not a directory (expected a "
             "sentence-transformers model directory, or a .yaml config with a model section)"),
            ([dt.DISTTUNE, "mine-negatives", "--input", self.data],
             "disttune mine-negatives: --output FILE is required"),
            ([dt.DISTTUNE, "mine-negatives"],
             "disttune mine-negatives: give CONFIG.yaml, or --input FILE --output FILE "
             "(see disttune mine-negatives --help)"),
            (base + ["--margin", "abc"], "disttune mine-negatives: --margin: expected a number, got 'abc'"),
            (base + ["--num-negatives", "0"],
             "disttune mine-negatives: --num-negatives: expected an integer >= 1, got 0"),
            (base + ["--range-min", "5", "--range-max", "5"],
             "disttune mine-negatives: --range-max: 5 must be greater than range_min (5), or 0 for "
             "the automatic range"),
            (base + ["--format", "pairs"],
             "disttune mine-negatives: --format: expected triplet, n-tuple, n-tuple-scores or labeled-pair, got 'pairs'"),
            (base + ["--relative-margin", "1.5"],
             "disttune mine-negatives: --relative-margin: 1.5 is outside [0, 1)"),
            ([dt.DISTTUNE, "mine-negatives", "--input", self.data, "--output", self.path("o.csv")],
             f"disttune mine-negatives: --output: '{self.path('o.csv')}': expected a .jsonl file "
             "(the rows are written as JSON lines)"),
            ([dt.DISTTUNE, "mine-negatives", "--input", self.data, "--output", self.data],
             f"disttune mine-negatives: --output: '{self.data}' is the input file; write the mined "
             "rows elsewhere"),
            (base[:4] + ["--output", out],
             f"{self.data}:1: column 'anchor': missing (the row has: question, context)"),
        ]
        for args, want in cases:
            r = dt.run(args)
            self.assertNotEqual(r.rc, 0, r)
            self.assertEqual(error_lines(r), ["disttune: error: " + want], r)
        self.assertFalse(os.path.exists(out))

        cfg = self.mine_config(self.data, out, "  max_score: abc\n")
        r = dt.run([dt.DISTTUNE, "mine-negatives", cfg])
        self.assertEqual(error_lines(r), [f"disttune: error: {cfg}:7: mining.max_score: expected a "
                                          "number or none, got 'abc'"], r)
        r = dt.run([dt.DISTTUNE, "mine-negatives", cfg, "--num-negatives", "2"])
        self.assertEqual(error_lines(r), ["disttune: error: disttune mine-negatives: --num-negatives "
                                          "cannot be combined with CONFIG.yaml (set "
                                          "mining.num_negatives in the file or with --set)"], r)
        r = dt.run([dt.DISTTUNE, "mine-negatives", cfg, "--set", "mining.method=model",
                    "--set", "mining.max_score=none"])
        self.assertEqual(error_lines(r), ["disttune: error: --set mining.method: mining.method: model "
                                          "needs a model: set model.path (a model directory) or "
                                          "model.init"], r)
        cfg = self.config(f"data:\n  train: {self.data}\n  columns: {{anchor: question, positive: context}}\n",
                          "noout.yaml")
        r = dt.run([dt.DISTTUNE, "mine-negatives", cfg], np=2)
        self.assertEqual(error_lines(r), [f"disttune: error: {cfg}: (default): mining.output: is required: the "
                                          "file to write the mined rows to"], r)
        cfg = self.config(f"data:\n  train: {self.data}\n  columns: {{question: question}}\n"
                          f"mining:\n  output: {out}\n", "nocols.yaml")
        r = dt.run([dt.DISTTUNE, "mine-negatives", cfg])
        self.assertEqual(error_lines(r), [f"disttune: error: {cfg}:3: data.columns: mine-negatives "
                                          "needs the role 'anchor' mapped to a column"], r)


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
