"""disttune encode: the HDF5 file h5py reads (embeddings float32 [n, dim], ids when the input
has them), embeddings equal to an independent python3-torch forward pass of the committed
random golden models (tests/ref/gen_model_golden.py builds the layers from torch.nn
primitives), the same bytes at 1 and 3 ranks, prompts, BEIR corpora, and clear errors."""
import json
import os
import random
import sys
import unittest

import dt

sys.path.insert(0, os.path.join(dt.SOURCE, "tests", "ref"))

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F
    import gen_model_golden as ref
except ImportError as e:  # pragma: no cover - the reference interpreter has them
    h5py = None
    IMPORT_ERROR = str(e)

GOLDEN = os.path.join(dt.SOURCE, "tests", "golden", "model")
VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")


def read_safetensors(path):
    return {k: torch.from_numpy(v.astype(np.float32) if v.dtype != np.int64 else v.copy())
            for k, v in dt.read_safetensors(path).items()}


class Reference:
    """sentence-transformers' encode of a golden model, one text at a time (no padding):
    whitespace words looked up in vocab.txt ([UNK] otherwise), [CLS] ... [SEP] truncated to
    max_seq_length, the torch.nn forward pass, pooling, optional normalisation."""

    def __init__(self, case):
        d = os.path.join(GOLDEN, case, "model")
        with open(os.path.join(d, "config.json")) as f:
            self.cfg = json.load(f)
        with open(os.path.join(d, "sentence_bert_config.json")) as f:
            self.max_len = json.load(f)["max_seq_length"]
        with open(os.path.join(d, "1_Pooling", "config.json")) as f:
            p = json.load(f)
        self.pooling = "mean" if p["pooling_mode_mean_tokens"] else "cls" if p["pooling_mode_cls_token"] else "max"
        with open(os.path.join(d, "modules.json")) as f:
            self.normalize = any(m["type"].endswith("Normalize") for m in json.load(f))
        with open(os.path.join(d, "vocab.txt")) as f:
            self.vocab = {w.rstrip("\n"): i for i, w in enumerate(f)}
        self.weights = {k: v for k, v in read_safetensors(os.path.join(d, "model.safetensors")).items()
                        if v.dtype == torch.float32}
        self.dir = d

    def ids(self, text):
        words = [self.vocab.get(w, self.vocab["[UNK]"]) for w in text.split()]
        return [self.vocab["[CLS]"]] + words[:self.max_len - 2] + [self.vocab["[SEP]"]]

    def encode(self, texts):
        rows = []
        with torch.no_grad():
            for t in texts:
                ids = torch.tensor([self.ids(t)])
                mask = torch.ones_like(ids)
                states, _ = ref.reference_states(self.weights, self.cfg, ids, mask)
                e = ref.pooled(states, mask)[self.pooling]
                rows.append(F.normalize(e, p=2, dim=1) if self.normalize else e)
        return torch.cat(rows).numpy()


def random_texts(n, seed, vocab_size=60, max_words=45):
    rng = random.Random(seed)
    # Lengths spread over 1..45 words: padded batches of mixed lengths and, past 30 words,
    # truncation to the model's 32 tokens.
    return [" ".join(f"tok{rng.randrange(5, vocab_size)}" for _ in range(rng.randint(1, max_words)))
            for _ in range(n)]


