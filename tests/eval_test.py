"""disttune eval: metrics equal to an independent brute force (numpy cosine scores of the
embeddings `disttune encode` writes, and sentence-transformers' metric definitions written
out here: binary relevance, ndcg with the ideal DCG over min(k, #relevant), map@k divided by
min(k, #relevant)), the same metrics for 1, 2, 3 and 4 ranks on BEIR SciFact, Matryoshka dims,
the JSON output, counted qrels problems and clear errors; and --scored / --triplets files
against numpy on the same embeddings."""
import json
import math
import os
import random
import shutil
import sys
import unittest

import dt

try:
    import h5py
    import numpy as np
except ImportError:  # pragma: no cover - the reference interpreter has them
    h5py = None

VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")
SCIFACT = os.path.join(dt.DATA, "scifact")
WORDS = ("cell protein gene tumor patient dose risk blood brain heart virus immune drug trial "
         "cancer mouse receptor signal growth insulin liver lung kidney muscle bone").split()


def model_config(path, seed=3, max_len=64):
    with open(path, "w") as f:
        f.write(f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, num_heads: 2,"
                f" intermediate_size: 64, seed: {seed}}}\n  max_seq_length: {max_len}\n")
    return path


def average_ranks(x):
    """Ranks 1..n, tied values sharing the mean of theirs (what scipy.stats.rankdata gives)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def cosines(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1), 1e-12) / np.maximum(np.linalg.norm(b, axis=1), 1e-12)


def binary_classification(sim, labels):
    """sentence-transformers' BinaryClassificationEvaluator figures from their definitions,
    for similarities without ties: the best accuracy and the best F1 over the thresholds that
    call the top 1..n-1 pairs positive (the first best, from the top; the threshold halfway to
    the next pair), precision and recall at that F1, the Matthews correlation of that
    prediction, and average precision as the mean over positives of the precision at their
    rank."""
    order = np.argsort(-sim, kind="stable")
    s, y = sim[order], labels[order]
    assert len(set(s)) == len(s)
    out = {"accuracy": 0.0, "f1": 0.0}
    for top in range(1, len(s)):
        pred = np.arange(len(s)) < top
        tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
        fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
        acc, threshold = (tp + tn) / len(s), (s[top - 1] + s[top]) / 2
        if acc > out["accuracy"]:
            out["accuracy"], out["accuracy_threshold"] = acc, threshold
        f1 = 2 * tp / (2 * tp + fp + fn)
        if f1 > out["f1"]:
            mcc = (tp * tn - fp * fn) / np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
            out.update(f1=f1, f1_threshold=threshold, precision=tp / (tp + fp), recall=tp / (tp + fn), mcc=mcc)
    hits = np.cumsum(y)
    out["ap"] = float(np.mean([hits[i] / (i + 1) for i in range(len(y)) if y[i] == 1]))
    return out


def brute_force(q, d, relevant, ks=(1, 3, 5, 10), mrr_ndcg_k=10, map_k=100, score="cosine"):
    """sentence-transformers' InformationRetrievalEvaluator metrics, from the definitions, with
    the cosine or the dot product as the score function."""
    if score == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    scores = q.astype(np.float64) @ d.astype(np.float64).T
    sums = {}

    def add(name, v):
        sums[score + name[name.index("_"):]] = sums.get(score + name[name.index("_"):], 0.0) + v

    n = 0
    for i, rel in enumerate(relevant):
        if not rel:
            continue
        n += 1
        order = sorted(range(d.shape[0]), key=lambda j: (-scores[i, j], j))  # ties: document order
        hit = [j in rel for j in order]
        for k in ks:
            top = sum(hit[:k])
            add(f"cosine_accuracy@{k}", 1.0 if top else 0.0)
            add(f"cosine_precision@{k}", top / k)
            add(f"cosine_recall@{k}", top / len(rel))
        k = mrr_ndcg_k
        first = next((r for r in range(k) if hit[r]), None)
        add(f"cosine_mrr@{k}", 0.0 if first is None else 1.0 / (first + 1))
        dcg = sum(1.0 / math.log2(r + 2) for r in range(k) if hit[r])
        idcg = sum(1.0 / math.log2(r + 2) for r in range(min(k, len(rel))))
        add(f"cosine_ndcg@{k}", dcg / idcg)
        found, ap = 0, 0.0
        for r in range(min(map_k, len(hit))):
            if hit[r]:
                found += 1
                ap += found / (r + 1)
        add(f"cosine_map@{map_k}", ap / min(map_k, len(rel)))
    return {k: v / n for k, v in sums.items()}


@unittest.skipIf(h5py is None, "needs /usr/bin/python3 with h5py and numpy")
class Eval(dt.TempDirTest):
    def setUp(self):
        super().setUp()
        self.model = model_config(self.path("model.yaml"))

    def small_set(self):
        rng = random.Random(5)
        docs = [{"_id": f"d{i}", "title": rng.choice(WORDS) if i % 3 else "",
                 "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))} for i in range(60)]
        queries = [{"_id": f"q{i}", "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))}
                   for i in range(25)]
        qrels = ["query-id\tcorpus-id\tscore"]
        for i in range(24):  # q24 has no qrels row: not evaluated
            for j in rng.sample(range(60), 1 + i % 4):
                qrels.append(f"q{i}\td{j}\t1")
        qrels.append("q3\td7\t0")            # score 0: not relevant
        qrels.append("q5\tmissing-doc\t1")   # unknown document: counted, reported
        qrels.append("q23\td0\t0")           # q23 ... keeps its other rows
        corpus = self.write_jsonl("corpus.jsonl", docs)
        qfile = self.write_jsonl("queries.jsonl", queries)
        qrels_file = self.path("qrels.tsv")
        with open(qrels_file, "w") as f:
            f.write("\r\n".join(qrels) + "\r\n")
        relevant = {}
        for line in qrels[1:]:
            q, d, s = line.split("\t")
            if int(s) > 0 and d.startswith("d"):
                relevant.setdefault(q, set()).add(int(d[1:]))
        return corpus, qfile, qrels_file, relevant

    def eval(self, *args, np=None):
        # One thread per rank at every world size: embeddings (and so rankings) are then the
        # same bits for any number of ranks (docs/model.md).
        return dt.run([dt.DISTTUNE, "eval", "--model", self.model, *args], np=np,
                      env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))

    def encode(self, inp, out, np=None):
        r = dt.run([dt.DISTTUNE, "encode", "--model", self.model, "--input", inp, "--output", out], np=np,
                   env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
        self.assertEqual(r.rc, 0, r)
        with h5py.File(out, "r") as f:
            emb = f["embeddings"][:]
            ids = [s.decode() if isinstance(s, bytes) else s for s in f["ids"][:]]
        return emb, ids

    def eval_json(self, *args, np=None):
        """disttune eval with --output: the metrics it wrote, and its output."""
        out = self.path("eval-out.json")
        r = self.eval(*args, "--output", out, np=np)
        self.assertEqual(r.rc, 0, r)
        with open(out) as f:
            return json.load(f), r.out

    def assert_metrics_close(self, got, want):
        for name, v in want.items():
            self.assertIn(name, got)
            self.assertAlmostEqual(got[name], v, delta=1e-9, msg=name)

    def test_small_set_equals_brute_force(self):
        corpus, queries, qrels, relevant = self.small_set()
        out = self.path("m.json")
        r = self.eval("--corpus", corpus, "--queries", queries, "--qrels", qrels, "--dims", "16",
                      "--output", out, "--batch-size", "7", np=2)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.count("cosine_ndcg@10"), 2, r)  # full + dim_16_, rank 0 alone
        self.assertIn("1 qrels rows name unknown documents", r.out)
        with open(out) as f:
            got = json.load(f)
        d, dids = self.encode(corpus, self.path("corpus.h5"))
        q, qids = self.encode(queries, self.path("queries.h5"))
        self.assertEqual(dids, [f"d{i}" for i in range(60)])
        rel = [relevant.get(qid, set()) for qid in qids]
        want = brute_force(q, d, rel)
        self.assertEqual(len(want), 15)
        self.assertEqual(set(n for n in got if not n.startswith("dim_")), set(want))
        self.assert_metrics_close(got, want)
        want16 = brute_force(q[:, :16], d[:, :16], rel)
        self.assert_metrics_close(got, {"dim_16_" + k: v for k, v in want16.items()})
        self.assertNotEqual(got["cosine_ndcg@10"], got["dim_16_cosine_ndcg@10"])
        # Custom cut-offs: a single k gives every metric at that k.
        r = self.eval("--corpus", corpus, "--queries", queries, "--qrels", qrels, "--k", "4",
                      "--output", out)
        self.assertEqual(r.rc, 0, r)
        with open(out) as f:
            got4 = json.load(f)
        self.assert_metrics_close(got4, brute_force(q, d, rel, ks=(4,), mrr_ndcg_k=4, map_k=4))

    def test_scifact_same_metrics_for_1_2_3_4_ranks_and_brute_force(self):
        if not os.path.exists(os.path.join(SCIFACT, "corpus.jsonl")):
            self.skipTest(f"reference data {SCIFACT} is absent")
        outs = []
        for np_ in (None, 2, 3, 4):
            out = self.path(f"scifact-{np_}.json")
            r = self.eval("--beir", SCIFACT, "--output", out, np=np_, )
            self.assertEqual(r.rc, 0, r)
            self.assertIn("300 queries over 5183 documents", r.out)
            with open(out) as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1])
        self.assertEqual(outs[0], outs[2])
        got = json.loads(outs[0])
        d, dids = self.encode(os.path.join(SCIFACT, "corpus.jsonl"), self.path("sf-corpus.h5"), np=2)
        q, qids = self.encode(os.path.join(SCIFACT, "queries.jsonl"), self.path("sf-queries.h5"), np=2)
        relevant = {}
        with open(os.path.join(SCIFACT, "qrels", "test.tsv")) as f:
            next(f)
            for line in f:
                qid, did, s = line.strip().split("\t")
                if int(s) > 0:
                    relevant.setdefault(qid, set()).add(did)
        pos = {x: i for i, x in enumerate(dids)}
        keep = [i for i, x in enumerate(qids) if x in relevant]
        rel = [{pos[x] for x in relevant[qids[i]]} for i in keep]
        self.assert_metrics_close(got, brute_force(q[keep], d, rel))

    def test_scored_pairs_and_triplets_equal_numpy(self):
        """--scored: Pearson and Spearman (average ranks for ties) of the gold scores against
        the cosine of each pair's embeddings, and with 0/1 scores the binary classification
        figures; --triplets: the fraction with cos(a, p) > cos(a, n), as float32. All at 2
        ranks, on embeddings `disttune encode` writes."""
        rng = random.Random(9)
        texts = lambda n: [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14))) for _ in range(n)]
        s1, s2, s3 = texts(40), texts(40), texts(40)
        scores = [float(rng.randint(0, 5)) for _ in range(40)]  # integer scores: ties
        # Row 41 has an empty sentence: an error naming it, or with --on-bad-row skip, skipped.
        scored = self.write_jsonl("scored.jsonl", [{"sentence1": a, "sentence2": b, "score": s}
                                                   for a, b, s in zip(s1, s2, scores)] +
                                  [{"sentence1": " ", "sentence2": "cell", "score": 1.0}])
        triplets = self.write_jsonl("triplets.jsonl", [{"anchor": a, "positive": b, "negative": c}
                                                       for a, b, c in zip(s1, s2, s3)])
        emb = []
        for i, t in enumerate((s1, s2, s3)):
            path = self.write_jsonl(f"t{i}.jsonl", [{"_id": str(j), "text": x} for j, x in enumerate(t)])
            emb.append(self.encode(path, self.path(f"t{i}.h5"))[0])
        out = self.path("m.json")
        r = self.eval("--scored", scored, "--output", out)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("scored.jsonl:41: column 'sentence1': empty text", r.err)
        r = self.eval("--scored", scored, "--dims", "16", "--batch-size", "7", "--output", out,
                      "--on-bad-row", "skip", np=2)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("41 rows read, 40 kept, 1 skipped", r.out)
        self.assertIn("40 scored pairs", r.out)
        with open(out) as f:
            got = json.load(f)
        self.assertEqual(set(got), {"pearson_cosine", "spearman_cosine", "dim_16_pearson_cosine", "dim_16_spearman_cosine"})
        for prefix, dim in (("", 32), ("dim_16_", 16)):
            cos = cosines(emb[0][:, :dim], emb[1][:, :dim])
            self.assertAlmostEqual(got[prefix + "pearson_cosine"], np.corrcoef(scores, cos)[0, 1], delta=1e-6)
            self.assertAlmostEqual(got[prefix + "spearman_cosine"],
                                   np.corrcoef(average_ranks(scores), average_ranks(cos))[0, 1], delta=1e-6)
        # Scores that are all 0 or 1 are labels: the binary classification metrics come too.
        cos = cosines(emb[0], emb[1])
        labels = [int(c + rng.gauss(0, 0.05) > np.median(cos)) for c in cos]
        binary = self.write_jsonl("binary.jsonl", [{"sentence1": a, "sentence2": b, "score": float(y)}
                                                   for a, b, y in zip(s1, s2, labels)])
        r = self.eval("--scored", binary, "--dims", "16", "--output", out, np=2)
        self.assertEqual(r.rc, 0, r)
        with open(out) as f:
            got = json.load(f)
        kinds = ["accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap", "mcc"]
        self.assertEqual(set(got), {p + n for p in ("", "dim_16_") for n in
                                    ["pearson_cosine", "spearman_cosine"] + ["cosine_" + k for k in kinds]})
        for prefix, dim in (("", 32), ("dim_16_", 16)):
            want = binary_classification(cosines(emb[0][:, :dim], emb[1][:, :dim]), np.array(labels))
            for k in kinds:
                self.assertAlmostEqual(got[prefix + "cosine_" + k], want[k], delta=1e-6, msg=prefix + k)
        self.assertTrue(0.5 < got["cosine_accuracy"] < 1 and 0 < got["cosine_mcc"] < 1, got)
        r = self.eval("--triplets", triplets, "--output", out, np=2)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("40 triplets", r.out)
        with open(out) as f:
            got = json.load(f)
        right = int((cosines(emb[0], emb[1]) > cosines(emb[0], emb[2])).sum())
        self.assertEqual(got, {"cosine_accuracy": float(np.float32(right / 40))})
        self.assertTrue(0 < right < 40, right)

    def trained_model(self, prompts=None, default=None):
        """A model directory (one training step from the random init), its
        config_sentence_transformers.json given `prompts` and `default_prompt_name`."""
        model = self.path("run/final")
        if not os.path.isdir(model):
            pairs = self.write_jsonl("pairs.jsonl", [{"anchor": f"{w} question", "positive": f"{w} answer text"}
                                                     for w in WORDS[:16]])
            cfg = self.path("train.yaml")
            with open(self.model) as f:
                model_section = f.read()
            with open(cfg, "w") as f:
                f.write(model_section + f"data:\n  train: {pairs}\n  split: {{train: 1.0, val: 0, test: 0}}\n"
                        "training:\n  max_steps: 1\n  global_batch_size: 4\neval:\n  strategy: 'no'\n"
                        f"checkpoint:\n  save_strategy: 'no'\noutput:\n  dir: {self.path('run')}\n")
            r = dt.run([dt.DISTTUNE, "train", cfg])
            self.assertEqual(r.rc, 0, r)
        st = os.path.join(model, "config_sentence_transformers.json")
        with open(st) as f:
            conf = json.load(f)
        conf["prompts"], conf["default_prompt_name"] = prompts or {}, default
        with open(st, "w") as f:
            json.dump(conf, f)
        return model

    def one_step_config(self, name, model, data, extra=""):
        """A config that trains `model` one step on `data` and tests on the same file, without
        evaluations or checkpoints, into tmp/<name>."""
        cfg = self.path(name + ".yaml")
        with open(cfg, "w") as f:
            f.write(f"model:\n  path: {model}\n  max_seq_length: 64\ndata:\n  train: {data}\n  test: {data}\n"
                    "  split: {train: 1.0, val: 0, test: 0}\ntraining:\n  max_steps: 1\n  global_batch_size: 4\n"
                    f"{extra}eval:\n  strategy: 'no'\ncheckpoint:\n  save_strategy: 'no'\n"
                    f"output:\n  dir: {self.path(name)}\n")
        return cfg

    def base_figures(self, name):
        """The base model's test figures in the report of the run in tmp/<name>."""
        with open(self.path(f"{name}/report.json")) as f:
            return {k: v["base"] for k, v in json.load(f)["metrics"].items()}

    def run_eval(self, model, out, *args):
        r = dt.run([dt.DISTTUNE, "eval", "--model", model, *args, "--output", out],
                   env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
        self.assertEqual(r.rc, 0, r)
        with open(out) as f:
            return json.load(f), r.out

    def test_model_prompts_are_those_of_encode_query_and_encode_document(self):
        """A model whose config_sentence_transformers.json has {"query": "q: ", "passage": "p: "}
        is evaluated with queries prefixed "q: " and documents "p: " (sentence-transformers'
        encode_query / encode_document): the same figures as the set with the prefixes
        written into its texts and --query-prompt "" --corpus-prompt "". Each flag overrides."""
        model = self.trained_model({"query": "q: ", "passage": "p: "})
        corpus, queries, qrels, _ = self.small_set()
        prefixed = {}
        for name, path, prefix in (("corpus", corpus, "p: "), ("queries", queries, "q: ")):
            with open(path) as f:
                rows = [json.loads(l) for l in f]
            for row in rows:  # the document text is title + " " + text, or text alone
                key = "title" if row.get("title") else "text"
                row[key] = prefix + row[key]
            prefixed[name] = self.write_jsonl(f"{name}-prefixed.jsonl", rows)
        run = lambda i, *a: self.run_eval(model, self.path(f"m{i}.json"), "--qrels", qrels, *a)
        got = [None] * 4
        got[0], out = run(0, "--corpus", corpus, "--queries", queries)
        self.assertIn('query prompt: "q: "', out)
        self.assertIn('corpus prompt: "p: "', out)
        got[1], out = run(1, "--corpus", prefixed["corpus"], "--queries", prefixed["queries"], "--query-prompt", "",
                          "--corpus-prompt", "")
        self.assertNotIn("prompt:", out)
        got[2], _ = run(2, "--corpus", prefixed["corpus"], "--queries", queries, "--corpus-prompt", "")
        got[3], _ = run(3, "--corpus", corpus, "--queries", queries, "--corpus-prompt", "")
        self.assertEqual(got[0], got[1])
        self.assertEqual(got[0], got[2])
        self.assertNotEqual(got[0], got[3])  # documents without their prompt embed otherwise
        # A config as --model brings its model.query_prompt, as training evaluates with it.
        cfg = self.path("eval-model.yaml")
        with open(cfg, "w") as f:
            f.write(f"model:\n  path: {model}\n  query_prompt: 'z: '\n")
        z, out = self.run_eval(cfg, self.path("z.json"), "--qrels", qrels, "--corpus", corpus, "--queries", queries)
        self.assertIn('query prompt: "z: "', out)
        self.assertEqual(z, run(4, "--corpus", corpus, "--queries", queries, "--query-prompt", "z: ")[0])
        self.assertNotEqual(z, got[0])

    def test_default_prompt_where_encode_gives_it(self):
        """A model with a default prompt ("x: ") is evaluated as sentence-transformers'
        evaluators embed with it: queries and documents get it where the model has no query or
        document prompt (encode_query / encode_document fall back to it), and scored pairs and
        all three triplet roles get it even where the model has query and passage prompts (its
        similarity, binary and triplet evaluators call encode). Each equals the model without
        prompts on the texts with "x: " written in."""
        rng = random.Random(4)
        texts = lambda n: [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 10))) for _ in range(n)]
        s1, s2, s3 = texts(200), texts(200), texts(200)  # triplets: enough that a count tells
        labels = [float(i % 2) for i in range(30)]
        scored, triplets = {}, {}
        for q, p in (("", ""), ("x: ", "x: "), ("q: ", "p: ")):
            scored[q] = self.write_jsonl(f"scored-{q[:1]}.jsonl", [{"sentence1": q + a, "sentence2": q + b, "score": y}
                                                                   for a, b, y in zip(s1, s2, labels)])
            triplets[q] = self.write_jsonl(f"triplets-{q[:1]}.jsonl", [{"anchor": q + a, "positive": p + b,
                                                                        "negative": p + c} for a, b, c in zip(s1, s2, s3)])
        corpus, queries, qrels, _ = self.small_set()

        def with_x(path):
            with open(path) as f:
                rows = [json.loads(l) for l in f]
            for row in rows:
                row["title" if row.get("title") else "text"] = "x: " + row["title" if row.get("title") else "text"]
            return self.write_jsonl("x-" + os.path.basename(path), rows)

        out = self.path("m.json")
        dims = ("--dims", "16,8,4")
        model = self.trained_model({"query": "q: ", "passage": "p: ", "x": "x: "}, "x")
        got_scored, log = self.run_eval(model, out, "--scored", scored[""])
        self.assertIn('prompt: "x: "', log)
        got_triplets, log = self.run_eval(model, out, "--triplets", triplets[""], *dims)
        self.assertIn('anchor prompt: "x: "', log)
        got_flags, _ = self.run_eval(model, out, "--triplets", triplets[""], *dims, "--query-prompt", "q: ",
                                     "--corpus-prompt", "p: ")
        got_ir_qp, _ = self.run_eval(model, out, "--corpus", corpus, "--queries", queries, "--qrels", qrels)
        model = self.trained_model({"x": "x: "}, "x")
        got_ir, log = self.run_eval(model, out, "--corpus", corpus, "--queries", queries, "--qrels", qrels)
        self.assertIn('query prompt: "x: "', log)
        self.assertIn('corpus prompt: "x: "', log)

        model = self.trained_model()
        self.assertEqual(got_scored, self.run_eval(model, out, "--scored", scored["x: "])[0])
        self.assertIn("cosine_ap", got_scored)
        self.assertEqual(got_triplets, self.run_eval(model, out, "--triplets", triplets["x: "], *dims)[0])
        self.assertEqual(got_flags, self.run_eval(model, out, "--triplets", triplets["q: "], *dims)[0])
        self.assertNotEqual(got_flags, got_triplets)
        self.assertEqual(got_ir, self.run_eval(model, out, "--corpus", with_x(corpus), "--queries", with_x(queries),
                                               "--qrels", qrels)[0])
        self.assertNotEqual(got_ir_qp, got_ir)  # the query and passage prompts come before the default
        # Training evaluates as disttune eval does: the base model's test figures in the report
        # of a run from the model with the default prompt are those above.
        model = self.trained_model({"query": "q: ", "passage": "p: ", "x": "x: "}, "x")
        for data, got in ((scored[""], got_scored), (triplets[""], got_triplets)):
            cfg = self.one_step_config("from-model", model, data)
            sets = (["loss.name=cosent", "data.columns={sentence1: sentence1, sentence2: sentence2, score: score}"]
                    if data == scored[""] else
                    ["loss.name=triplet", "loss.matryoshka_dims=[16,8,4]",
                     "data.columns={anchor: anchor, positive: positive, negative: negative}"])
            r = dt.run([dt.DISTTUNE, "train", cfg] + [a for x in sets for a in ("--set", x)],
                       env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
            self.assertEqual(r.rc, 0, r)
            base = self.base_figures("from-model")
            for name in ("cosine_ap", "pearson_cosine", "cosine_accuracy", "dim_4_cosine_accuracy"):
                if name in got:
                    self.assertAlmostEqual(base[name], got[name], delta=1e-6, msg=name)
        r = self.eval("--scored", scored[""], "--query-prompt", "q: ")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("--query-prompt applies to retrieval and triplet evaluation only", r.err)

    def test_dot_models(self):
        """A model whose similarity_fn_name is dot (and that does not normalise) is evaluated
        with dot products and its metrics named dot_*, as sentence-transformers' evaluators
        take the model's similarity: retrieval (also truncated to a Matryoshka dim, not
        renormalised), scored pairs, labels and triplets, against numpy on the embeddings
        `disttune encode` writes; --similarity cosine evaluates it as cosine; a model with
        another similarity is refused, and training names its metrics as evaluation does."""
        model = self.path("dot-model")
        shutil.copytree(self.trained_model(), model)
        with open(os.path.join(model, "modules.json")) as f:
            modules = [m for m in json.load(f) if "Normalize" not in m["type"]]
        with open(os.path.join(model, "modules.json"), "w") as f:
            json.dump(modules, f)
        st = os.path.join(model, "config_sentence_transformers.json")
        with open(st) as f:
            conf = json.load(f)
        conf["similarity_fn_name"] = "dot"
        with open(st, "w") as f:
            json.dump(conf, f)
        self.model = model  # encode and eval below use it
        corpus, queries, qrels, relevant = self.small_set()
        d, _ = self.encode(corpus, self.path("dot-corpus.h5"))
        q, qids = self.encode(queries, self.path("dot-queries.h5"))
        self.assertGreater(abs(np.linalg.norm(d, axis=1) - 1).max(), 0.1)  # not unit vectors
        rel = [relevant.get(qid, set()) for qid in qids]
        got, log = self.eval_json("--corpus", corpus, "--queries", queries, "--qrels", qrels, "--dims", "16", np=2)
        self.assertIn("similarity: dot", log)
        want = brute_force(q, d, rel, score="dot")
        self.assertEqual(set(n for n in got if not n.startswith("dim_")), set(want))
        self.assert_metrics_close(got, want)
        self.assert_metrics_close(got, {"dim_16_" + k: v for k, v in
                                        brute_force(q[:, :16], d[:, :16], rel, score="dot").items()})
        cosine = brute_force(q, d, rel)
        self.assertNotEqual([want["dot" + k[6:]] for k in sorted(cosine)], [cosine[k] for k in sorted(cosine)])
        self.assert_metrics_close(self.eval_json("--corpus", corpus, "--queries", queries, "--qrels", qrels,
                                                 "--similarity", "cosine")[0], cosine)

        rng = random.Random(3)
        texts = lambda n: [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in range(n)]
        s1, s2, s3 = texts(40), texts(40), texts(40)
        emb = []
        for i, t in enumerate((s1, s2, s3)):
            path = self.write_jsonl(f"dot-t{i}.jsonl", [{"_id": str(j), "text": x} for j, x in enumerate(t)])
            emb.append(self.encode(path, self.path(f"dot-t{i}.h5"))[0].astype(np.float64))
        dot = lambda a, b: (a * b).sum(1)
        scores = [float(rng.randint(0, 5)) for _ in range(40)]
        scored = self.write_jsonl("dot-scored.jsonl", [{"sentence1": a, "sentence2": b, "score": s}
                                                       for a, b, s in zip(s1, s2, scores)])
        got, _ = self.eval_json("--scored", scored, np=2)
        self.assertEqual(set(got), {"pearson_dot", "spearman_dot"})
        self.assertAlmostEqual(got["pearson_dot"], np.corrcoef(scores, dot(emb[0], emb[1]))[0, 1], delta=1e-6)
        self.assertAlmostEqual(got["spearman_dot"], np.corrcoef(average_ranks(scores),
                                                                average_ranks(dot(emb[0], emb[1])))[0, 1], delta=1e-6)
        sim = dot(emb[0], emb[1])
        labels = [int(s + rng.gauss(0, 0.05 * sim.std()) > np.median(sim)) for s in sim]
        binary = self.write_jsonl("dot-binary.jsonl", [{"sentence1": a, "sentence2": b, "score": float(y)}
                                                       for a, b, y in zip(s1, s2, labels)])
        got, _ = self.eval_json("--scored", binary)
        want = binary_classification(sim, np.array(labels))
        for k in ("accuracy", "f1", "precision", "recall", "ap", "mcc"):
            self.assertAlmostEqual(got["dot_" + k], want[k], delta=1e-6, msg=k)
        self.assertAlmostEqual(got["dot_f1_threshold"], want["f1_threshold"], delta=1e-4 * abs(want["f1_threshold"]))
        triplets = self.write_jsonl("dot-triplets.jsonl", [{"anchor": a, "positive": b, "negative": c}
                                                           for a, b, c in zip(s1, s2, s3)])
        got, _ = self.eval_json("--triplets", triplets, np=2)
        right = int((dot(emb[0], emb[1]) > dot(emb[0], emb[2])).sum())
        self.assertEqual(got, {"dot_accuracy": float(np.float32(right / 40))})
        self.assertNotEqual(right, int((cosines(emb[0], emb[1]) > cosines(emb[0], emb[2])).sum()))

        # Training from the dot model names its metrics as evaluation does, and selects by
        # dot_ndcg@10 unless told otherwise; the report's base figures are disttune eval's.
        pairs = self.write_jsonl("dot-pairs.jsonl", [{"anchor": a, "positive": b} for a, b in zip(s1, s2)])
        cfg = self.one_step_config("dot-run", model, pairs, "loss:\n  similarity: dot\n  scale: 1\n")
        evaluated = ["--set", f"data.val={pairs}", "--set", "eval.strategy=epoch"]
        v = dt.run([dt.DISTTUNE, "validate", cfg] + evaluated)
        self.assertEqual(v.rc, 0, v)
        self.assertIn("# evaluated: dot_accuracy@1, ", v.out)
        self.assertIn("; the best model by dot_ndcg@10", v.out)
        r = dt.run([dt.DISTTUNE, "train", cfg], env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
        self.assertEqual(r.rc, 0, r)
        self.assertIn("loss mnrl(dot)", r.out)
        base = self.base_figures("dot-run")
        got, _ = self.eval_json("--corpus", *self.pairs_as_ir(s1, s2))
        self.assertEqual(set(base), set(got))
        for name in got:
            self.assertAlmostEqual(base[name], got[name], delta=1e-6, msg=name)
        # --pairs builds that set from the file itself, at 1 and 2 ranks.
        for np_ in (None, 2):
            self.assertEqual(self.eval_json("--pairs", pairs, np=np_)[0], got)

        conf["similarity_fn_name"] = "euclidean"
        with open(st, "w") as f:
            json.dump(conf, f)
        r = self.eval("--triplets", triplets)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("the model's similarity_fn_name (give --similarity cosine or dot): 'euclidean': disttune "
                      "evaluates with cosine or dot similarity only", r.err)
        v = dt.run([dt.DISTTUNE, "validate", cfg])
        self.assertNotEqual(v.rc, 0, v)
        self.assertIn("eval.similarity: auto takes the model's similarity_fn_name, 'euclidean'", v.err)
        self.assertEqual(dt.run([dt.DISTTUNE, "validate", cfg, "--set", "eval.similarity=cosine"]).rc, 0)

    def pairs_as_ir(self, anchors, positives):
        """The retrieval set training builds from pairs (each distinct anchor a query, each
        distinct positive a document): --corpus FILE --queries FILE --qrels FILE."""
        docs = list(dict.fromkeys(positives))
        qs = list(dict.fromkeys(anchors))
        corpus = self.write_jsonl("ir-corpus.jsonl", [{"_id": f"d{i}", "text": t} for i, t in enumerate(docs)])
        queries = self.write_jsonl("ir-queries.jsonl", [{"_id": f"q{i}", "text": t} for i, t in enumerate(qs)])
        qrels = self.path("ir-qrels.tsv")
        with open(qrels, "w") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for a, p in set(zip(anchors, positives)):
                f.write(f"q{qs.index(a)}\td{docs.index(p)}\t1\n")
        return corpus, "--queries", queries, "--qrels", qrels

    def test_pairs(self):
        """--pairs FILE: each row's anchor is a query relevant to its own positive, the same
        positive text in two rows is one document (as training evaluates held-out pairs); the
        figures are those of the same set written as --corpus/--queries/--qrels."""
        rows = [("what is the debt ratio?", "debt over equity."), ("how much cash is there?", "cash at year end."),
                ("what is the debt ratio?", "debt over equity."), ("what was the revenue?", "cash at year end."),
                ("which segment grew?", "the cloud segment grew."), ("what about tax?", "an effective tax rate.")]
        pairs = self.write_jsonl("pairs.jsonl", [{"anchor": a, "positive": p} for a, p in rows])
        docs = list(dict.fromkeys(p for _, p in rows))
        corpus = self.write_jsonl("p-corpus.jsonl", [{"_id": f"d{i}", "text": t} for i, t in enumerate(docs)])
        queries = self.write_jsonl("p-queries.jsonl", [{"_id": f"q{i}", "text": a} for i, (a, _) in enumerate(rows)])
        qrels = self.path("p-qrels.tsv")
        with open(qrels, "w") as f:
            f.write("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{docs.index(p)}\t1\n"
                                                             for i, (_, p) in enumerate(rows)))
        want, _ = self.eval_json("--corpus", corpus, "--queries", queries, "--qrels", qrels, "--k", "1,3")
        got, out = self.eval_json("--pairs", pairs, "--k", "1,3")
        self.assertEqual(got, want)
        self.assertIn("data: " + pairs + ": pairs, 6 rows read, all kept", out)
        self.assertIn("6 queries over 4 documents", out)
        r = self.eval("--pairs", pairs, "--split", "dev")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("disttune eval: --split applies to --beir only", r.err)
        r = self.eval("--pairs", pairs, "--scored", pairs)
        self.assertIn("give one of --beir DIR (or --corpus, --queries and --qrels), --pairs FILE, --scored FILE, "
                      "--triplets FILE and --labeled FILE", r.err)

    def test_labeled(self):
        """--labeled FILE: the triplets a run builds from held-out labeled texts, with --seed its
        data.split.seed: the figure equals the base model's test accuracy in the report of a
        run on the same file, at 1 and 2 ranks; a class of one text makes no triplet."""
        model = self.trained_model()
        rng = random.Random(4)
        rows = [{"text": " ".join(rng.choice(WORDS) for _ in range(6)), "label": i % 5 if i < 39 else "alone"}
                for i in range(40)]
        labeled = self.write_jsonl("labeled.jsonl", rows)
        cfg = self.one_step_config("labeled_run", model, labeled,
                                   "loss:\n  name: batch_all_triplet\n")
        with open(cfg) as f:
            body = f.read().replace("  split: {train: 1.0, val: 0, test: 0}", "  split: {train: 1.0, val: 0, test: 0, seed: 7}")
        with open(cfg, "w") as f:
            f.write(body.replace("data:\n", "data:\n  columns: {text: text, label: label}\n"))
        r = dt.run([dt.DISTTUNE, "train", cfg])
        self.assertEqual(r.rc, 0, r)
        want = self.base_figures("labeled_run")
        self.assertEqual(set(want), {"cosine_accuracy"})
        for np_ in (1, 2):
            out_json = self.path(f"labeled-{np_}.json")
            r = dt.run([dt.DISTTUNE, "eval", "--model", model, "--labeled", labeled, "--seed", "7", "--output", out_json],
                       np=np_, env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
            self.assertEqual(r.rc, 0, r)
            out = r.out
            with open(out_json) as f:
                self.assertEqual(json.load(f), want)
            self.assertIn("data: " + labeled + ": labeled texts, 40 rows read, all kept", out)
            self.assertIn("39 triplets", out)
        # Other seeds draw other negatives and give other figures here, so the equality above
        # tests the draw, not only the accuracy.
        figures = {self.run_eval(model, self.path("labeled.json"), "--labeled", labeled, "--seed", str(s))[0]
                   ["cosine_accuracy"] for s in range(8, 11)}
        self.assertGreater(len(figures), 1, figures)
        r = self.eval("--triplets", labeled, "--seed", "3")
        self.assertIn("disttune eval: --seed applies to --labeled only", r.err)
        alone = self.write_jsonl("alone.jsonl", [{"text": "a b", "label": 1}, {"text": "c d", "label": 2}])
        r = self.eval("--labeled", alone)
        self.assertIn("no triplet (no class has 2 texts, or there is one class only)", r.err)

    def test_errors(self):
        corpus, queries, qrels, _ = self.small_set()

        def one_error(r, *parts):
            self.assertNotEqual(r.rc, 0, r)
            lines = [l for l in r.err.splitlines() if l.startswith("disttune: error:")]
            self.assertEqual(len(lines), 1, r)
            for p in parts:
                self.assertIn(p, lines[0], r)

        one_error(self.eval("--beir", self.tmp.name, "--corpus", corpus), "not both")
        one_error(self.eval("--corpus", corpus, "--queries", queries), "--qrels")
        os.mkdir(self.path("empty"))
        one_error(self.eval("--beir", self.path("empty")), "corpus.jsonl")
        one_error(self.eval("--beir", self.tmp.name), "qrels/test.tsv")  # corpus and queries exist
        one_error(self.eval("--corpus", corpus, "--queries", queries, "--qrels", qrels, "--dims", "33"),
                  "--dims", "33")
        one_error(self.eval("--corpus", corpus, "--queries", queries, "--qrels", qrels, "--k", "0"), "--k")
        dup = self.write_jsonl("dup.jsonl", [{"_id": "a", "text": "cell"}, {"_id": "a", "text": "gene"}])
        one_error(self.eval("--corpus", dup, "--queries", queries, "--qrels", qrels, np=2), "dup.jsonl:2")
        one_error(self.eval("--corpus", corpus, "--queries", queries, "--qrels", qrels,
                            "--output", self.tmp.name), "--output", "directory")
        one_error(self.eval("--scored", corpus, "--triplets", corpus), "give one of")
        one_error(self.eval("--beir", self.tmp.name, "--scored", corpus), "give one of")
        one_error(self.eval("--scored", corpus, "--k", "3"), "--k applies to retrieval evaluation only")
        one_error(self.eval("--triplets", corpus), "corpus.jsonl:1", "anchor")
        one_error(self.eval("--beir", self.tmp.name, "--on-bad-row", "skip"), "--on-bad-row applies to")
        one_error(self.eval("--triplets", corpus, "--on-bad-row", "drop"), "--on-bad-row", "drop")


if __name__ == "__main__":
    unittest.main(verbosity=2)
