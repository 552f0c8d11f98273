#!/usr/bin/env python3
"""sentence-transformers reference for the GPU benchmarks (benchmarks/run --gpu): the library
users run today, on the same random model shape and the same batches as disttune_bench.

The model is what SentenceTransformer builds from a Hugging Face directory: a randomly
initialised transformers.BertModel of the benchmark's shape (hidden and attention dropout
--dropout, 0 by default, as on the disttune side), models.Transformer (max_seq_length 256),
models.Pooling (mean, or --pooling cls as bge models pool), models.Normalize; the tokenizer
is bert-base-uncased's WordPiece from datasets/vocab (all-MiniLM-L6-v2's). The attention
kernel is whatever transformers picks by default (SDPA where it has it).

  train   one optimizer step as SentenceTransformerTrainer takes it with bf16=True:
          the forward under torch.autocast, losses.MultipleNegativesRankingLoss (scale 20,
          cos_sim), backward, clip_grad_norm_ 1.0, torch.optim.AdamW (fused on CUDA;
          weight decay 0.01 except biases and LayerNorm weights, as the Hugging Face trainer
          groups them). Batches of random ids, fixed --anchor-seq/--seq or --lengths FILE,
          as benchmarks/ref_train.py. Prints {"points": [{"global_batch", "pairs_per_s",
          "seconds", "loss"}], ...}.
  encode  SentenceTransformer.encode() (its own length sorting and padding, tokenization
          included) of the first --docs texts of a BEIR corpus.jsonl (title + " " + text),
          batch --batch, under autocast for bf16. Prints {"sentences_per_s", "seconds", ...}.

Runs where sentence-transformers is installed (the GPU machine's image), with that image's
python: benchmarks/run --gpu --python python3.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import torch

from ref_encode import autocast, model_arguments, sync
from ref_train import random_batch, read_lengths

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = os.path.join(os.path.dirname(HERE), "datasets", "vocab", "bert-base-uncased.txt")


def st_modules():
    """sentence-transformers' module classes (Transformer, Pooling, Normalize). 5.4 moved them
    from `sentence_transformers.models` to `sentence_transformers.sentence_transformer.modules`;
    6.x reaches the old path only through an import statement (a deprecation shim), never as an
    attribute of the package."""
    try:
        from sentence_transformers.sentence_transformer import modules
    except ImportError:
        from sentence_transformers import models as modules
    return modules


def golden_tokens(limit=8):
    """(text, ids) pairs of bert-base-uncased's WordPiece from the tokenizer's golden file
    (transformers.js's ids, tests/golden/text): the reference must tokenize as disttune does."""
    path = os.path.join(os.path.dirname(HERE), "tests", "golden", "text", "minilm_tokens.jsonl")
    pairs = []
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if "text" in row:
                pairs.append((row["text"], row["ids"]))
            if len(pairs) == limit:
                break
    return pairs


def check_tokens(encode, where):
    """Exits naming the first golden text `encode` (text -> list of ids) gets wrong."""
    for text, ids in golden_tokens():
        got = encode(text)
        if got != ids:
            raise SystemExit(f"ref_st.py: {where} tokenizes {text!r} as {got}, expected {ids} "
                             f"(bert-base-uncased WordPiece, tests/golden/text/minilm_tokens.jsonl)")


def build_tokenizer():
    """bert-base-uncased's WordPiece as a transformers tokenizer. transformers 5 builds it from a
    `vocab` dict and reads no vocab_file in the constructor (it would silently keep a 5-token
    vocabulary); 4.x builds it from vocab_file. Each way is checked against the golden ids."""
    try:
        from transformers import BertTokenizerFast as Tokenizer
    except ImportError:  # transformers releases that keep only the tokenizers-backed class
        from transformers import BertTokenizer as Tokenizer
    with open(VOCAB, encoding="utf-8") as f:
        vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
    errors = []
    for kwargs in ({"vocab": vocab}, {"vocab_file": VOCAB}):
        try:
            tok = Tokenizer(do_lower_case=True, **kwargs)
            check_tokens(lambda t: tok(t)["input_ids"], f"{Tokenizer.__name__}({next(iter(kwargs))}=...)")
            return tok
        except (Exception, SystemExit) as e:  # reported below if no way works
            errors.append(str(e))
    raise SystemExit("ref_st.py: could not build the WordPiece tokenizer: " + " | ".join(errors))


def build_model(args, tmp):
    """The model and how it was built: "modules" (Transformer + Pooling + Normalize, the classes
    every release has had under one path or the other) or, where those cannot be built,
    "directory" (SentenceTransformer on the bare Hugging Face directory, which has always made
    Transformer + mean Pooling itself; Normalize appended). Either way the loaded model's own
    tokenization is checked against the golden ids before anything is timed."""
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=args.heads, intermediate_size=args.intermediate,
                     max_position_embeddings=512, hidden_dropout_prob=args.dropout,
                     attention_probs_dropout_prob=args.dropout)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(tmp)
    build_tokenizer().save_pretrained(tmp)
    modules = st_modules()
    try:
        word = modules.Transformer(tmp, max_seq_length=256)
        pool = modules.Pooling(args.hidden, pooling_mode=args.pooling)
        model, built = SentenceTransformer(modules=[word, pool, modules.Normalize()], device=args.device), "modules"
    except (AttributeError, TypeError) as e:
        print(f"ref_st.py: module classes unavailable ({e}); loading the directory instead", file=sys.stderr)
        model, built = SentenceTransformer(tmp, device=args.device), "directory"
        model.max_seq_length = 256
        if args.pooling != "mean":  # the directory's default Pooling is mean: switch its mode
            pool = model[1]
            if isinstance(getattr(pool, "pooling_mode", None), str):  # 6.x: one mode string
                pool.pooling_mode = args.pooling
            elif hasattr(pool, "pooling_mode_cls_token"):  # up to 5.x: one flag per mode
                pool.pooling_mode_mean_tokens, pool.pooling_mode_cls_token = False, True
            else:
                raise SystemExit(f"ref_st.py: cannot set --pooling {args.pooling} on this sentence-transformers")
        model.append(modules.Normalize())
    # preprocess() in 6.x, tokenize() before (6.x keeps it, deprecated).
    prep = getattr(model, "preprocess", None) or model.tokenize
    check_tokens(lambda t: prep([t])["input_ids"][0].tolist(), f"the SentenceTransformer ({built})")
    return model, built