@unittest.skipIf(h5py is None, "needs /usr/bin/python3 with h5py, numpy and torch")
class Encode(dt.TempDirTest):
    def encode(self, model, inp, out, *flags, np=None, env=None):
        return dt.run([dt.DISTTUNE, "encode", "--model", model, "--input", inp, "--output", out, *flags],
                      np=np, env=env)

    def read(self, path):
        with h5py.File(path, "r") as f:
            emb = f["embeddings"][:]
            ids = [s.decode() if isinstance(s, bytes) else s for s in f["ids"][:]] if "ids" in f else None
            attrs = dict(f.attrs)
        return emb, ids, attrs

    def assert_one_error(self, r, *parts):
        self.assertNotEqual(r.rc, 0, r)
        lines = [l for l in r.err.splitlines() if l.startswith("disttune: error:")]
        self.assertEqual(len(lines), 1, r)
        for p in parts:
            self.assertIn(p, lines[0], r)

    def test_matches_torch_reference_with_ids_and_at_three_ranks(self):
        ref_model = Reference("bert_f32")
        texts = random_texts(70, 1)
        rows = [{"id": f"doc-{i}", "body": t} for i, t in enumerate(texts)]
        inp = self.write_jsonl("in.jsonl", rows)
        outs = {}
        # Bit-identical output needs the same threads per rank (BLAS may split a product
        # differently for another thread count; docs/model.md); the default (the node's cores
        # shared among its ranks) still agrees to rounding.
        one_thread = dict(dt.mpi_env(), DISTTUNE_THREADS="1")
        for np_, env in ((None, None), (None, one_thread), (3, one_thread)):
            out = self.path(f"out-{np_}-{env is None}.h5")
            r = self.encode(ref_model.dir, inp, out, "--field", "body", "--batch-size", "8", np=np_, env=env)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.out.count("wrote 70 embeddings"), 1, r)  # rank 0 alone reports
            outs[np_, env is None] = out
        emb, ids, attrs = self.read(outs[None, True])
        self.assertEqual(emb.dtype, np.float32)
        self.assertEqual(emb.shape, (70, 32))
        self.assertEqual(ids, [f"doc-{i}" for i in range(70)])
        self.assertEqual(attrs["pooling"], "mean")
        self.assertEqual(int(attrs["max_length"]), 32)
        expected = ref_model.encode(texts)
        self.assertLess(float(np.abs(emb - expected).max()), 1e-5)
        emb1, _, _ = self.read(outs[None, False])
        emb3, ids3, _ = self.read(outs[3, False])
        self.assertEqual(emb1.tobytes(), emb3.tobytes())  # bit-identical at any world size
        self.assertEqual(ids, ids3)
        self.assertLess(float(np.abs(emb - emb3).max()), 1e-6)
        self.assertFalse([n for n in os.listdir(self.tmp.name) if ".tmp" in n])

    def test_txt_input_prompt_and_max_length(self):
        ref_model = Reference("bert_f16")  # cls pooling, not normalised, prompts query/passage
        texts = random_texts(20, 2, vocab_size=80, max_words=12)
        inp = self.path("in.txt")
        with open(inp, "w") as f:
            f.write("\n".join(texts) + "\n")
        out = self.path("q.h5")
        r = self.encode(ref_model.dir, inp, out, "--prompt", "tok9 tok10 ", "--max-length", "10")
        self.assertEqual(r.rc, 0, r)
        emb, ids, attrs = self.read(out)
        self.assertIsNone(ids)
        self.assertEqual(attrs["prompt"], "tok9 tok10 ")
        full_len = ref_model.max_len
        ref_model.max_len = 10
        expected = ref_model.encode(["tok9 tok10 " + t for t in texts])
        self.assertLess(float(np.abs(emb - expected).max()), 1e-4 * float(np.abs(expected).max()))
        # --prompt-name picks the model's prompt ("query: " -> [UNK] [UNK] for this vocab).
        out2 = self.path("named.h5")
        r = self.encode(ref_model.dir, inp, out2, "--prompt-name", "query")
        self.assertEqual(r.rc, 0, r)
        ref_model.max_len = full_len
        emb2, _, _ = self.read(out2)
        expected2 = ref_model.encode(["query : " + t for t in texts])  # 'query', ':' -> [UNK] [UNK]
        self.assertLess(float(np.abs(emb2 - expected2).max()), 1e-4 * float(np.abs(expected2).max()))

    def test_beir_corpus_joins_title_and_text(self):
        ref_model = Reference("bert_f32")
        docs = [{"_id": str(100 + i), "title": "tok7 tok8" if i % 2 else "", "text": t}
                for i, t in enumerate(random_texts(9, 3, max_words=10))]
        inp = self.write_jsonl("corpus.jsonl", docs)
        out = self.path("corpus.h5")
        r = self.encode(ref_model.dir, inp, out)
        self.assertEqual(r.rc, 0, r)
        emb, ids, _ = self.read(out)
        self.assertEqual(ids, [d["_id"] for d in docs])
        texts = [(d["title"] + " " + d["text"]) if d["title"] else d["text"] for d in docs]
        self.assertLess(float(np.abs(emb - ref_model.encode(texts)).max()), 1e-5)

    def test_model_init_config(self):
        # A randomly initialised BERT named by a config's model.init section.
        cfg = self.path("model.yaml")
        with open(cfg, "w") as f:
            f.write(f"model:\n  init: {{vocab: {VOCAB}, hidden_size: 32, num_layers: 1, num_heads: 2,"
                    f" intermediate_size: 64, seed: 5}}\n  max_seq_length: 24\n")
        inp = self.write_jsonl("in.jsonl", [{"text": f"the {w} market rallied"} for w in
                                            ["stock", "bond", "credit", "oil", "gold"]])
        outs = []
        for np_ in (None, 2):
            out = self.path(f"init-{np_}.h5")
            r = self.encode(cfg, inp, out, np=np_, env=dict(dt.mpi_env(), DISTTUNE_THREADS="1"))
            self.assertEqual(r.rc, 0, r)
            outs.append(self.read(out)[0])
        self.assertEqual(outs[0].shape, (5, 32))
        self.assertEqual(outs[0].tobytes(), outs[1].tobytes())
        np.testing.assert_allclose(np.linalg.norm(outs[0], axis=1), 1.0, rtol=1e-5)
        self.assertGreater(float(np.abs(outs[0][0] - outs[0][1]).max()), 1e-4)

    def test_errors(self):
        model = os.path.join(GOLDEN, "bert_f32", "model")
        good = self.write_jsonl("in.jsonl", [{"text": "tok5 tok6"}, {"text": "tok7"}])
        out = self.path("o.h5")
        r = self.encode(model, good, out, "--field", "body")
        self.assert_one_error(r, "in.jsonl:1", "body")
        r = self.encode(model, self.write_jsonl("bad.jsonl", [{"text": "tok5"}, {"text": ""}]), out)
        self.assert_one_error(r, "bad.jsonl:2")
        txt = self.path("blank.txt")
        with open(txt, "w") as f:
            f.write("tok5\n\ntok6\n")
        self.assert_one_error(self.encode(model, txt, out), "blank.txt:2", "empty line")
        self.assert_one_error(self.encode(self.path("nope"), good, out), "nope")
        self.assert_one_error(self.encode(model, self.path("missing.jsonl"), out), "missing.jsonl")
        self.assert_one_error(self.encode(model, good, good), "--output", "input file")
        self.assert_one_error(self.encode(model, good, out, "--max-length", "1"), "--max-length")
        self.assert_one_error(self.encode(model, good, out, "--batch-size", "0"), "--batch-size")
        self.assert_one_error(self.encode(model, good, out, "--prompt-name", "query"), "no prompt named 'query'")
        xml = self.path("in.xml")
        with open(xml, "w") as f:
            f.write("<a/>")
        self.assert_one_error(self.encode(model, xml, out), "in.xml", "unsupported file type")
        # Under mpirun an error is still one line, and nothing that looks complete is left.
        r = self.encode(model, self.write_jsonl("bad2.jsonl", [{"text": "tok5"}, {"txt": "x"}]), out, np=2)
        self.assert_one_error(r, "bad2.jsonl:2")
        self.assertFalse(os.path.exists(out))
        self.assertFalse([n for n in os.listdir(self.tmp.name) if ".tmp" in n])


if __name__ == "__main__":
    unittest.main(verbosity=2)
