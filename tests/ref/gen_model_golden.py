#!/usr/bin/python3
"""Golden references for disttune's BERT and MPNet encoders (src/model/).

Builds small random models, writes them as sentence-transformers directories (safetensors
with Hugging Face names, config.json, modules.json, ...) under tests/golden/model/<case>/model/
and the expected outputs for padded batches in tests/golden/model/<case>/expected.safetensors.

The reference forward passes are assembled from torch.nn primitives, not from disttune's
code: each transformer layer is torch.nn.TransformerEncoderLayer (post-LayerNorm, exact GELU,
which is exactly a BERT/MPNet layer) with Q/K/V packed into in_proj_weight; MPNet's relative
position bias is computed here from the T5 paper's description of bidirectional log-spaced
buckets and passed, with the padding mask, as a float attention mask [B*heads, T, T].

Run with /usr/bin/python3 (torch 1.13):  /usr/bin/python3 tests/ref/gen_model_golden.py
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "model")

# ---------------------------------------------------------------------------------------
# safetensors, written here from the format description (8-byte little-endian header
# length, JSON header, raw little-endian bytes).
DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------------------
# T5 relative position buckets, from the paper's description (Raffel et al. 2020, 2.1):
# half of the buckets per direction; small distances each get their own bucket, larger
# ones share logarithmically wider buckets up to max_distance, beyond which all positions
# share the last bucket.
def t5_bucket(key_minus_query, num_buckets=32, max_distance=128):
    per_direction = num_buckets // 2
    base = per_direction if key_minus_query > 0 else 0  # keys after the query: upper half
    distance = abs(key_minus_query)
    n_exact = per_direction // 2
    if distance < n_exact:
        return base + distance
    n_log = per_direction - n_exact
    b = n_exact + int(math.floor(math.log(distance / n_exact) / math.log(max_distance / n_exact) * n_log))
    return base + min(b, per_direction - 1)


# ---------------------------------------------------------------------------------------
def make_weights(cfg, gen, with_pooler):
    """Random weights with Hugging Face names; scales chosen so attention is not uniform."""
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    bert = cfg["model_type"] == "bert"

    def n(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=gen) * std + mean

    w = {}
    w["embeddings.word_embeddings.weight"] = n(cfg["vocab_size"], H)
    w["embeddings.position_embeddings.weight"] = n(cfg["max_position_embeddings"], H, std=0.5)
    if bert:
        w["embeddings.token_type_embeddings.weight"] = n(cfg["type_vocab_size"], H, std=0.5)
    w["embeddings.LayerNorm.weight"] = n(H, std=0.1, mean=1.0)
    w["embeddings.LayerNorm.bias"] = n(H, std=0.1)
    for i in range(L):
        p = f"encoder.layer.{i}."
        if bert:
            names = ["attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense", "attention.output.LayerNorm"]
        else:
            names = ["attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                     "attention.LayerNorm"]
        for m in names[:4]:
            w[p + m + ".weight"] = n(H, H, std=0.25)
            w[p + m + ".bias"] = n(H, std=0.1)
        w[p + names[4] + ".weight"] = n(H, std=0.1, mean=1.0)
        w[p + names[4] + ".bias"] = n(H, std=0.1)
        w[p + "intermediate.dense.weight"] = n(I, H, std=0.25)
        w[p + "intermediate.dense.bias"] = n(I, std=0.1)
        w[p + "output.dense.weight"] = n(H, I, std=0.2)
        w[p + "output.dense.bias"] = n(H, std=0.1)
        w[p + "output.LayerNorm.weight"] = n(H, std=0.1, mean=1.0)
        w[p + "output.LayerNorm.bias"] = n(H, std=0.1)
    if not bert:
        w["encoder.relative_attention_bias.weight"] = n(cfg["relative_attention_num_buckets"],
                                                        cfg["num_attention_heads"], std=0.5)
    if with_pooler:
        w["pooler.dense.weight"] = n(H, H, std=0.1)
        w["pooler.dense.bias"] = n(H, std=0.1)
    return w


def torch_layer(w, p, cfg, bert):
    """A BERT/MPNet layer as torch.nn.TransformerEncoderLayer with the given weights."""
    H = cfg["hidden_size"]
    layer = nn.TransformerEncoderLayer(H, cfg["num_attention_heads"], cfg["intermediate_size"],
                                       dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=False, layer_norm_eps=cfg["layer_norm_eps"])
    if bert:
        q, k, v, o, ln = ("attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense", "attention.output.LayerNorm")
    else:
        q, k, v, o, ln = ("attention.attn.q", "attention.attn.k", "attention.attn.v",
                          "attention.attn.o", "attention.LayerNorm")
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([w[p + q + ".weight"], w[p + k + ".weight"], w[p + v + ".weight"]]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([w[p + q + ".bias"], w[p + k + ".bias"], w[p + v + ".bias"]]))
        layer.self_attn.out_proj.weight.copy_(w[p + o + ".weight"])
        layer.self_attn.out_proj.bias.copy_(w[p + o + ".bias"])
        layer.norm1.weight.copy_(w[p + ln + ".weight"])
        layer.norm1.bias.copy_(w[p + ln + ".bias"])
        layer.linear1.weight.copy_(w[p + "intermediate.dense.weight"])
        layer.linear1.bias.copy_(w[p + "intermediate.dense.bias"])
        layer.linear2.weight.copy_(w[p + "output.dense.weight"])
        layer.linear2.bias.copy_(w[p + "output.dense.bias"])
        layer.norm2.weight.copy_(w[p + "output.LayerNorm.weight"])
        layer.norm2.bias.copy_(w[p + "output.LayerNorm.bias"])
    layer.eval()
    return layer


def mpnet_positions(ids, pad=1):
    """Position ids of MPNet: the count of non-padding tokens so far, offset by padding_idx;
    padding positions get padding_idx itself."""
    pos = torch.zeros_like(ids)
    for b in range(ids.shape[0]):
        count = 0
        for t in range(ids.shape[1]):
            if ids[b, t] != pad:
                count += 1
                pos[b, t] = count + pad
            else:
                pos[b, t] = pad
    return pos


def reference_states(w, cfg, ids, mask, hidden=None):
    """Last hidden state [B, T, H] and the torch layers used (for their gradients). Grad mode
    stays on so that TransformerEncoderLayer takes its plain (non-fused) path. `hidden`, a
    list, receives Hugging Face's hidden states before the last: the embeddings' output, then
    each layer's but the last."""
    H, T = cfg["hidden_size"], ids.shape[1]
    bert = cfg["model_type"] == "bert"
    eps = cfg["layer_norm_eps"]
    if bert:
        pad = cfg["pad_token_id"]
        x = (F.embedding(ids, w["embeddings.word_embeddings.weight"], padding_idx=pad)
             + w["embeddings.position_embeddings.weight"][:T]
             + w["embeddings.token_type_embeddings.weight"][0])
    else:
        pad = 1  # MPNet's padding_idx
        x = (F.embedding(ids, w["embeddings.word_embeddings.weight"], padding_idx=pad)
             + F.embedding(mpnet_positions(ids, pad), w["embeddings.position_embeddings.weight"], padding_idx=pad))
    x = F.layer_norm(x, (H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)

    if bert:
        kwargs = {"src_key_padding_mask": mask == 0}
    else:
        buckets = torch.tensor([[t5_bucket(k - q) for k in range(T)] for q in range(T)])
        bias = F.embedding(buckets, w["encoder.relative_attention_bias.weight"]).permute(2, 0, 1)  # [heads, T, T]
        padding = (1.0 - mask.float()) * torch.finfo(torch.float32).min  # [B, T]
        full = bias.unsqueeze(0) + padding[:, None, None, :]  # [B, heads, T, T]
        kwargs = {"src_mask": full.reshape(-1, T, T)}
    layers = [torch_layer(w, f"encoder.layer.{i}.", cfg, bert) for i in range(cfg["num_hidden_layers"])]
    for layer in layers:
        if hidden is not None:
            hidden.append(x)
        x = layer(x, **kwargs)
    return x, layers


def layer_grads(layers, cfg):
    """Gradients of the torch layers under Hugging Face names."""
    H = cfg["hidden_size"]
    bert = cfg["model_type"] == "bert"
    out = {}
    for i, layer in enumerate(layers):
        p = f"encoder.layer.{i}."
        if bert:
            q, k, v, o, ln = ("attention.self.query", "attention.self.key", "attention.self.value",
                              "attention.output.dense", "attention.output.LayerNorm")
        else:
            q, k, v, o, ln = ("attention.attn.q", "attention.attn.k", "attention.attn.v",
                              "attention.attn.o", "attention.LayerNorm")
        a = layer.self_attn
        for j, m in enumerate((q, k, v)):
            out[p + m + ".weight"] = a.in_proj_weight.grad[j * H:(j + 1) * H]
            out[p + m + ".bias"] = a.in_proj_bias.grad[j * H:(j + 1) * H]
        out[p + o + ".weight"] = a.out_proj.weight.grad
        out[p + o + ".bias"] = a.out_proj.bias.grad
        out[p + ln + ".weight"] = layer.norm1.weight.grad
        out[p + ln + ".bias"] = layer.norm1.bias.grad
        out[p + "intermediate.dense.weight"] = layer.linear1.weight.grad
        out[p + "intermediate.dense.bias"] = layer.linear1.bias.grad
        out[p + "output.dense.weight"] = layer.linear2.weight.grad
        out[p + "output.dense.bias"] = layer.linear2.bias.grad
        out[p + "output.LayerNorm.weight"] = layer.norm2.weight.grad
        out[p + "output.LayerNorm.bias"] = layer.norm2.bias.grad
    return out


# Gradients kept in the goldens (a sample of every kind of parameter, to stay small).
GRAD_NAMES = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
              "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
              "embeddings.LayerNorm.bias", "encoder.relative_attention_bias.weight",
              "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.value.bias",
              "encoder.layer.0.attention.attn.q.weight", "encoder.layer.0.attention.attn.v.bias",
              "encoder.layer.0.attention.output.LayerNorm.weight", "encoder.layer.0.attention.LayerNorm.weight",
              "encoder.layer.1.intermediate.dense.bias", "encoder.layer.1.output.dense.weight",
              "encoder.layer.1.output.LayerNorm.bias"]