def train(args, model):
    from sentence_transformers import losses

    lengths = read_lengths(args.lengths)
    loss_fn = losses.MultipleNegativesRankingLoss(model, scale=20.0)
    named = list(model.named_parameters())
    no_decay = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm" in n)]
    # fused on CUDA, as the Hugging Face trainer's default optimizer; the argument is left out
    # on the CPU, where torch before 2.0 does not know it.
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-5, **({"fused": True} if args.device == "cuda" else {}))
    model.train()

    def features(role, rows):
        ids, mask = random_batch(args, lengths, role, rows)
        return {"input_ids": ids.to(args.device), "attention_mask": mask.to(args.device),
                "token_type_ids": torch.zeros_like(ids).to(args.device)}

    def step(global_batch):
        torch.manual_seed(1000)
        rows = range(global_batch)
        feats = [features(role, rows) for role in range(2)]
        opt.zero_grad(set_to_none=True)
        with autocast(args):
            loss = loss_fn(feats, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()  # waits for the step

    for _ in range(args.warmup):
        step(max(args.batches))
    points = []
    for b in args.batches:
        best, loss = float("inf"), 0.0
        for _ in range(args.steps):
            sync(args)
            t0 = time.perf_counter()
            loss = step(b)
            best = min(best, time.perf_counter() - t0)
        points.append({"global_batch": b, "pairs_per_s": b / best, "seconds": best, "loss": loss})
    out = {"points": points}
    if args.device == "cuda":  # what disttune's and ref_train.py's train entries report beside it
        out["peak_gpu_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def encode(args, model):
    texts = []
    with open(args.corpus) as f:
        for line in f:
            if line.strip() and len(texts) < args.docs:
                d = json.loads(line)
                title = d.get("title", "")
                texts.append(f"{title} {d.get('text', '')}" if title else d.get("text", ""))
    model.eval()
    with autocast(args):
        model.encode(texts[:args.batch], batch_size=args.batch)  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            sync(args)
            t0 = time.perf_counter()
            out = model.encode(texts, batch_size=args.batch, convert_to_numpy=True)
            best = min(best, time.perf_counter() - t0)
    assert out.shape == (len(texts), args.hidden), out.shape
    return {"sentences_per_s": len(texts) / best, "seconds": best, "texts": len(texts)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["train", "encode"])
    ap.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")], default=[64])
    ap.add_argument("--anchor-seq", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lengths", default="")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--corpus", default="")
    ap.add_argument("--docs", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    model_arguments(ap)
    ap.set_defaults(device="cuda", precision="bf16")  # what this reference is for
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.mode == "encode" and not args.corpus:
        ap.error("encode needs --corpus FILE (a BEIR corpus.jsonl)")
    try:
        import sentence_transformers
    except ImportError:
        sys.exit("ref_st.py: sentence-transformers is not installed for " + sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        model, built = build_model(args, tmp)
        out = train(args, model) if args.mode == "train" else encode(args, model)
    out.update({"mode": args.mode, "device": args.device, "precision": args.precision, "model_built_from": built,
                "torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
