"""`disttune train` end to end on a tiny model: the run directory (metrics.jsonl, checkpoints,
final/, report), N ranks x B/N = 1 rank x B, bit-exact resume, resume at another world size,
a rank killed mid-run, refused checkpoints, and `disttune export`."""
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

import dt

VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")
WORDS = ("revenue growth cash margin segment debt equity income quarter dividend capital "
         "expenses tax assets risk lease goodwill inventory pension bond credit loan audit "
         "merger royalty subsidiary warrant hedge swap option").split()


def load_json(path):
    with open(path) as f:
        return json.load(f)


def checkpoint_model(path):
    with h5py.File(path, "r") as f:
        return {n: f["model"][n][()] for n in f["model"]}


def optimizer_datasets(f):
    """Paths of every dataset under a checkpoint's /optimizer group."""
    names = []
    f["optimizer"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def metrics_rows(run_dir, split=None):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [json.loads(l) for l in f]
    return [r for r in rows if split is None or r["split"] == split]


# Extra config for runs that only train: no evaluation, no test, no checkpoints.
QUIET = "eval:\n  strategy: no\n  test: false\ncheckpoint:\n  save_strategy: no\n"
TRIPLET_COLUMNS = ["data.columns.anchor=anchor", "data.columns.positive=positive",
                   "data.columns.negative=negative"]


def assert_same_run(a, b, what):
    """Two runs' (train losses, final weights) agree to float rounding."""
    np.testing.assert_allclose(a[0], b[0], rtol=2e-5, err_msg=what)
    # atol 5e-5 = 5% of one step at lr 1e-3: AdamW moves a weight whose gradients are near its
    # eps by ~lr/2 whatever their size, so summation order alone (two layouts run products of
    # other shapes) shifts a rare embedding row by ~3e-5.
    for n, v in a[1].items():
        np.testing.assert_allclose(b[1][n], v, atol=5e-5, rtol=1e-4, err_msg=f"{what}: {n}")


def steps_of(run_dir):
    return sorted(int(os.path.basename(p)[5:13]) for p in glob.glob(f"{run_dir}/checkpoints/step-*.h5"))


class Train(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = os.path.join(cls.tmp.name, "pairs.jsonl")
        rng = random.Random(5)
        with open(cls.data, "w") as f:
            for i in range(240):
                key = " ".join(rng.choice(WORDS) for _ in range(3))
                ctx = " ".join(rng.choice(WORDS) for _ in range(12))
                neg = " ".join(rng.choice(WORDS) for _ in range(12))
                f.write(json.dumps({"anchor": f"what about {key} {i % 97}?",
                                    "positive": f"{ctx} {key} {i % 97}.",
                                    "negative": f"{neg} {(i * 7) % 97}."}) + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def config(self, name, extra=None, dropout=0.0, **training):
        """A config for a run in tmp/<name>; `training` overrides training.* keys."""
        t = {"epochs": 2, "global_batch_size": 16, "learning_rate": 1.0e-3, "scheduler": "linear",
             "warmup_ratio": 0.1, "seed": 42, "logging_steps": 1}
        t.update(training)
        run_dir = os.path.join(self.tmp.name, name)
        body = (
            f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, num_heads: 2,\n"
            f"         intermediate_size: 64, max_position: 64, seed: 0}}\n"
            f"  max_seq_length: 48\n  dropout: {dropout}\n"
            f"data:\n  train: {self.data}\n  split: {{train: 0.8, val: 0.1, test: 0.1, seed: 42}}\n"
            "training:\n" + "".join(f"  {k}: {v}\n" for k, v in t.items()) +
            f"output:\n  dir: {run_dir}\n" + (extra or ""))
        path = os.path.join(self.tmp.name, name + ".yaml")
        with open(path, "w") as f:
            f.write(body)
        return path, run_dir

    def encode(self, model, texts, extra=()):
        """`disttune encode` of `texts` with `model` (a directory or a config): [n, dim] float64."""
        inp, h5 = os.path.join(self.tmp.name, "encode_in.txt"), os.path.join(self.tmp.name, "encode_out.h5")
        with open(inp, "w") as f:
            f.write("\n".join(texts) + "\n")
        r = dt.run([dt.DISTTUNE, "encode", "--model", model, "--input", inp, "--output", h5] + list(extra))
        self.assertEqual(r.rc, 0, r)
        with h5py.File(h5, "r") as f:
            return f["embeddings"][:].astype(np.float64)

    def train(self, cfg, np=None, sets=()):
        args = [dt.DISTTUNE, "train", cfg]
        for s in sets:
            args += ["--set", s]
        r = dt.run(args, np=np, timeout=600)
        self.assertEqual(r.rc, 0, r)
        return r

    def test_run_directory(self):
        cfg, run = self.config("full", "checkpoint:\n  keep_last: 1\n", dropout=0.1)
        r = self.train(cfg)
        self.assertIn("| cosine_ndcg@10 |", r.out)
        # metrics.jsonl: train windows, one val row per epoch, the test rows of the report.
        train = metrics_rows(run, "train")
        self.assertEqual([x["step"] for x in train], list(range(1, 25)))
        self.assertTrue(all(np.isfinite(x["loss"]) for x in train))
        lrs = [x["learning_rate"] for x in train]  # warmup starts at 0 as in transformers
        self.assertEqual((lrs[0], max(lrs)), (0.0, 1.0e-3))
        self.assertLess(np.mean([x["loss"] for x in train[-6:]]), np.mean([x["loss"] for x in train[:6]]))
        val = metrics_rows(run, "val")
        self.assertEqual([(x["step"], x["epoch"]) for x in val], [(12, 1.0), (24, 2.0)])
        for name in ("cosine_ndcg@10", "cosine_mrr@10", "cosine_map@100", "cosine_accuracy@1",
                     "cosine_precision@3", "cosine_recall@10"):
            self.assertIn(name, val[0])
        test = metrics_rows(run, "test")
        self.assertEqual(sorted(x["model"] for x in test), ["base", "fine-tuned"])
        report = load_json(os.path.join(run, "report.json"))
        ndcg = report["metrics"]["cosine_ndcg@10"]
        self.assertAlmostEqual(ndcg["fine_tuned"], [x for x in test if x["model"] == "fine-tuned"][0]["cosine_ndcg@10"])
        self.assertGreater(ndcg["fine_tuned"], ndcg["base"])  # the tiny model does learn
        # Checkpoints: the last one plus the best one (which may be the same).
        best = max(val, key=lambda x: x["cosine_ndcg@10"])["step"]
        self.assertEqual(steps_of(run), sorted({best, 24}))
        with h5py.File(f"{run}/checkpoints/step-00000024.h5", "r") as f:
            a = f.attrs
            self.assertEqual((a["step"], a["epoch"], a["world_size"], a["global_batch_size"]), (24, 2, 1, 16))
            self.assertIn("format_version", a)
            self.assertIn("global_batch_size: 16", a["config"])
            self.assertAlmostEqual(json.loads(a["metrics"])["cosine_ndcg@10"], val[-1]["cosine_ndcg@10"])
            self.assertIn("embeddings.word_embeddings.weight", f["model"])
            self.assertIn("encoder.layer.0.attention.self.query.weight", f["model"])
            self.assertEqual(f["model"]["embeddings.word_embeddings.weight"].dtype, np.float32)
            for group in ("optimizer", "scheduler", "sampler", "rng"):
                self.assertIn(group, f)
        # final/ is the best model as a sentence-transformers directory.
        final = dt.read_safetensors(f"{run}/final/model.safetensors")
        ckpt = checkpoint_model(f"{run}/checkpoints/step-{best:08d}.h5")
        self.assertLessEqual(set(final), set(ckpt))
        self.assertEqual({n for n in ckpt if not n.startswith("pooler.")} - set(final), set())
        for n, v in final.items():
            np.testing.assert_array_equal(v, ckpt[n], err_msg=n)
        for f in ("modules.json", "config.json", "sentence_bert_config.json", "vocab.txt",
                  "tokenizer_config.json", "1_Pooling/config.json"):
            self.assertTrue(os.path.exists(f"{run}/final/{f}"), f)
        # `disttune export` writes the same model from a checkpoint.
        out = os.path.join(self.tmp.name, "exported")
        r = dt.run([dt.DISTTUNE, "export", "--checkpoint", f"{run}/checkpoints/step-{best:08d}.h5",
                    "--output", out])
        self.assertEqual(r.rc, 0, r)
        exported = dt.read_safetensors(f"{out}/model.safetensors")
        self.assertEqual(set(exported), set(final))
        for n, v in final.items():
            np.testing.assert_array_equal(v, exported[n], err_msg=n)
        self.assertEqual(load_json(f"{out}/modules.json"), load_json(f"{run}/final/modules.json"))

    def test_world_sizes_agree(self):
        """Dropout off: 2 and 4 ranks x 16/N rows give 1 rank x 16's losses and parameters."""
        runs = {}
        for np_ in (None, 2, 4):
            cfg, run = self.config(f"ws{np_}", "eval:\n  strategy: no\n  test: false\n"
                                   "checkpoint:\n  save_strategy: no\n", epochs=1)
            self.train(cfg, np=np_)
            runs[np_] = (np.array([x["loss"] for x in metrics_rows(run, "train")]),
                         dt.read_safetensors(f"{run}/final/model.safetensors"))
        loss1, model1 = runs[None]
        self.assertEqual(len(loss1), 12)
        for np_ in (2, 4):
            loss, model = runs[np_]
            np.testing.assert_allclose(loss, loss1, rtol=2e-5, err_msg=f"np {np_}")
            for n, v in model1.items():
                np.testing.assert_allclose(model[n], v, atol=2e-5, rtol=1e-4, err_msg=f"np {np_}: {n}")

    def test_bf16_on_cpu(self):
        """training.precision bf16 on the CPU (autocast, the step the GPU runs in bf16): at 2 ranks
        it follows the fp32 run within bf16 rounding, learns, and keeps float32 master weights;
        GradCache replays bf16 dropout; fp16 on the CPU is refused."""
        runs = {}
        for prec, np_ in (("fp32", None), ("bf16", 2)):
            cfg, run = self.config(f"prec_{prec}", QUIET, epochs=2, precision=prec)
            self.train(cfg, np=np_)
            runs[prec] = (np.array([x["loss"] for x in metrics_rows(run, "train")]),
                          dt.read_safetensors(f"{run}/final/model.safetensors"))
        (l32, m32), (l16, m16) = runs["fp32"], runs["bf16"]
        self.assertEqual(len(l16), 24)
        self.assertTrue(np.all(np.isfinite(l16)))
        # The first step has the same weights and batch: only the products' rounding differs
        # (bf16 keeps 8 bits of mantissa; the loss of 16 rows of random ids moves ~1e-3).
        np.testing.assert_allclose(l16[0], l32[0], rtol=1e-2)
        self.assertNotEqual(l16[0], l32[0])  # the products did run in bf16
        self.assertLess(np.mean(l16[-6:]), np.mean(l16[:6]))
        self.assertLess(abs(np.mean(l16[-6:]) - np.mean(l32[-6:])), 0.1 * np.mean(l32[-6:]))
        for n, v in m32.items():
            self.assertEqual(m16[n].dtype, np.float32, n)
            if n.startswith("encoder."):  # trained, and not bit-equal to fp32's
                self.assertFalse(np.array_equal(m16[n], v), n)
        # GradCache in bf16: its no-grad forward must not leave autocast's cached bf16 weight
        # casts (made without a graph) to the forward with one, or no gradient would reach them.
        cfg, run = self.config("prec_bf16_cached", QUIET + "loss:\n  name: cached_mnrl\n", epochs=2,
                               precision="bf16", mini_batch_size=2)
        self.train(cfg, np=2)
        np.testing.assert_allclose([x["loss"] for x in metrics_rows(run, "train")], l16, rtol=2e-3)
        # Dropout 0.1 on the bf16 activations (the Philox mask, model/dropout.h): GradCache with
        # the whole local batch as its one mini-batch must replay its first pass's masks, and
        # then trains as mnrl does (7e-6 apart here; masks drawn again put later steps 2e-3 apart).
        drop = {}
        for name, loss, mini in (("mnrl", "", 0), ("cached", "loss:\n  name: cached_mnrl\n", 64)):
            cfg, run = self.config(f"prec_bf16_dropout_{name}", QUIET + loss, dropout=0.1, epochs=1,
                                   precision="bf16", mini_batch_size=mini)
            self.train(cfg, np=2)
            drop[name] = np.array([x["loss"] for x in metrics_rows(run, "train")])
        self.assertTrue(np.all(np.isfinite(drop["mnrl"])))
        self.assertGreater(np.max(np.abs(drop["mnrl"] - l16[:12])), 1e-3)  # dropout did run
        np.testing.assert_allclose(drop["cached"], drop["mnrl"], rtol=1e-4)
        cfg, _ = self.config("prec_fp16", QUIET, precision="fp16")
        r = dt.run([dt.DISTTUNE, "train", cfg], timeout=120)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("fp16 needs a CUDA device", r.out + r.err)

    def final(self, name, np_=None, loss="", sets=(), **training):
        """A quiet one-epoch run: its train losses and final weights."""
        cfg, run = self.config(name, QUIET + loss, epochs=1, **training)
        self.train(cfg, np=np_, sets=sets)
        return (np.array([x["loss"] for x in metrics_rows(run, "train")]),
                dt.read_safetensors(f"{run}/final/model.safetensors"))

    def test_equivalent_batch_layouts(self):
        """Dropout off: cached_mnrl at mini-batch 2 = mnrl; accumulation splits the same way on
        1 and 2 ranks; for a loss that is a mean over rows (triplet), 2 micro-batches of B/2
        give what one batch of B gives."""

        final, same = self.final, assert_same_run
        mnrl = final("mnrl")
        same(mnrl, final("cached", 2, "loss:\n  name: cached_mnrl\n", mini_batch_size=2), "cached_mnrl")
        accum = final("accum1", gradient_accumulation_steps=2)
        self.assertFalse(np.allclose(accum[0], mnrl[0]))  # half the in-batch negatives
        same(accum, final("accum2", 2, gradient_accumulation_steps=2), "accumulation on 2 ranks")
        one = final("triplet1", loss="loss:\n  name: triplet\n", sets=TRIPLET_COLUMNS)
        same(one, final("triplet2", 2, "loss:\n  name: triplet\n", sets=TRIPLET_COLUMNS,
                        gradient_accumulation_steps=2), "triplet accumulation")

    def test_gist(self):
        """GISTEmbedLoss with a guide model (loss.guide): the loss sees the global batch, so 1
        and 2 ranks (1 and 4 with a hard-negative column and Matryoshka) give the same run, as
        does cached_gist (GradCache) at mini-batches of 2; the
        guide's embeddings decide it (another guide, another run); the model learns; a guide
        that takes fewer tokens, or tokenizes otherwise, reads the texts itself; gist's keys
        on another loss are refused."""
        guides = {}
        for name, steps in (("trained", 12), ("barely", 1)):
            cfg, run = self.config(f"gist_guide_{name}", QUIET, max_steps=steps)
            self.train(cfg)
            guides[name] = f"{run}/final"
        gist = lambda guide, extra="": f"loss:\n  name: gist\n  guide: {guides[guide]}\n{extra}"
        one = self.final("gist1", loss=gist("trained"))
        assert_same_run(one, self.final("gist2", 2, gist("trained")), "gist, 1 and 2 ranks")
        # GradCache around it (cached_gist) at mini-batches of 2 is the same run.
        assert_same_run(one, self.final("cached_gist2", 2, gist("trained").replace("name: gist", "name: cached_gist"),
                                        mini_batch_size=2), "cached_gist at mini-batch 2, 2 ranks")
        other = self.final("gist_other_guide", loss=gist("barely"))
        self.assertGreater(np.max(np.abs(other[0] - one[0])), 1e-3)
        extra = "  margin: 0.05\n  temperature: 0.05\n  matryoshka_dims: [32, 16]\n"
        assert_same_run(self.final("gist_mat1", loss=gist("trained", extra), sets=TRIPLET_COLUMNS),
                        self.final("gist_mat2", 4, gist("trained", extra), sets=TRIPLET_COLUMNS),
                        "gist with a negative and Matryoshka, 1 and 4 ranks")

        cfg, run = self.config("gist_eval", gist("trained") + "eval:\n  bm25_baseline: false\n")
        r = self.train(cfg, np=2)
        self.assertIn(f"guide: {guides['trained']} (bert, dim 32, the model's token ids)", r.out)
        rep = load_json(f"{run}/report.json")["metrics"]["cosine_ndcg@10"]
        self.assertGreater(rep["fine_tuned"], rep["base"] + 0.05, rep)

        def refused(sets, *parts, command="train"):
            r = dt.run([dt.DISTTUNE, command, cfg] + [a for x in sets for a in ("--set", x)], timeout=120)
            self.assertNotEqual(r.rc, 0, r)
            for p in parts:
                self.assertIn(p, r.err)
        refused(["loss.guide=''"], "loss.guide: is required by loss.name: gist", command="validate")
        refused(["loss.name=mnrl"], "loss.guide: only gist and cached_gist read it, not mnrl")

        # A guide that takes fewer tokens than the model, or tokenizes otherwise, reads the
        # texts (with their training prompts) through its own tokenizer. At 40 tokens, more
        # than any text here has, it reads the ids the model reads: the same run.
        def guide_copy(name, edit):
            copy = os.path.join(self.tmp.name, f"guide_{name}")
            shutil.copytree(guides["trained"], copy)
            edit(copy)
            return copy

        def shorter(d):
            conf = load_json(os.path.join(d, "sentence_bert_config.json"))
            conf["max_seq_length"] = 40
            with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
                json.dump(conf, f)

        def swap_two_words(d):  # "revenue" and "growth" trade ids
            with open(os.path.join(d, "vocab.txt")) as f:
                vocab = f.read().split("\n")
            i, j = vocab.index("revenue"), vocab.index("growth")
            vocab[i], vocab[j] = vocab[j], vocab[i]
            with open(os.path.join(d, "vocab.txt"), "w") as f:
                f.write("\n".join(vocab))
        prompts = ["training.prompts={anchor: 'query: '}"]
        prompted = self.final("gist_prompted", loss=gist("trained"), sets=prompts)
        self.assertGreater(np.max(np.abs(prompted[0] - one[0])), 1e-3)
        guides["short"], guides["swapped"] = guide_copy("short", shorter), guide_copy("swapped", swap_two_words)
        cfg, run = self.config("gist_short", QUIET + gist("short"), epochs=1)
        r = self.train(cfg, np=2, sets=prompts)
        self.assertIn(f"guide: {guides['short']} (bert, dim 32, its own tokenizer, 40 tokens)", r.out)
        short = (np.array([x["loss"] for x in metrics_rows(run, "train")]),
                 dt.read_safetensors(f"{run}/final/model.safetensors"))
        assert_same_run(prompted, short, "gist with a guide that tokenizes the texts itself")
        swapped = self.final("gist_swapped", loss=gist("swapped"))
        self.assertGreater(np.max(np.abs(swapped[0] - one[0])), 1e-3)

        # A datasets: entry whose loss is gist shares the run's guide; another guide is refused.
        def entry(guide):
            return f"datasets:\n  more:\n    train: {self.data}\n    loss: {{name: gist, guide: {guides[guide]}}}\n"
        cfg = self.config("gist_datasets", QUIET + gist("trained") + entry("trained"), max_steps=4)[0]
        self.assertIn("loss data: gist, more: gist", self.train(cfg, np=2).out)
        cfg = self.config("gist_datasets_refused", QUIET + gist("trained") + entry("barely"))[0]
        r = dt.run([dt.DISTTUNE, "train", cfg], timeout=120)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn(f"datasets.more: loss.guide: differs from loss.guide ('{guides['trained']}'): a run loads "
                      "one frozen model for its losses", r.err)

    def test_short_batches_under_accumulation(self):
        """An epoch's last batch is shorter than the others (192 training rows): micro-batches
        keep global_batch_size / accumulation rows and the last batch has fewer of them. At 160
        pairs x 40 micro-steps the last batch of 32 rows is 8 micro-batches of 4 (split into 40
        parts it left 8 of them empty, which MNRL cannot score). For triplet, a mean over rows,
        each micro-batch counts by its share of the rows, so 5 micro-batches of 8 still give
        one batch's step on the last batch of 32 (4 x 8 here; in 5 parts 7, 7, 6, 6, 6 of equal
        weight they did not)."""
        cfg, run = self.config("accum_tail", QUIET, epochs=1, global_batch_size=160,
                               gradient_accumulation_steps=40)
        self.train(cfg, np=2)
        losses = [x["loss"] for x in metrics_rows(run, "train")]
        self.assertEqual(len(losses), 2)
        self.assertTrue(all(np.isfinite(losses)), losses)

        one, five = (self.final(f"triplet_tail{accum}", loss="loss:\n  name: triplet\n", sets=TRIPLET_COLUMNS,
                                global_batch_size=40, gradient_accumulation_steps=accum) for accum in (1, 5))
        self.assertEqual(len(one[0]), 5)
        assert_same_run(one, five, "triplet, 40 x 5 against 40 x 1")

    def test_scored_pairs(self):
        """CoSENT, AnglE, CosineSimilarityLoss, contrastive and online contrastive train on
        scored pairs (sentence1,
        sentence2, score) from the command line at np 2 on pairs whose label is whether they
        share a key: the loss falls,
        each epoch evaluates the held-out pairs as sentence-transformers'
        EmbeddingSimilarityEvaluator does (Pearson / Spearman of the cosine against the
        score, spearman_cosine selecting the best model) and, the scores being 0/1 labels, as
        its BinaryClassificationEvaluator does (cosine_ap selecting the best model when
        eval.metric says so); the report compares the base and the fine-tuned model on the
        test pairs."""
        data = os.path.join(self.tmp.name, "scored.jsonl")
        rng = random.Random(11)
        keys = [" ".join(rng.choice(WORDS) for _ in range(2)) for _ in range(40)]
        with open(data, "w") as f:
            for i in range(320):
                k, other = keys[i % 40], keys[(i * 7 + 3) % 40]
                same = i % 2 == 0
                f.write(json.dumps({"sentence1": f"what about {k}?",
                                    "sentence2": " ".join(rng.choice(WORDS) for _ in range(8)) +
                                    f" {k if same else other}.", "score": 1.0 if same else 0.0}) + "\n")
        columns = "data.columns={sentence1: sentence1, sentence2: sentence2, score: score}"
        binary = ["cosine_" + k for k in ("accuracy", "accuracy_threshold", "f1", "f1_threshold",
                                          "precision", "recall", "ap", "mcc")]
        for loss, metric in (("cosent", "spearman_cosine"), ("angle", "spearman_cosine"),
                             ("cosine_similarity", "spearman_cosine"), ("contrastive", "cosine_ap"),
                             ("online_contrastive", "cosine_ap")):
            cfg, run = self.config(f"scored_{loss}", f"loss:\n  name: {loss}\n", epochs=4)
            r = self.train(cfg, np=2, sets=[f"data.train={data}", columns, "loss.matryoshka_dims=[16]"] +
                           (["eval.metric=cosine_ap"] if metric == "cosine_ap" else []))
            self.assertIn("train 256 rows, val 32 scored pairs, test 32 scored pairs", r.out)
            self.assertNotIn("no evaluation", r.out + r.err)
            losses = [x["loss"] for x in metrics_rows(run, "train")]
            self.assertTrue(all(np.isfinite(losses)), losses)
            # The last epoch's 16 steps against the first's (cosent 3.93 -> 0.09, contrastive
            # 0.027 -> 0.007, online_contrastive 0.69 -> 0.03 when written).
            self.assertLess(np.mean(losses[-16:]), 0.6 * np.mean(losses[:16]), f"{loss}: {losses}")
            names = {p + n for p in ("", "dim_16_") for n in ["pearson_cosine", "spearman_cosine"] + binary}
            val = metrics_rows(run, "val")
            self.assertEqual([x["epoch"] for x in val], [1, 2, 3, 4])  # eval.strategy: epoch
            for row in val:
                self.assertEqual(set(row) - {"step", "epoch", "split"}, names)
                # Counts over the 32 held-out pairs; F1 from the precision and recall beside it.
                self.assertAlmostEqual(row["cosine_accuracy"] * 32, round(row["cosine_accuracy"] * 32), places=9)
                p, rc = row["cosine_precision"], row["cosine_recall"]
                self.assertAlmostEqual(row["cosine_f1"], 2 * p * rc / (p + rc), places=12)
            # The best validation figure of the selecting metric is the model exported: its
            # checkpoint's metrics are those of the best row.
            best = max(val, key=lambda x: x[metric])
            with h5py.File(f"{run}/checkpoints/step-{best['step']:08d}.h5", "r") as f:
                saved = json.loads(f.attrs["metrics"])
            self.assertEqual(saved[metric], best[metric])
            rep = load_json(f"{run}/report.json")
            self.assertEqual(rep["split"], "test split: 32 scored pairs")
            self.assertEqual(set(rep["metrics"]), names)
            tuned, base = rep["metrics"]["spearman_cosine"]["fine_tuned"], rep["metrics"]["spearman_cosine"]["base"]
            # Written: 0.64 -> 0.85 for both losses (the shared key's tokens already bring a
            # random model's embeddings together). AnglE optimises the angle similarity, not
            # the cosine these metrics use, and moves it less in these 64 steps (0.64 -> 0.68).
            self.assertGreater(tuned, base + (0.02 if loss == "angle" else 0.15), f"{loss}: {rep}")
            # Written: cosine_ap 0.80 -> 0.99 (cosent), 0.80 -> 1.00 (contrastive), 0.88 -> 0.90 (angle).
            self.assertGreater(rep["metrics"]["cosine_ap"]["fine_tuned"], rep["metrics"]["cosine_ap"]["base"])
            if loss != "angle":
                self.assertGreater(tuned, 0.8, f"{loss}: {rep}")
                self.assertGreater(rep["metrics"]["cosine_ap"]["fine_tuned"], 0.9, f"{loss}: {rep}")
            self.assertIn("| spearman_cosine |", r.out)
            self.assertIn("| cosine_ap |", r.out)
            self.assertRegex(r.out, r"\| cosine_f1_threshold \| [-0-9.]+ \| [-0-9.]+ \|  \|")
            test = metrics_rows(run, "test")
            self.assertEqual(sorted(x["model"] for x in test), ["base", "fine-tuned"])
            self.assertTrue(os.path.exists(f"{run}/final/model.safetensors"))
        # The evaluation does not depend on the world size: the base model's figures at np 1
        # are those at np 2.
        cfg, run = self.config("scored_np1", "loss:\n  name: cosent\n", epochs=1)
        self.train(cfg, sets=[f"data.train={data}", columns, "loss.matryoshka_dims=[16]"])
        one = load_json(f"{run}/report.json")["metrics"]
        for name, v in rep["metrics"].items():
            self.assertEqual(one[name]["base"], v["base"], name)
        # Held-out files (data.val, data.test) instead of a split of data.train. A graded score
        # (0.5) in one of them: the scores are no longer labels, so only the correlations are
        # evaluated, and a binary classification metric cannot select the best model.
        val, test = os.path.join(self.tmp.name, "scored_val.jsonl"), os.path.join(self.tmp.name, "scored_test.jsonl")
        with open(data) as f:
            lines = f.readlines()
        graded = json.loads(lines[25])
        graded["score"] = 0.5
        for path, part in ((val, lines[:24]), (test, lines[24:25] + [json.dumps(graded) + "\n"] + lines[26:40])):
            with open(path, "w") as g:
                g.writelines(part)
        cfg, run = self.config("scored_files", "loss:\n  name: cosent\n", epochs=1)
        sets = [f"data.train={data}", columns, f"data.val={val}", f"data.test={test}"]
        r = self.train(cfg, sets=sets)
        self.assertIn("train 320 rows, val 24 scored pairs, test 16 scored pairs", r.out)
        self.assertEqual([set(x) - {"step", "epoch", "split"} for x in metrics_rows(run, "val")],
                         [{"pearson_cosine", "spearman_cosine"}])
        self.assertEqual(load_json(f"{run}/report.json")["split"], "test split: 16 scored pairs")
        for command in ("train", "validate"):
            r = dt.run([dt.DISTTUNE, command, cfg] + [a for s in sets + ["eval.metric=cosine_ap"] for a in ("--set", s)],
                       timeout=120)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("'cosine_ap' is a binary classification metric, evaluated only when every score in "
                          "the data is 0 or 1", r.err)
        # One validation pair has no correlation (NaN, written null): no model is the best, and
        # a run resumed from a checkpoint holding those metrics goes on.
        one = os.path.join(self.tmp.name, "scored_one.jsonl")
        with open(one, "w") as g:
            g.write(lines[0])
        sets = [f"data.train={data}", columns, f"data.val={one}", "training.max_steps=6", "eval.strategy=steps",
                "eval.steps=3", "checkpoint.save_strategy=steps", "checkpoint.save_steps=3"]
        cfg, run = self.config("scored_nan", "loss:\n  name: cosent\n")
        r = self.train(cfg, sets=sets)
        self.assertIn("eval step 6: spearman_cosine nan (no best yet)", r.out)
        self.assertEqual([x["spearman_cosine"] for x in metrics_rows(run, "val")], [None, None])
        os.remove(f"{run}/checkpoints/step-00000006.h5")
        shutil.rmtree(f"{run}/final")
        r = self.train(cfg, sets=sets)
        self.assertIn("resumed from", r.out)
        self.assertTrue(os.path.exists(f"{run}/final/model.safetensors"))
        # eval.metric must be one the scored pairs give.
        cfg, run = self.config("scored_bad_metric", "loss:\n  name: cosent\n")
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", f"data.train={data}", "--set", columns,
                    "--set", "eval.metric=cosine_ndcg@10"], timeout=120)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("eval.metric", r.err)
        self.assertIn("'cosine_ndcg@10' is not among the metrics evaluated: cosine_accuracy, "
                      "cosine_accuracy_threshold, cosine_ap,", r.err)
        self.assertIn("pearson_cosine, spearman_cosine", r.err)
        # validate lists what a run evaluates: here the binary metrics too, and which selects.
        r = dt.run([dt.DISTTUNE, "validate", cfg, "--set", f"data.train={data}", "--set", columns], timeout=120)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("# evaluated: cosine_accuracy, cosine_accuracy_threshold, cosine_ap, cosine_f1, "
                      "cosine_f1_threshold, cosine_mcc, cosine_precision, cosine_recall, pearson_cosine, "
                      "spearman_cosine; the best model by spearman_cosine\n", r.out)
        # A threshold is where the evaluator would cut, not a score to maximise.
        r = dt.run([dt.DISTTUNE, "validate", cfg, "--set", f"data.train={data}", "--set", columns,
                    "--set", "eval.metric=cosine_f1_threshold"], timeout=120)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("'cosine_f1_threshold' is a similarity threshold", r.err)

    def test_margin_mse(self):
        """MarginMSELoss and DistillKLDivLoss on (anchor, positive, negatives, score): the first
        step's loss is sentence-transformers' formula on the embeddings `disttune encode` gives
        of the same rows (the whole data set in one global batch at np 2): teacher scores [pos,
        neg_1, neg_2] as a list for both, and one margin per row with the cosine; over more
        steps the MSE falls; mappings that a loss does not fit are refused naming what would
        fit."""
        rng = random.Random(5)

        def text(n):
            return " ".join(rng.choice(WORDS) for _ in range(n))

        rows = [{"q": f"what about {text(2)}?", "p": text(6), "n1": text(6), "n2": text(5),
                 "teacher": [rng.uniform(5, 9), rng.uniform(0, 6), rng.uniform(-2, 4)]} for _ in range(24)]
        lists, single = os.path.join(self.tmp.name, "mm_lists.jsonl"), os.path.join(self.tmp.name, "mm_single.csv")
        with open(lists, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        with open(single, "w") as f:
            f.write("q,p,n1,margin\n" + "".join(f"{r['q']},{r['p']},{r['n1']},{r['teacher'][0] - r['teacher'][1]!r}\n"
                                                for r in rows))
        model_cfg = self.config("mm_model")[0]
        q, p, n1, n2 = (self.encode(model_cfg, [r[role] for r in rows]) for role in ("q", "p", "n1", "n2"))
        teacher = np.array([r["teacher"] for r in rows])
        unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
        dot = lambda a, b: (a * b).sum(1)
        want_lists = np.mean((np.stack([dot(q, p) - dot(q, n1), dot(q, p) - dot(q, n2)], 1) -
                              (teacher[:, :1] - teacher[:, 1:])) ** 2)
        want_single = np.mean((dot(unit(q), unit(p)) - dot(unit(q), unit(n1)) - (teacher[:, 0] - teacher[:, 1])) ** 2)

        def log_softmax(x):
            x = x - x.max(1, keepdims=True)
            return x - np.log(np.exp(x).sum(1, keepdims=True))
        student = np.stack([dot(q, p), dot(q, n1), dot(q, n2)], 1)
        want_kl = np.mean((np.exp(log_softmax(teacher)) * (log_softmax(teacher) - log_softmax(student))).sum(1))
        one_step = ["data.split={train: 1.0, val: 0, test: 0}", "training.max_steps=1", "training.global_batch_size=24"]
        lists_cols = ("data.columns={anchor: q, positive: p, negative: n1, negative_2: n2, score: teacher}")
        single_cols = "data.columns={anchor: q, positive: p, negative: n1, score: margin}"
        for name, data, cols, sets, want in (
                ("mm_lists", lists, lists_cols, [], want_lists),
                ("mm_single", single, single_cols, ["loss.similarity=cosine"], want_single),
                ("kl_lists", lists, lists_cols, ["loss.name=distill_kl_div"], want_kl)):
            cfg, run = self.config(name, "loss:\n  name: margin_mse\n" + QUIET)
            r = self.train(cfg, np=2, sets=[f"data.train={data}", cols] + one_step + sets)
            self.assertIn("triplets with scores, 24 rows read, all kept", r.out)
            got = metrics_rows(run, "train")[0]["loss"]
            self.assertAlmostEqual(got / want, 1.0, delta=1e-5, msg=f"{name}: {got} vs {want}")
        # Training moves the student's margins toward the teacher's (written: the mean of the
        # first three steps 26.9, of the last three 14.1, in 24 steps of 8 rows).
        cfg, run = self.config("mm_train", "loss:\n  name: margin_mse\n" + QUIET, epochs=8)
        self.train(cfg, np=2, sets=[f"data.train={lists}", lists_cols, "data.split={train: 1.0, val: 0, test: 0}",
                                    "training.global_batch_size=8", "training.learning_rate=2e-2"])
        losses = [x["loss"] for x in metrics_rows(run, "train")]
        self.assertLess(np.mean(losses[-3:]), 0.65 * np.mean(losses[:3]), losses)
        # Held-out files need the texts only: the teacher's scores are not evaluated.
        plain = os.path.join(self.tmp.name, "mm_plain.jsonl")
        with open(plain, "w") as f:
            f.writelines(json.dumps({k: r[k] for k in ("q", "p", "n1", "n2")}) + "\n" for r in rows)
        cfg, _ = self.config("mm_heldout", "loss:\n  name: margin_mse\n")
        r = dt.run([dt.DISTTUNE, "validate", cfg, "--set", f"data.train={lists}", "--set", lists_cols,
                    "--set", f"data.val={plain}", "--set", f"data.test={plain}"], timeout=120)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(f"# data.val: triplets, 24 rows read, all kept", r.out)
        # What does not fit is refused before any data is tokenized, by validate and train alike.
        for command in ("validate", "train"):
            for sets, message in (
                    (["loss.name=margin_mse", f"data.train={lists}",
                      "data.columns={anchor: q, positive: p, negative: n1, score: teacher}"],
                     "data.columns: margin_mse on 1 negative takes 1 margin or 2 scores (positive first) per row; "
                     f"the score column of {lists} holds 3"),
                    (["loss.name=distill_kl_div", f"data.train={single}", single_cols],
                     "data.columns: distill_kl_div on 1 negative takes 2 scores (positive first) per row; "
                     f"the score column of {single} holds 1"),
                    (["loss.name=margin_mse", f"data.train={lists}", "data.columns={anchor: q, positive: p, negative: n1}"],
                     "loss.name: margin_mse needs a score column beside the texts"),
                    (["loss.name=mnrl", f"data.train={lists}", lists_cols],
                     "data.columns: maps a score beside anchor, positive and negatives, which mnrl does not read "
                     "(margin_mse and distill_kl_div do)"),
                    (["loss.name=cosent", f"data.train={lists}", lists_cols],
                     "loss.name: cosent takes 2 text columns; data.columns maps 4 (triplets)"),
                    (["loss.name=triplet", "loss.similarity=dot"], "loss.similarity: only mnrl, cached_mnrl, "
                                                                   "margin_mse and distill_kl_div take a similarity, "
                                                                   "not triplet")):
                cfg, _ = self.config("mm_refused")
                r = dt.run([dt.DISTTUNE, command, cfg] + [a for s in sets for a in ("--set", s)], timeout=120)
                self.assertNotEqual(r.rc, 0, r)
                self.assertIn(message, r.err)
                self.assertNotIn("tokeniz", r.out)

    def test_mse(self):
        """MSELoss with a teacher (loss.teacher): the first step's loss at np 2 over the whole
        data set is the mean squared difference between the student's embeddings (of every
        column) and the teacher's embedding of the row's first text, both as `disttune encode`
        gives them, for plain texts and for pairs; training brings the student to the teacher;
        a teacher of another dimension, Matryoshka and a missing teacher are refused."""
        cfg, run = self.config("mse_teacher", QUIET, max_steps=12)
        self.train(cfg)
        teacher = f"{run}/final"
        rng = random.Random(8)
        rows = [(" ".join(rng.choice(WORDS) for _ in range(5)), " ".join(rng.choice(WORDS) for _ in range(7)))
                for _ in range(24)]
        texts, pairs = os.path.join(self.tmp.name, "mse_texts.jsonl"), os.path.join(self.tmp.name, "mse_pairs.jsonl")
        with open(texts, "w") as f:
            f.writelines(json.dumps({"sentence": a}) + "\n" for a, _ in rows)
        with open(pairs, "w") as f:
            f.writelines(json.dumps({"english": a, "other": b}) + "\n" for a, b in rows)

        def embed(model, column):
            return self.encode(model, [r[column] for r in rows])

        student_cfg = self.config("mse_student")[0]
        target = embed(teacher, 0)
        s0, s1 = embed(student_cfg, 0), embed(student_cfg, 1)
        want = {"texts": np.mean((s0 - target) ** 2), "pairs": np.mean(np.concatenate([s0 - target, s1 - target]) ** 2)}

        # MatryoshkaLoss: the student's embeddings cut and renormalised, the teacher's cut.
        def shrink(x, dim):
            return x[:, :dim] / np.linalg.norm(x[:, :dim], axis=1, keepdims=True)
        want["matryoshka"] = sum(w * np.mean(np.concatenate([shrink(s0, dim) - target[:, :dim],
                                                             shrink(s1, dim) - target[:, :dim]]) ** 2)
                                 for dim, w in ((32, 1.0), (8, 0.5)))
        mse = f"loss:\n  name: mse\n  teacher: {teacher}\n"
        one_step = ["data.split={train: 1.0, val: 0, test: 0}", "training.max_steps=1", "training.global_batch_size=24"]
        pair_cols = "data.columns={anchor: english, positive: other}"
        for name, data, cols, sets in (
                ("texts", texts, "data.columns={text: sentence}", []),
                ("pairs", pairs, pair_cols, []),
                ("matryoshka", pairs, pair_cols, ["loss.matryoshka_dims=[8, 32]", "loss.matryoshka_weights=[0.5, 1]"])):
            cfg, run = self.config(f"mse_{name}", mse + QUIET)
            r = self.train(cfg, np=2, sets=[f"data.train={data}", cols] + one_step + sets)
            self.assertIn(f"teacher: {teacher} (bert, dim 32, the model's token ids)", r.out)
            got = metrics_rows(run, "train")[0]["loss"]
            self.assertAlmostEqual(got / want[name], 1.0, delta=1e-5, msg=f"{name}: {got} vs {want[name]}")
        # Over two epochs of the class's pairs the student comes to the teacher.
        cfg, run = self.config("mse_train", mse + QUIET)
        self.train(cfg, np=2)
        losses = [x["loss"] for x in metrics_rows(run, "train")]
        self.assertLess(np.mean(losses[-3:]), 0.5 * np.mean(losses[:3]), losses)
        for command, sets, message in (
                ("train", ["model.init.hidden_size=16"],
                 "loss.teacher: the teacher embeds in 32 dimensions and the model in 16; mse regresses one onto the other"),
                ("validate", ["loss.teacher=''"], "loss.teacher: is required by loss.name: mse (the teacher model's directory)"),
                ("validate", ["loss.name=mnrl"], "loss.teacher: only mse reads it, not mnrl")):
            r = dt.run([dt.DISTTUNE, command, cfg] + [a for s in sets for a in ("--set", s)], timeout=120)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn(message, r.err)

    def test_batch_triplet_losses(self):
        """The batch triplet losses on labeled texts: the first step's loss at np 2 over the whole
        data set equals numpy's formula on `disttune encode` embeddings (euclidean and cosine,
        with and without a margin); group_by_label at 1 and 2 ranks is one run, which lifts the
        held-out triplets' accuracy; data and samplers that do not fit are refused."""
        rng = random.Random(12)
        topics = [WORDS[2 * c:2 * c + 2] for c in range(8)]
        rows = []
        for i in range(88):
            c = rng.randrange(8) if i >= 16 else i % 8  # every class at least twice
            words = topics[c] + [rng.choice(WORDS) for _ in range(4)]
            rng.shuffle(words)
            rows.append((" ".join(words) + f" {i}", c))
        labeled = os.path.join(self.tmp.name, "labeled.jsonl")
        with open(labeled, "w") as f:
            # Labels as strings and integers: a class is its written label.
            f.writelines(json.dumps({"sentence": t, "topic": f"t{c}" if c % 2 else c}) + "\n" for t, c in rows)
        labels = np.array([c for _, c in rows])
        start_cfg = self.config("batch_start")[0]
        e = self.encode(start_cfg, [t for t, _ in rows])

        def euclidean(x):
            return np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0))

        def cosine(x):
            u = x / np.linalg.norm(x, axis=1, keepdims=True)
            return 1 - u @ u.T

        same = labels[:, None] == labels[None, :]
        pos = same & ~np.eye(len(rows), dtype=bool)

        def hard(d, m):
            hp = np.where(pos, d, 0).max(1)
            hn = np.where(same, np.inf, d).min(1)
            return np.mean(np.maximum(hp - hn + m, 0)), np.mean(np.log1p(np.exp(hp - hn)))

        def semi_hard(d, m):
            total = 0.0
            for i, p in zip(*np.nonzero(pos)):
                negs = d[i][~same[i]]
                beyond = negs[negs > d[i, p]]
                n = beyond.min() if beyond.size else negs.max()
                total += max(d[i, p] - n + m, 0)
            return total / pos.sum()

        def batch_all(d, m):
            t = d[:, :, None] - d[:, None, :] + m
            t = t[pos[:, :, None] & ~same[:, None, :]]
            return t[t > 1e-16].sum() / (t > 1e-16).sum()

        de, dc = euclidean(e), cosine(e)
        want = {"batch_hard_triplet": hard(de, 5.0)[0], "batch_hard_soft_margin_triplet": hard(de, 0)[1],
                "batch_semi_hard_triplet": semi_hard(de, 1.0), "batch_all_triplet": batch_all(dc, 0.5)}
        extra = {"batch_semi_hard_triplet": ["loss.margin=1"],
                 "batch_all_triplet": ["loss.distance=cosine", "loss.margin=0.5"]}
        cols = ["data.columns={text: sentence, label: topic}", f"data.train={labeled}"]
        for name, value in want.items():
            cfg, run = self.config(f"batch_{name}", QUIET)
            self.train(cfg, np=2, sets=cols + [f"loss.name={name}", "data.split={train: 1.0, val: 0, test: 0}",
                                               "training.max_steps=1", "training.global_batch_size=88"]
                       + extra.get(name, []))
            got = metrics_rows(run, "train")[0]["loss"]
            self.assertAlmostEqual(got / value, 1.0, delta=1e-5, msg=f"{name}: {got} vs {value}")

        # group_by_label: one run at 1 and 2 ranks; the held-out texts' triplets (anchor,
        # another text of its class, a text of another class) are better told apart after it.
        results = []
        for np_ in (1, 2):
            cfg, run = self.config(f"batch_grouped_{np_}", "eval:\n  on_start: true\ncheckpoint:\n  save_strategy: no\n",
                                   epochs=6, global_batch_size=16)
            r = self.train(cfg, np=np_, sets=cols + ["loss.name=batch_hard_triplet", "training.batch_sampler=group_by_label",
                                                     "data.split={train: 0.6, val: 0.4, test: 0, seed: 42}"])
            self.assertIn("data: train 53 rows, val 35 triplets of 35 texts", r.out)
            val = metrics_rows(run, "val")
            results.append([x["loss"] for x in metrics_rows(run, "train")])
            self.assertIn("cosine_accuracy", val[0])
            self.assertGreater(max(x["cosine_accuracy"] for x in val[1:]), val[0]["cosine_accuracy"], val)
        np.testing.assert_allclose(results[0], results[1], rtol=2e-5)

        cfg = self.config("batch_refused", QUIET)[0]
        for sets, message in (
                (["loss.name=batch_hard_triplet"], "loss.name: batch_hard_triplet needs labeled texts (data.columns text "
                                                   "and label: a class per text)"),
                (cols, "data.columns: maps a label beside the texts, which mnrl does not read"),
                (["training.batch_sampler=group_by_label"], "training.batch_sampler: group_by_label needs labeled texts"),
                (cols + ["loss.name=batch_all_triplet", "training.batch_sampler=group_by_label",
                         "training.global_batch_size=15"], "group_by_label needs an even training.global_batch_size of 4 or more, got 15"),
                (cols + ["loss.name=batch_all_triplet", "loss.distance=manhattan"],
                 "loss.distance: batch_all_triplet takes euclidean or cosine")):
            for command in ("validate", "train"):
                r = dt.run([dt.DISTTUNE, command, cfg] + [a for s in sets for a in ("--set", s)], timeout=120)
                self.assertNotEqual(r.rc, 0, r)
                self.assertIn(message, r.err, command)

    def test_held_out_columns(self):
        """data.val_columns / data.test_columns map the held-out files apart from data.train: a
        run on labeled texts is evaluated by retrieval on pairs, with the figures `disttune eval
        --pairs` gives on the test file; held-out files of two formats, and a mapping without
        its file, are refused."""
        with open(self.data) as f:
            rows = [json.loads(l) for l in f]
        labeled = os.path.join(self.tmp.name, "held_out_labeled.jsonl")
        with open(labeled, "w") as f:
            f.writelines(json.dumps({"t": r["positive"], "c": i % 12}) + "\n" for i, r in enumerate(rows[80:]))
        val, test = (os.path.join(self.tmp.name, f"held_out_{n}.jsonl") for n in ("val", "test"))
        for path, part in ((val, rows[:40]), (test, rows[40:80])):
            with open(path, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in part)
        cfg, run = self.config("held_out_columns", "eval:\n  strategy: steps\n  steps: 3\ncheckpoint:\n  save_strategy: 'no'\n",
                               max_steps=6)
        pairs = "{anchor: anchor, positive: positive}"
        sets = [f"data.train={labeled}", "data.columns={text: t, label: c}", f"data.val={val}", f"data.test={test}",
                f"data.val_columns={pairs}", f"data.test_columns={pairs}", "loss.name=batch_all_triplet",
                "loss.distance=cosine", "loss.margin=0.5", "training.batch_sampler=group_by_label"]
        args = [a for s in sets for a in ("--set", s)]
        r = dt.run([dt.DISTTUNE, "validate", cfg] + args, timeout=120)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("# data.train: labeled texts, 160 rows read, all kept", r.out)
        self.assertIn("# data.val: pairs, 40 rows read, all kept", r.out)
        self.assertIn("the best model by cosine_ndcg@10", r.out)
        r = self.train(cfg, sets=sets)
        self.assertIn("val 40 queries over 40 docs, test 40 queries over 40 docs", r.out)
        self.assertIn("cosine_ndcg@10", metrics_rows(run, "val")[0])
        report = load_json(f"{run}/report.json")["metrics"]
        out = os.path.join(self.tmp.name, "held_out_eval.json")
        e = dt.run([dt.DISTTUNE, "eval", "--model", f"{run}/final", "--pairs", test, "--output", out])
        self.assertEqual(e.rc, 0, e)
        got = load_json(out)
        for name in ("cosine_ndcg@10", "cosine_accuracy@1", "cosine_map@100"):
            self.assertAlmostEqual(report[name]["fine_tuned"], got[name], delta=1e-6, msg=name)
        for extra, message in (
                (["data.test_columns={text: anchor}"],
                 "data.test_columns: data.test is texts (text) and data.val pairs (anchor, positive): the held-out "
                 "files are evaluated alike; map them to one format"),
                (["data.val=''", "data.test=''"], "data.val_columns: set but data.val is empty")):
            for command in ("validate", "train"):
                r = dt.run([dt.DISTTUNE, command, cfg] + args + [a for s in extra for a in ("--set", s)], timeout=120)
                self.assertNotEqual(r.rc, 0, r)
                self.assertIn(message, r.err, command)

    def test_adaptive_layer(self):
        """loss.adaptive_layer: the first step's loss at np 2 over the whole set equals
        AdaptiveLayerLoss's formula on `disttune encode` embeddings of the model cut after each
        layer (model.num_layers, 0 = the embeddings alone); with a layer and a Matryoshka dim
        drawn per step (Matryoshka2dLoss), 1 and 2 ranks are one run; `disttune eval` cuts the
        trained model where a config's model.num_layers says; GradCache is refused."""
        with open(self.data) as f:
            rows = [json.loads(l) for l in f]
        pairs = ["data.columns={anchor: anchor, positive: positive}", "data.split={train: 1.0, val: 0, test: 0}"]
        start_cfg = self.config("adaptive_start")[0]

        with open(start_cfg) as f:
            three = f.read().replace("num_layers: 1,", "num_layers: 3,")

        def embed(k):
            # The cut from the config's model.num_layers for even k, from encode --num-layers for odd.
            path, extra = os.path.join(self.tmp.name, f"adaptive_cut{k}.yaml"), ()
            with open(path, "w") as f:
                if k % 2:
                    f.write(three)
                    extra = ("--num-layers", str(k))
                else:
                    f.write(three.replace("  max_seq_length: 48\n", f"  max_seq_length: 48\n  num_layers: {k}\n"))
            return np.concatenate([self.encode(path, [r[c] for r in rows], extra) for c in ("anchor", "positive")])

        def mnrl(e):
            a, p = np.split(e, 2)
            s = 20 * (a @ p.T) / np.linalg.norm(a, axis=1)[:, None] / np.linalg.norm(p, axis=1)[None, :]
            m = s.max(1)
            return np.mean(m + np.log(np.exp(s - m[:, None]).sum(1)) - np.diag(s))

        def log_softmax(x):
            x = x - x.max(1, keepdims=True)
            return x - np.log(np.exp(x).sum(1, keepdims=True))

        last = embed(3)
        teacher = log_softmax(last / 0.3)
        want = mnrl(last)
        for k in range(3):  # every prior layer: uniform weights over the 3, KL at temperature 0.3
            e = embed(k)
            kl = (np.exp(teacher) * (teacher - log_softmax(e / 0.3))).sum() / len(e)
            want += mnrl(e) / 3 + 0.3 * kl
        cfg, run = self.config("adaptive_first_step", QUIET)
        self.train(cfg, np=2, sets=pairs + ["model.init.num_layers=3", "loss.adaptive_layer=true",
                                            "loss.adaptive_n_layers_per_step=-1", "training.max_steps=1",
                                            f"training.global_batch_size={len(rows)}"])
        got = metrics_rows(run, "train")[0]["loss"]
        self.assertAlmostEqual(got / want, 1.0, delta=1e-5, msg=f"{got} vs {want}")

        # Matryoshka2dLoss: one prior layer and one dim drawn per step, alike on every rank.
        results = []
        two_d = ["model.init.num_layers=3", "loss.adaptive_layer=true", "loss.matryoshka_dims=[32, 16, 8]",
                 "loss.matryoshka_n_dims_per_step=1"]
        for np_ in (1, 2):
            cfg, run = self.config(f"adaptive_2d_{np_}", "checkpoint:\n  save_strategy: no\n", max_steps=12)
            self.train(cfg, np=np_, sets=two_d)
            results.append([x["loss"] for x in metrics_rows(run, "train")])
        np.testing.assert_allclose(results[0], results[1], rtol=2e-5)
        # `disttune eval` of the trained model cut after layer 1, by a config's model.num_layers
        # and by --num-layers: one figure, not the whole model's.
        test = os.path.join(self.tmp.name, "adaptive_test.jsonl")
        with open(test, "w") as f:
            f.writelines(json.dumps({"anchor": r["anchor"], "positive": r["positive"]}) + "\n" for r in rows[:60])
        cut_cfg = os.path.join(self.tmp.name, "adaptive_final_cut1.yaml")
        with open(cut_cfg, "w") as f:
            f.write(f"model:\n  path: {run}/final\n  num_layers: 1\n")
        figures = []
        for extra in ([cut_cfg], [f"{run}/final", "--num-layers", "1"], [f"{run}/final"]):
            out = os.path.join(self.tmp.name, "adaptive_eval.json")
            e = dt.run([dt.DISTTUNE, "eval", "--pairs", test, "--output", out, "--model"] + extra)
            self.assertEqual(e.rc, 0, e)
            figures.append(load_json(out)["cosine_ndcg@10"])
        self.assertEqual(figures[0], figures[1])
        self.assertNotAlmostEqual(figures[0], figures[2], delta=1e-4)
        e = dt.run([dt.DISTTUNE, "eval", "--pairs", test, "--model", f"{run}/final", "--num-layers", "4"])
        self.assertNotEqual(e.rc, 0, e)
        self.assertIn("num_layers 4 must be at most the model's 3 layers", e.err)

        cfg = self.config("adaptive_refused", QUIET)[0]
        for command in ("validate", "train"):
            r = dt.run([dt.DISTTUNE, command, cfg, "--set", "loss.adaptive_layer=true", "--set",
                        "loss.name=cached_mnrl", "--set", "training.mini_batch_size=4"], timeout=120)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("loss.adaptive_layer: does not combine with cached_mnrl", r.err, command)

    def test_multi_dataset(self):
        """A datasets: section trains on several files, each global batch from one with its own
        loss: with round_robin and a learning rate of 0 the first three steps are MNRL on
        data.train, CoSENT on scored pairs and MNRL (scale 10) with hard negatives on triplets,
        each equal to its formula on `disttune encode` embeddings; with proportional, every
        batch of every dataset once per epoch, 1 and 2 ranks are one run and a run resumed
        mid-epoch ends with the uninterrupted run's bits; bad datasets are refused naming them."""
        with open(self.data) as f:
            rows = [json.loads(l) for l in f]
        main, tri, scored = (os.path.join(self.tmp.name, f"multi_{n}.jsonl") for n in ("main", "tri", "scored"))
        with open(main, "w") as f:
            f.writelines(json.dumps({"q": r["anchor"], "c": r["positive"]}) + "\n" for r in rows[:32])
        with open(tri, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows[32:64])
        rng = random.Random(3)
        pairs = [(r["anchor"], " ".join(rng.choice(WORDS) for _ in range(6)), float(i % 3) / 2)
                 for i, r in enumerate(rows[64:128])]
        with open(scored, "w") as f:
            f.writelines(json.dumps({"s1": a, "s2": b, "label": y}) + "\n" for a, b, y in pairs)

        def datasets(sts_rows=scored, tri_rows=tri, tri_extra=""):
            return ("datasets:\n"
                    f"  sts:\n    train: {sts_rows}\n    columns: {{sentence1: s1, sentence2: s2, score: label}}\n"
                    "    loss: {name: cosent}\n"
                    f"  tri:\n    train: {tri_rows}\n"
                    "    columns: {anchor: anchor, positive: positive, negative: negative}\n"
                    "    loss: {name: mnrl, scale: 10}\n" + tri_extra)

        def cos(a, b):
            return (a / np.linalg.norm(a, axis=1)[:, None]) @ (b / np.linalg.norm(b, axis=1)[:, None]).T

        def cross_entropy(s):
            m = s.max(1)
            return np.mean(m + np.log(np.exp(s - m[:, None]).sum(1)) - np.diag(s))

        start = self.config("multi_start")[0]
        q, c = self.encode(start, [r["anchor"] for r in rows[:32]]), self.encode(start, [r["positive"] for r in rows[:32]])
        # sts reads the run's training.prompts; tri has prompts of its own.
        s1, s2 = self.encode(start, ["s: " + p[0] for p in pairs[:32]]), self.encode(start, [p[1] for p in pairs[:32]])
        a = self.encode(start, ["query: " + r["anchor"] for r in rows[32:64]])
        p, n = (self.encode(start, [r[k] for r in rows[32:64]]) for k in ("positive", "negative"))
        s = 20 * np.sum(s1 / np.linalg.norm(s1, axis=1)[:, None] * s2 / np.linalg.norm(s2, axis=1)[:, None], axis=1)
        y = np.array([p[2] for p in pairs[:32]])
        diffs = (s[:, None] - s[None, :])[y[:, None] < y[None, :]]
        want = [cross_entropy(20 * cos(q, c)),
                np.log(1 + np.exp(diffs).sum()),  # CoSENT (no term overflows at this scale)
                cross_entropy(10 * cos(a, np.concatenate([p, n])))]
        with open(scored.replace(".jsonl", "32.jsonl"), "w") as f:
            f.writelines(json.dumps({"s1": a_, "s2": b_, "label": y_}) + "\n" for a_, b_, y_ in pairs[:32])
        body = datasets(scored.replace(".jsonl", "32.jsonl"), tri_extra="    prompts: {anchor: 'query: '}\n")
        cfg, run = self.config("multi_formula", QUIET + body, learning_rate=0, global_batch_size=32, epochs=1,
                               batch_sampler="batch_sampler", multi_dataset_batch_sampler="round_robin",
                               prompts="{sentence1: 's: '}")
        r = self.train(cfg, np=2, sets=[f"data.train={main}", "data.columns={anchor: q, positive: c}",
                                        "data.split={train: 1.0, val: 0, test: 0}"])
        self.assertIn("loss data: mnrl, sts: cosent, tri: mnrl", r.out)
        got = [x["loss"] for x in metrics_rows(run, "train")]
        self.assertEqual(len(got), 3)  # round robin: one batch of each, then data.train has none left
        np.testing.assert_allclose(got, want, rtol=1e-5)
        # The triplets read the pairs' file elsewhere; each dataset has a token store of its own.
        self.assertEqual(len(glob.glob(f"{run}/cache/datasets/tri/*.tokens.h5")), 1)
        self.assertEqual(len(glob.glob(f"{run}/cache/datasets/sts/*.tokens.h5")), 1)

        # Proportional: 12 + 4 + 15 batches of 16 per epoch, in an order drawn per epoch.
        results = {}
        extra = QUIET.replace("save_strategy: no", "save_strategy: steps\n  save_steps: 5\n  keep_last: 20")
        for name, np_ in (("np2", 2), ("np1", 1)):
            cfg, run = self.config(f"multi_{name}", extra + datasets(tri_rows=self.data))
            self.train(cfg, np=np_)
            results[name] = (np.array([x["loss"] for x in metrics_rows(run, "train")]),
                             dt.read_safetensors(f"{run}/final/model.safetensors"))
        self.assertEqual(len(results["np2"][0]), 2 * (12 + 4 + 15))
        assert_same_run(results["np1"], results["np2"], "datasets at np 1 and 2")
        cfg, resumed = self.config("multi_resumed", extra + datasets(tri_rows=self.data))
        os.makedirs(f"{resumed}/checkpoints")
        shutil.copy(f"{self.tmp.name}/multi_np2/checkpoints/step-00000040.h5", f"{resumed}/checkpoints/")
        self.assertIn("resumed from", self.train(cfg, np=2).out)
        self.assertEqual([x["loss"] for x in metrics_rows(resumed, "train") if x["step"] > 40],
                         list(results["np2"][0][40:]))
        last = dt.read_safetensors(f"{resumed}/final/model.safetensors")
        for k, v in results["np2"][1].items():
            np.testing.assert_array_equal(last[k], v, err_msg=k)
        # The resolved config in the checkpoint carries the datasets.
        with h5py.File(f"{resumed}/checkpoints/step-00000062.h5", "r") as f:
            self.assertIn("tri:", f.attrs["config"])

        # Refused before any work, naming the dataset.
        for body, message in (
                (datasets(sts_rows=tri), "multi_tri.jsonl:1: column 's1' (sentence1): missing"),
                (datasets().replace("loss: {name: cosent}", "loss: {name: triplet}"),
                 "datasets.sts: loss.name: triplet"),
                (datasets(tri_rows=os.path.join(self.tmp.name, "none.jsonl")), "datasets.tri: data.train:"),
                (datasets().replace("    loss: {name: mnrl, scale: 10}\n", "") + "loss:\n  name: cosent\n",
                 "loss.name: cosent")):
            cfg = self.config("multi_refused", QUIET + body)[0]
            for command in ("validate", "train"):
                r = dt.run([dt.DISTTUNE, command, cfg], timeout=120)
                self.assertNotEqual(r.rc, 0, r)
                self.assertIn(message, r.err, command)
        cfg = self.config("multi_prompt", QUIET + datasets())[0]
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", "training.prompts={query: 'q: '}"], timeout=120)
        self.assertIn("training.prompts: 'query' is not a role of data.train or datasets (its roles: anchor, "
                      "positive, sentence1, sentence2, negative)", r.err)
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", "training.prompts={sentence1: 's: '}", "--set",
                    "training.max_steps=2"], timeout=120)
        self.assertEqual(r.rc, 0, r)  # a prompt for a role of one dataset only
        # training.mini_batch_size belongs to the cached losses among the datasets' losses.
        cfg = self.config("multi_cached", QUIET + datasets(), max_steps=3, mini_batch_size=4)[0]
        self.assertIn("loss data: cached_mnrl, sts: cosent, tri: mnrl",
                      self.train(cfg, np=2, sets=["loss.name=cached_mnrl"]).out)
        r = dt.run([dt.DISTTUNE, "train", cfg], timeout=120)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("training.mini_batch_size: only cached_mnrl and cached_gist embed in mini-batches, and no "
                      "dataset's loss is one of them", r.err)
        cfg = self.config("multi_own_prompt", QUIET + datasets(tri_extra="    prompts: {sentence1: 's: '}\n"))[0]
        for command in ("validate", "train"):
            r = dt.run([dt.DISTTUNE, command, cfg], timeout=120)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn(f"datasets.tri: training.prompts: 'sentence1' is not a role of {tri} (its roles: anchor, "
                          "positive, negative)", r.err)

    def test_gradient_checkpointing(self):
        """training.gradient_checkpointing recomputes each layer in backward: with dropout 0.1
        at np 2, fp32 and bf16, with AdaptiveLayerLoss reading prior layers, and under GradCache
        (cached_mnrl), the losses and final weights are the plain run's."""
        cases = {"fp32": ["loss.adaptive_layer=true"], "bf16": ["loss.adaptive_layer=true"],
                 "cached": ["loss.name=cached_mnrl", "training.mini_batch_size=3"]}
        for case, extra in cases.items():
            precision = "bf16" if case == "bf16" else "fp32"
            runs = []
            for on in ("false", "true"):
                cfg, run = self.config(f"checkpointing_{case}_{on}", QUIET, dropout=0.1, epochs=1)
                self.train(cfg, np=2, sets=[f"training.gradient_checkpointing={on}", f"training.precision={precision}",
                                            "model.init.num_layers=3"] + extra)
                weights = dt.read_safetensors(f"{run}/final/model.safetensors")
                if precision == "bf16":
                    # The key biases' gradient is zero up to rounding (softmax ignores a shift
                    # shared by all keys); bf16 rounding differs between the runs' products and
                    # AdamW scales either noise to +-lr, so only they are left out.
                    weights = {n: v for n, v in weights.items() if "attention.self.key.bias" not in n}
                runs.append((np.array([x["loss"] for x in metrics_rows(run, "train")]), weights))
            if precision == "fp32":
                assert_same_run(runs[0], runs[1], f"gradient checkpointing, {case}")
                continue
            # bf16: the checkpointed layers hand on float32 states that the next product casts,
            # where the plain run's add_layer_norm hands on its own bf16 copy; a rare element
            # then rounds the other way (libtorch 2.6: 1 of 1024 weights off by 5.4e-5).
            np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-4, err_msg=case)
            for n, v in runs[0][1].items():
                np.testing.assert_allclose(runs[1][1][n], v, atol=2e-4, rtol=1e-3, err_msg=f"{case}: {n}")

    def test_reduce_lr_on_plateau(self):
        """training.scheduler: reduce_lr_on_plateau: the logged rate after each evaluation is
        torch.optim.lr_scheduler.ReduceLROnPlateau's stepped with the run's validation metrics;
        a run resumed from a checkpoint (at another world size) continues its rate and losses;
        a run without validation is refused."""
        import torch
        extra = ("eval:\n  strategy: steps\n  steps: 2\n  test: false\n"
                 "checkpoint:\n  save_strategy: steps\n  save_steps: 10\n  keep_last: 5\n")
        plateau = dict(max_steps=16, scheduler="reduce_lr_on_plateau", warmup_ratio=0,
                       scheduler_kwargs="{patience: 0, factor: 0.5, threshold: 0.02}")
        cfg, run = self.config("plateau", extra, **plateau)
        self.train(cfg)
        rows = metrics_rows(run)
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=1e-3)
        ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.5, threshold=0.02)
        lr = {}
        for r in rows:  # the rate of each step is that after the evaluations before it
            if r["split"] == "val":
                ref.step(r["cosine_ndcg@10"])
            elif r["split"] == "train":
                lr[r["step"]] = (r["learning_rate"], opt.param_groups[0]["lr"])
        for step, (got, want) in lr.items():
            self.assertAlmostEqual(got / want, 1.0, delta=1e-12, msg=f"step {step}")
        # Reduced before the checkpoint at step 10 and after it: the resumed run must carry the state.
        self.assertLess(lr[11][0], 1e-3, lr)
        self.assertLess(lr[16][0], lr[11][0], lr)
        losses = {r["step"]: r["loss"] for r in rows if r["split"] == "train"}
        cfg2, run2 = self.config("plateau_resumed", extra, **plateau)
        os.makedirs(f"{run2}/checkpoints")
        shutil.copy(f"{run}/checkpoints/step-00000010.h5", f"{run2}/checkpoints/")
        self.train(cfg2, np=2)
        resumed = [r for r in metrics_rows(run2) if r["split"] == "train"]
        self.assertEqual([r["step"] for r in resumed], list(range(11, 17)))
        for r in resumed:
            self.assertEqual(r["learning_rate"], lr[r["step"]][0], r["step"])
            self.assertAlmostEqual(r["loss"] / losses[r["step"]], 1.0, delta=2e-4, msg=r["step"])
        for command, sets in (("validate", ["eval.strategy=no"]), ("train", ["eval.strategy=no"]),
                              ("train", ["data.split={train: 0.9, val: 0, test: 0.1}"])):
            r = dt.run([dt.DISTTUNE, command, cfg, "--set", f"output.dir={run}_no"] +
                       [a for s in sets for a in ("--set", s)], timeout=120)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("training.scheduler: reduce_lr_on_plateau changes the rate at validation evaluations", r.err)

    def test_matryoshka_dims_per_step(self):
        """loss.matryoshka_n_dims_per_step: the dims a step takes are drawn from the step alone,
        so 1 and 2 ranks give the same run, and a run resumed at another world size goes on
        as the uninterrupted one; it is not the run over every dim."""
        # 2 of the 3 dims: a step on dim 8 alone leaves most weights with gradients near
        # AdamW's eps, where summation order decides their moves (assert_same_run).
        mat = "loss:\n  matryoshka_dims: [32, 16, 8]\n"
        sets = ["loss.matryoshka_n_dims_per_step=2"]
        one = self.final("mdps1", loss=mat, sets=sets)
        assert_same_run(one, self.final("mdps2", 2, mat, sets=sets), "n_dims_per_step, 1 and 2 ranks")
        self.assertGreater(np.max(np.abs(self.final("mdps_all", loss=mat)[0] - one[0])), 1e-3)
        saving = QUIET.replace("save_strategy: no", "save_strategy: steps\n  save_steps: 4\n  keep_last: 5") + mat
        cfg, run = self.config("mdps_saved", saving, epochs=1)
        self.train(cfg, sets=sets)
        cfg, resumed = self.config("mdps_resumed", saving, epochs=1)
        os.makedirs(f"{resumed}/checkpoints")
        shutil.copy(f"{run}/checkpoints/step-00000004.h5", f"{resumed}/checkpoints/")
        self.assertIn("resumed from", self.train(cfg, np=2, sets=sets).out)
        assert_same_run(one, (np.array([x["loss"] for x in metrics_rows(run, "train")]),
                              dt.read_safetensors(f"{run}/final/model.safetensors")), "saving at step 4")
        np.testing.assert_allclose([x["loss"] for x in metrics_rows(resumed, "train")], one[0][4:], rtol=2e-5)

    def test_prompts(self):
        """training.prompts (sentence-transformers' prompts): a run with {anchor: 'query: '}
        is the run whose anchors literally start with 'query: ' (np 2): the same losses, and
        the same validation and test figures, because evaluation embeds the queries with the
        anchors' prompt. A role the data has not, or a model.query_prompt that differs, is
        refused."""
        literal = os.path.join(self.tmp.name, "query_pairs.jsonl")
        with open(self.data) as f, open(literal, "w") as g:
            for line in f:
                row = json.loads(line)
                row["anchor"] = "query: " + row["anchor"]
                g.write(json.dumps(row) + "\n")
        cfg, run = self.config("prompted", "eval:\n  bm25_baseline: false\n")
        r = self.train(cfg, np=2, sets=["training.prompts={anchor: 'query: '}"])
        self.assertIn("(no store yet)", r.out)
        cfg2, run2 = self.config("literal", "eval:\n  bm25_baseline: false\n")
        self.train(cfg2, np=2, sets=[f"data.train={literal}"])
        strip = lambda rows: [{k: v for k, v in x.items() if k != "pairs_per_s"} for x in rows]
        a, b = strip(metrics_rows(run)), strip(metrics_rows(run2))
        self.assertEqual(len(a), 24 + 2 + 2)
        self.assertEqual(a, b)
        # Without the prompt the queries embed otherwise: other figures.
        cfg3, run3 = self.config("unprompted", "eval:\n  bm25_baseline: false\n")
        self.train(cfg3, np=2)
        self.assertNotEqual(metrics_rows(run3, "val")[0]["cosine_ndcg@10"], metrics_rows(run, "val")[0]["cosine_ndcg@10"])
        # Prompts for a role the data has not are refused (token_store_test: a change of
        # prompts rebuilds the store).
        for command in ("train", "validate"):
            r = dt.run([dt.DISTTUNE, command, cfg, "--set", "training.prompts={query: 'q: '}"], timeout=120)
            self.assertNotEqual(r.rc, 0)
            self.assertIn("training.prompts: 'query' is not a role of data.train (its roles: anchor, positive)", r.err)
        r = dt.run([dt.DISTTUNE, "validate", cfg, "--set", "training.prompts={anchor: 'q: '}",
                    "--set", "model.query_prompt='a: '"], timeout=120)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("model.query_prompt: 'a: ' differs from training.prompts.anchor ('q: ')", r.err)

    def test_triplet_evaluation(self):
        """Triplets are evaluated by retrieval (anchor, positive) and by sentence-transformers'
        TripletEvaluator: cosine_accuracy, the fraction of held-out triplets with
        cos(anchor, positive) > cos(anchor, negative), which eval.metric may select. A second
        negative column makes each row two triplets."""
        cfg, run = self.config("triplet_eval", "loss:\n  name: triplet\neval:\n  metric: cosine_accuracy\n")
        r = self.train(cfg, np=2, sets=TRIPLET_COLUMNS)
        self.assertIn("test split: 24 queries over 240 documents, 24 triplets", r.out)
        val = metrics_rows(run, "val")
        self.assertEqual(len(val), 2)
        for row in val:
            self.assertIn("cosine_ndcg@10", row)
            # A count of the 24 held-out triplets, as float32.
            self.assertEqual(row["cosine_accuracy"], float(np.float32(round(row["cosine_accuracy"] * 24) / 24)))
        # Written: 1.0 at both evaluations, so the first is the best; base 0.917, fine-tuned
        # 0.958 on the test triplets (the positive shares the anchor's key).
        best = max(val, key=lambda x: x["cosine_accuracy"])
        self.assertIn(f"loaded the best model: step {best['step']}, cosine_accuracy", r.out)
        rep = load_json(f"{run}/report.json")["metrics"]
        self.assertGreaterEqual(rep["cosine_accuracy"]["fine_tuned"], rep["cosine_accuracy"]["base"])
        # (anchor, positive, anchor) is never right (cos(a, a) = 1): with the anchor as a
        # second negative, the base model's accuracy halves exactly; at np 1 its retrieval
        # figures are those at np 2.
        cfg, run = self.config("triplet_eval2", QUIET.replace("test: false", "test: true"), epochs=1)
        self.train(cfg, sets=TRIPLET_COLUMNS + ["data.columns.negative_2=anchor"])
        two = load_json(f"{run}/report.json")["metrics"]
        self.assertEqual(two["cosine_accuracy"]["base"], rep["cosine_accuracy"]["base"] / 2)
        self.assertEqual(two["cosine_ndcg@10"]["base"], rep["cosine_ndcg@10"]["base"])
        # Evaluation embeds each column with its training prompt, the negatives with theirs:
        # the run with prompts is the run with the prefixes written into the texts.
        prompts = {"anchor": "q: ", "positive": "p: ", "negative": "n: "}
        literal = os.path.join(self.tmp.name, "prompted_triplets.jsonl")
        with open(self.data) as f, open(literal, "w") as g:
            for line in f:
                row = json.loads(line)
                g.write(json.dumps({**row, **{k: p + row[k] for k, p in prompts.items()}}) + "\n")
        extra = "loss:\n  name: triplet\neval:\n  bm25_baseline: false\n"
        cfg, run = self.config("triplet_prompts", extra, epochs=1)
        self.train(cfg, np=2, sets=TRIPLET_COLUMNS + ["training.prompts=" + json.dumps(prompts)])
        cfg, run2 = self.config("triplet_literal", extra, epochs=1)
        self.train(cfg, np=2, sets=TRIPLET_COLUMNS + [f"data.train={literal}"])
        strip = lambda rows: [{k: v for k, v in x.items() if k != "pairs_per_s"} for x in rows]
        a = strip(metrics_rows(run))
        self.assertEqual(a, strip(metrics_rows(run2)))
        self.assertIn("cosine_accuracy", a[-1])

    def test_schedules(self):
        """training.scheduler and training.scheduler_kwargs reach the run as Hugging Face's
        lr_scheduler_type and lr_scheduler_kwargs would (the lambdas of the golden generator),
        also after a resume; constant with a warmup is refused."""
        sys.path.insert(0, os.path.join(dt.SOURCE, "tests", "ref"))
        from gen_train_golden import hf_lambda
        extra = ("eval:\n  strategy: no\n  test: false\n"
                 "checkpoint:\n  save_strategy: steps\n  save_steps: 8\n  keep_last: 5\n")
        kwargs = "{num_decay_steps: 8, decay_type: linear, min_lr_ratio: 0.1}"
        cfg, run = self.config("wsd", extra, scheduler="warmup_stable_decay", scheduler_kwargs=kwargs)
        self.train(cfg)
        want = hf_lambda("warmup_stable_decay", 3, 24, 1e-3, num_decay_steps=8, decay_type="linear",
                         min_lr_ratio=0.1)
        lrs = [x["learning_rate"] for x in metrics_rows(run, "train")]
        np.testing.assert_allclose(lrs, [1e-3 * want(s) for s in range(24)], rtol=1e-12, atol=0)
        self.assertEqual(lrs[:4], [1e-4, 4e-4, 7e-4, 1e-3])  # from min_lr_ratio, warmup ceil(2.4) = 3
        cfg2, run2 = self.config("wsd_resumed", extra, scheduler="warmup_stable_decay", scheduler_kwargs=kwargs)
        os.makedirs(f"{run2}/checkpoints")
        shutil.copy(f"{run}/checkpoints/step-00000008.h5", f"{run2}/checkpoints/")
        self.assertIn("resumed from", self.train(cfg2, np=2).out)
        self.assertEqual([x["learning_rate"] for x in metrics_rows(run2, "train")], lrs[8:])

        cfg, _ = self.config("restarts", extra, scheduler="cosine_with_restarts", max_steps=2)
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", "training.scheduler_kwargs.power=2"], timeout=120)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("training.scheduler_kwargs: 'power' is not an argument of the cosine_with_restarts "
                      "schedule (it takes num_cycles)", r.err)
        cfg, _ = self.config("constant", extra, scheduler="constant")  # warmup_ratio: 0.1 in the file
        for command in ("train", "validate"):
            r = dt.run([dt.DISTTUNE, command, cfg], timeout=120)
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("training.warmup_ratio: training.scheduler: constant has no warmup", r.err)

    def test_early_stopping(self):
        """eval.early_stopping_patience stops where Hugging Face's EarlyStoppingCallback would,
        keeps its counter in the checkpoint, and a finished run does not train again on resume."""
        def hf_stop_step(val, patience, threshold):
            """EarlyStoppingCallback.check_metric_value over the logged evaluations, the best
            being the one before each evaluation (Trainer._determine_best_metric runs after)."""
            best, counter = None, 0
            for row in val:
                v = row["cosine_ndcg@10"]
                counter = 0 if best is None or (v > best and abs(v - best) > threshold) else counter + 1
                best = v if best is None or v > best else best
                if counter >= patience:
                    return row["step"]
            return None

        extra = lambda patience, threshold: (
            f"eval:\n  strategy: steps\n  steps: 2\n  test: false\n  early_stopping_patience: {patience}\n"
            f"  early_stopping_threshold: {threshold}\n"
            "checkpoint:\n  save_strategy: steps\n  save_steps: 2\n  keep_last: 20\n")
        # No evaluation improves on the first by more than 1: the third stops the run.
        cfg, run = self.config("early", extra(2, 1.0))
        r = self.train(cfg, np=2)
        self.assertIn("early stopping at step 6: cosine_ndcg@10 has not improved by more than 1 in 2 "
                      "evaluation(s)", r.out)
        self.assertEqual([x["step"] for x in metrics_rows(run, "val")], [2, 4, 6])
        self.assertEqual(metrics_rows(run, "train")[-1]["step"], 6)
        with h5py.File(f"{run}/checkpoints/step-00000006.h5", "r") as f:
            self.assertEqual(f["state"].attrs["evals_without_improvement"], 2)
        self.assertTrue(os.path.exists(f"{run}/final/model.safetensors"))
        # Resumed, it has nothing left to train; with a larger patience it goes on from the
        # counter it saved: one more evaluation without improvement stops it.
        r = self.train(cfg, np=2)
        self.assertIn("resumed from", r.out)
        self.assertEqual(metrics_rows(run, "train")[-1]["step"], 6)
        r = self.train(cfg, np=2, sets=["eval.early_stopping_patience=3"])
        self.assertIn("early stopping at step 8", r.out)
        self.assertEqual([x["step"] for x in metrics_rows(run, "val")], [2, 4, 6, 8])

        # Without a threshold, on a run that learns: where the reference rule stops it.
        for patience in (1, 2):
            cfg, run = self.config(f"early_p{patience}", extra(patience, 0), learning_rate=3e-3)
            r = self.train(cfg)
            val = metrics_rows(run, "val")
            stop = hf_stop_step(val, patience, 0.0)
            self.assertEqual(val[-1]["step"], stop or 24, val)
            self.assertEqual(f"early stopping at step {stop}" in r.out, stop is not None, r.out)
            print(f"patience {patience}: stopped at {stop}")

        cfg, _ = self.config("early_no_eval", "eval:\n  strategy: 'no'\n  early_stopping_patience: 2\n")
        r = dt.run([dt.DISTTUNE, "validate", cfg], timeout=120)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("eval.early_stopping_patience: needs evaluations: eval.strategy epoch or steps", r.err)

    def test_eval_on_start(self):
        """eval.on_start evaluates the base model as step 0: the same row whatever the learning
        rate, a candidate best, and the first evaluation early stopping counts."""
        extra = lambda more="": ("eval:\n  strategy: steps\n  steps: 6\n  test: false\n  on_start: true\n" + more +
                                 "checkpoint:\n  save_strategy: 'no'\n")
        runs = []
        for name, lr in (("start_a", 1e-3), ("start_b", 3e-3)):
            cfg, run = self.config(name, extra(), learning_rate=lr)
            self.train(cfg)
            runs.append(metrics_rows(run, "val"))
        self.assertEqual([x["step"] for x in runs[0]], [0, 6, 12, 18, 24])
        self.assertEqual(runs[0][0], runs[1][0])
        self.assertNotEqual(runs[0][1], runs[1][1])
        # Nothing beats the base by more than 1: the first evaluation in training stops the run.
        cfg, run = self.config("start_stop", extra("  early_stopping_patience: 1\n  early_stopping_threshold: 1\n"))
        self.assertIn("early stopping at step 6", self.train(cfg).out)
        self.assertEqual([x["step"] for x in metrics_rows(run, "val")], [0, 6])
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", "data.split={train: 0.9, val: 0, test: 0.1}",
                    "--set", "eval.early_stopping_patience=0"], timeout=120)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("eval.on_start: needs a validation split to evaluate, and this run has none", r.err)

    def test_drop_last(self):
        """training.drop_last leaves out the partial global batches: 192 training rows in batches
        of 20 are 9 full ones and 12 rows per epoch; too large a batch is refused."""
        extra = "eval:\n  strategy: 'no'\n  test: false\ncheckpoint:\n  save_strategy: 'no'\n"
        steps = {}
        for drop in ("false", "true"):
            cfg, run = self.config(f"drop_{drop}", extra, global_batch_size=20, batch_sampler="batch_sampler",
                                   drop_last=drop)
            self.train(cfg, np=2)
            steps[drop] = [x["step"] for x in metrics_rows(run, "train")]
        self.assertEqual(steps, {"false": list(range(1, 21)), "true": list(range(1, 19))})
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", "training.global_batch_size=200"], timeout=120)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("training.drop_last: no full global batch of 200 in the 192 training rows", r.err)

    def test_resume_is_bit_exact(self):
        """With dropout on: a run resumed from step 10 ends with the uninterrupted run's bits."""
        extra = "checkpoint:\n  save_strategy: steps\n  save_steps: 5\n  keep_last: 10\n"
        cfg, run = self.config("whole", extra, dropout=0.1)
        self.train(cfg, np=2)
        cfg2, run2 = self.config("resumed", extra, dropout=0.1)
        os.makedirs(f"{run2}/checkpoints")
        shutil.copy(f"{run}/checkpoints/step-00000010.h5", f"{run2}/checkpoints/")
        r = self.train(cfg2, np=2)
        self.assertIn("resumed from", r.out)
        whole, resumed = checkpoint_model(f"{run}/checkpoints/step-00000024.h5"), \
            checkpoint_model(f"{run2}/checkpoints/step-00000024.h5")
        for n, v in whole.items():
            np.testing.assert_array_equal(resumed[n], v, err_msg=n)
        with h5py.File(f"{run}/checkpoints/step-00000024.h5", "r") as a, \
                h5py.File(f"{run2}/checkpoints/step-00000024.h5", "r") as b:
            names = optimizer_datasets(a)
            self.assertGreater(len(names), 10)
            for n in names:
                np.testing.assert_array_equal(a["optimizer"][n][()], b["optimizer"][n][()], err_msg=n)
        self.assertEqual([x["loss"] for x in metrics_rows(run2, "train") if x["step"] > 10],
                         [x["loss"] for x in metrics_rows(run, "train") if x["step"] > 10])

    def test_resume_at_another_world_size(self):
        extra = ("eval:\n  strategy: no\n  test: false\n"
                 "checkpoint:\n  save_strategy: steps\n  save_steps: 8\n  keep_last: 5\n")
        cfg, run = self.config("np2", extra)
        self.train(cfg, np=2)
        cfg4, run4 = self.config("np2to4", extra)
        os.makedirs(f"{run4}/checkpoints")
        shutil.copy(f"{run}/checkpoints/step-00000008.h5", f"{run4}/checkpoints/")
        r = self.train(cfg4, np=4)
        self.assertIn("world size 2, resuming at 4", r.out + r.err)
        a, b = dt.read_safetensors(f"{run}/final/model.safetensors"), dt.read_safetensors(f"{run4}/final/model.safetensors")
        worst = max(float(np.max(np.abs(b[n] - v))) for n, v in a.items())
        print(f"np 2 -> 4 resume: largest parameter difference {worst:.2e}")
        self.assertLess(worst, 1e-6)
        with h5py.File(f"{run4}/checkpoints/step-00000024.h5", "r") as f4, \
                h5py.File(f"{run}/checkpoints/step-00000024.h5", "r") as f2:
            self.assertEqual(f4.attrs["world_size"], 4)
            names = optimizer_datasets(f2)
            self.assertGreater(len(names), 10)
            for n in names:
                np.testing.assert_allclose(f4["optimizer"][n][()], f2["optimizer"][n][()],
                                           atol=1e-6, rtol=0, err_msg=n)

    def test_killed_rank_leaves_checkpoints_intact(self):
        extra = ("eval:\n  strategy: no\n  test: false\n"
                 "checkpoint:\n  save_strategy: steps\n  save_steps: 1\n  keep_last: 3\n")
        cfg, run = self.config("killed", extra, epochs=30)
        p = subprocess.Popen([dt.MPIEXEC, "-np", "2", "--oversubscribe", dt.DISTTUNE, "train", cfg],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dt.mpi_env(), cwd=dt.SOURCE, start_new_session=True)
        try:
            deadline = time.time() + 120
            while len(steps_of(run)) < 3 or not steps_of(run) or steps_of(run)[-1] < 20:
                self.assertIsNone(p.poll(), "the run ended before it could be killed")
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            ranks = [r for r in subprocess.run(["pgrep", "-f", f"^{dt.DISTTUNE} train {cfg}"],
                                               capture_output=True, text=True).stdout.split()]
            self.assertEqual(len(ranks), 2, ranks)
            os.kill(int(ranks[0]), signal.SIGKILL)
            out, _ = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.assertNotEqual(p.returncode, 0, out)
        left = steps_of(run)
        self.assertGreaterEqual(len(left), 1)
        for s in left:  # every file that looks complete is complete
            with h5py.File(f"{run}/checkpoints/step-{s:08d}.h5", "r") as f:
                self.assertEqual(f.attrs["step"], s)
        # resume: auto continues from the newest complete checkpoint and finishes the run.
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", "training.max_steps=" + str(left[-1] + 3)], np=2)
        # max_steps changes the schedule, so the config differs from the checkpoint's; the run
        # must still continue from the checkpoint and stop at the new limit.
        self.assertEqual(r.rc, 0, r)
        self.assertIn(f"resumed from {run}/checkpoints/step-{left[-1]:08d}.h5", r.out)
        self.assertEqual(steps_of(run)[-1], left[-1] + 3)

    def test_refused_checkpoints(self):
        cfg, run = self.config("refuse", "eval:\n  strategy: no\n  test: false\n", epochs=1)
        os.makedirs(f"{run}/checkpoints")
        truncated = f"{run}/checkpoints/step-00000005.h5"
        # A foreign HDF5 file under a checkpoint's name.
        with h5py.File(truncated, "w") as f:
            f["x"] = np.zeros(3)
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", f"checkpoint.resume={truncated}"])
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn(truncated, r.err)
        # resume: auto skips it with a warning and starts afresh.
        r = self.train(cfg)
        self.assertIn("skipping checkpoint", r.out + r.err)
        self.assertNotIn("resumed from", r.out)
        # A real checkpoint cut short.
        good = f"{run}/checkpoints/step-00000012.h5"
        with open(good, "rb") as f:
            data = f.read()
        cut = f"{run}/cut.h5"
        with open(cut, "wb") as f:
            f.write(data[: len(data) // 2])
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", f"checkpoint.resume={cut}"])
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn(cut, r.err)
        # Another global batch size is refused, naming the key.
        r = dt.run([dt.DISTTUNE, "train", cfg, "--set", f"checkpoint.resume={good}",
                    "--set", "training.global_batch_size=8"])
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("training.global_batch_size", r.err)


if __name__ == "__main__":
    unittest.main()