def pooled(states, mask):
    m = mask.unsqueeze(-1).float()
    out = {}
    s = (states * m).sum(1)
    count = m.sum(1).clamp(min=1e-9)
    out["mean"] = s / count
    out["mean_sqrt_len"] = s / count.sqrt()
    out["cls"] = states[:, 0]
    filled = states.clone()
    filled[(m.expand_as(states)) == 0] = -1e9
    out["max"] = filled.max(dim=1).values
    last = torch.stack([states[b, int(mask[b].nonzero().max())] for b in range(states.shape[0])])
    out["lasttoken"] = last
    return out


def make_batch(gen, cfg, lengths, T):
    bert = cfg["model_type"] == "bert"
    cls_id, sep_id, pad_id = (2, 3, 0) if bert else (0, 2, 1)
    ids = torch.full((len(lengths), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(lengths), T), dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(5, cfg["vocab_size"], (n,), generator=gen)
        ids[b, 0] = cls_id
        if n > 1:
            ids[b, n - 1] = sep_id
        mask[b, :n] = 1
    return ids, mask


def write_dir(case_dir, cfg, weights, store_dtype, pooling, normalize, prompts, buffers):
    d = os.path.join(case_dir, "model")
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    tensors = {k: v.to(store_dtype) for k, v in sorted(weights.items())}
    tensors.update(buffers)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    with open(os.path.join(d, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
    with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": cfg["max_position_embeddings"] - 8, "do_lower_case": False}, f, indent=2)
    with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": cfg["hidden_size"],
                   "pooling_mode_cls_token": pooling == "cls",
                   "pooling_mode_mean_tokens": pooling == "mean",
                   "pooling_mode_max_tokens": pooling == "max",
                   "pooling_mode_mean_sqrt_len_tokens": pooling == "mean_sqrt_len",
                   "pooling_mode_lasttoken": pooling == "lasttoken"}, f, indent=2)
    with open(os.path.join(d, "config_sentence_transformers.json"), "w") as f:
        json.dump({"__version__": {"sentence_transformers": "2.2.2"}, "prompts": prompts,
                   "default_prompt_name": None, "similarity_fn_name": "cosine"}, f, indent=2)
    bert = cfg["model_type"] == "bert"
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] if bert else ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        for i in range(cfg["vocab_size"]):
            f.write((specials[i] if i < len(specials) else f"tok{i}") + "\n")
    with open(os.path.join(d, "special_tokens_map.json"), "w") as f:
        json.dump({"unk_token": specials[1 if bert else 3], "pad_token": specials[0 if bert else 1]}, f)


def build_case(name, cfg, seed, store_dtype, pooling, normalize, shapes, with_pooler=False,
               position_ids=False, prompts=None, grad_batch=-1):
    gen = torch.Generator().manual_seed(seed)
    weights = make_weights(cfg, gen, with_pooler)
    # The reference runs on exactly the values the file stores.
    weights = {k: v.to(store_dtype).float() for k, v in weights.items()}
    buffers = {}
    if position_ids:
        buffers["embeddings.position_ids"] = torch.arange(cfg["max_position_embeddings"]).unsqueeze(0)
    case_dir = os.path.join(ROOT, name)
    write_dir(case_dir, cfg, weights, store_dtype, pooling, normalize, prompts or {}, buffers)
    expected = {}
    for i, (lengths, T) in enumerate(shapes):
        ids, mask = make_batch(gen, cfg, lengths, T)
        leaves = {k: v.clone().requires_grad_(True) for k, v in weights.items()}
        hidden = []
        states, layers = reference_states(leaves, cfg, ids, mask, hidden)
        pools = pooled(states, mask)
        emb = pools[pooling]
        emb = F.normalize(emb, p=2, dim=1) if normalize else emb
        # What AdaptiveLayerLoss embeds from each earlier hidden state: the same pooling and
        # normalisation over that state.
        for k, h in enumerate(hidden):
            prior = pooled(h, mask)[pooling]
            expected[f"b{i}.prior{k}"] = (F.normalize(prior, p=2, dim=1) if normalize else prior).detach()
        expected[f"b{i}.input_ids"] = ids
        expected[f"b{i}.attention_mask"] = mask
        # Padded positions hold values no one relies on; zero them to keep the file honest.
        expected[f"b{i}.token_states"] = (states * mask.unsqueeze(-1)).detach()
        for mode, v in pools.items():
            expected[f"b{i}.{mode}"] = v.detach()
        expected[f"b{i}.embedding"] = emb.detach()
        if i == grad_batch:
            # d/dparams of <embedding, probe>: checks the backward pass too.
            probe = torch.randn(emb.shape, generator=gen)
            (emb * probe).sum().backward()
            grads = layer_grads(layers, cfg)
            grads.update({k: v.grad for k, v in leaves.items() if v.grad is not None})
            expected[f"b{i}.probe"] = probe
            for pname in GRAD_NAMES:
                if pname in grads:
                    expected[f"b{i}.grad.{pname}"] = grads[pname].detach()
    write_safetensors(os.path.join(case_dir, "expected.safetensors"), expected)
    print(f"{name}: {len(shapes)} batches")


def main():
    torch.set_num_threads(1)
    bert_a = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 60, "hidden_size": 32,
              "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
              "max_position_embeddings": 40, "type_vocab_size": 2, "pad_token_id": 0,
              "hidden_act": "gelu", "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
              "position_embedding_type": "absolute"}
    build_case("bert_f32", bert_a, 1, torch.float32, "mean", True,
               [([7, 4, 1], 7), ([40, 23], 40), ([5], 5), ([12, 9, 3, 12], 12)],
               with_pooler=True, position_ids=True, grad_batch=3)
    bert_b = dict(bert_a, vocab_size=80, hidden_size=40, num_attention_heads=5, intermediate_size=80,
                  max_position_embeddings=64, layer_norm_eps=1e-5)
    build_case("bert_f16", bert_b, 2, torch.float16, "cls", False,
               [([7, 4, 1], 7), ([50, 31], 50), ([5], 5)],
               prompts={"query": "query: ", "passage": "passage: "})
    mpnet_a = {"architectures": ["MPNetForMaskedLM"], "model_type": "mpnet", "vocab_size": 50,
               "hidden_size": 24, "num_hidden_layers": 2, "num_attention_heads": 3,
               "intermediate_size": 48, "max_position_embeddings": 140,
               "relative_attention_num_buckets": 32, "pad_token_id": 1, "bos_token_id": 0,
               "eos_token_id": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
               "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
               "initializer_range": 0.02}
    build_case("mpnet_f32", mpnet_a, 3, torch.float32, "mean", True,
               [([7, 4, 1], 7), ([136, 97], 136), ([5], 5), ([12, 9, 3, 12], 12)],
               with_pooler=True, position_ids=True, grad_batch=3)
    mpnet_b = dict(mpnet_a, vocab_size=70, hidden_size=16, num_attention_heads=2, num_hidden_layers=3,
                   intermediate_size=40, max_position_embeddings=40)
    build_case("mpnet_bf16", mpnet_b, 4, torch.bfloat16, "max", False,
               [([7, 4, 1], 7), ([38, 20], 38), ([12, 9, 3, 12], 12)])


if __name__ == "__main__":
    main()
