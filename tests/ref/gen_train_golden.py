#!/usr/bin/python3
"""Reference values for src/train (losses, tiny-model training with AdamW, schedules).

Run with /usr/bin/python3 (torch 1.13):  /usr/bin/python3 tests/ref/gen_train_golden.py
Writes tests/golden/train/{losses,training,schedules}.json.

Everything here is built from torch / torch.nn.functional primitives following the
sentence-transformers loss definitions (MultipleNegativesRankingLoss,
MultipleNegativesSymmetricRankingLoss, MatryoshkaLoss, TripletLoss, CoSENTLoss,
ContrastiveLoss, OnlineContrastiveLoss, GISTEmbedLoss, AnglELoss,
CosineSimilarityLoss), torch.optim.AdamW, torch.nn.utils.clip_grad_norm_ and LambdaLR with the
Hugging Face schedule lambdas. Losses are evaluated in float64 on float32 inputs, so that
the goldens are the exact values the float32 C++ code approximates.
"""
import json
import math
import os
from functools import partial

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "train")


def tensor_json(t, digits=None):
    """{"shape", "data"}; float32 inputs keep 9 significant digits (exact), float64
    reference values 12 (far below every tolerance), integers stay integers."""
    t = t.detach().contiguous()
    if not t.is_floating_point():
        return {"shape": list(t.shape), "data": [int(x) for x in t.reshape(-1).tolist()]}
    digits = digits or (9 if t.dtype == torch.float32 else 12)
    data = [float("%.*g" % (digits, x)) for x in t.to(torch.float64).reshape(-1).tolist()]
    return {"shape": list(t.shape), "data": data}


# ---- sentence-transformers similarity helpers --------------------------------------------
def cos_sim(a, b):  # util.cos_sim
    return torch.mm(F.normalize(a, p=2, dim=1), F.normalize(b, p=2, dim=1).t())


def pairwise_cos_sim(a, b):  # util.pairwise_cos_sim
    return (F.normalize(a, p=2, dim=-1) * F.normalize(b, p=2, dim=-1)).sum(dim=-1)


def shrink(t, dim):  # MatryoshkaLoss.shrink
    return F.normalize(t[..., :dim], p=2, dim=-1)


# ---- losses on one (global) batch ----------------------------------------------------------
def dot_score(a, b):  # util.dot_score
    return torch.mm(a, b.t())


def mnrl(cols, scale=20.0, symmetric=False, similarity="cosine", **_):
    sim = {"cosine": cos_sim, "dot": dot_score}[similarity]  # similarity_fct
    anchors, candidates = cols[0], torch.cat(cols[1:], dim=0)
    labels = torch.arange(anchors.size(0))
    scores = sim(anchors, candidates) * scale
    forward = F.cross_entropy(scores, labels)
    if not symmetric:
        return forward
    # MultipleNegativesSymmetricRankingLoss: positives against every anchor.
    backward = F.cross_entropy(sim(cols[1], anchors) * scale, labels)
    return (forward + backward) / 2


def mnrl_directions(cols, scale=20.0, similarity="cosine", directions=("query_to_doc",), partition_mode="joint",
                    hardness_mode=None, hardness_strength=0.0, **_):
    """MultipleNegativesRankingLoss.compute_loss_from_embeddings (sentence-transformers, 2026-08),
    transcribed for one process: every row is local, offset 0."""
    sim = {"cosine": cos_sim, "dot": dot_score}[similarity]
    queries, docs = cols[0], cols[1:]
    n = queries.size(0)
    docs_all = torch.cat(docs, dim=0)
    rows = torch.arange(n)
    m = {"query_to_doc": sim(queries, docs_all)}
    if "query_to_query" in directions:
        m["query_to_query"] = sim(queries, queries)
        m["query_to_query"][rows, rows] = -torch.inf
    if "doc_to_query" in directions:
        m["doc_to_query"] = sim(queries, docs[0]).T
    if "doc_to_doc" in directions:
        m["doc_to_doc"] = sim(docs_all, docs[0]).T
        same = torch.eye(n)[rows].repeat(1, len(docs)).bool()
        m["doc_to_doc"].masked_fill_(same, -torch.inf)
    penalties = {}
    if hardness_mode in ("in_batch_negatives", "hard_negatives", "all_negatives") and hardness_strength > 0.0:
        penalty = hardness_strength * m["query_to_doc"].detach()
        own = torch.eye(n, dtype=torch.bool)[rows].repeat(1, len(docs))
        if hardness_mode == "hard_negatives":
            excluded = ~own
            excluded[:, :n] = True
        elif hardness_mode == "in_batch_negatives":
            excluded = own
        else:
            excluded = own
            excluded[:, n:] = False
        penalty[excluded] = 0.0
        penalties["query_to_doc"] = penalty
    for k in m:
        m[k] = m[k] * scale
    for k, pen in penalties.items():
        m[k] = m[k] + pen
    positive = m["query_to_doc"][rows, rows]
    if partition_mode == "joint":
        log_z = torch.logsumexp(torch.cat(list(m.values()), dim=1), dim=1)
    else:
        log_z = sum(torch.logsumexp(x, dim=1) for x in m.values()) / len(m)
    return -(positive - log_z).mean()


def triplet(cols, distance="euclidean", margin=5.0, **_):
    # TripletLoss as documented: relu(||a-p|| - ||a-n|| + margin); distances as in
    # TripletDistanceMetric (F.pairwise_distance for euclidean/manhattan).
    dist = {
        "euclidean": lambda x, y: F.pairwise_distance(x, y, p=2),
        "manhattan": lambda x, y: F.pairwise_distance(x, y, p=1),
        "cosine": lambda x, y: 1 - pairwise_cos_sim(x, y),
    }[distance]
    a, p, n = cols
    return F.relu(dist(a, p) - dist(a, n) + margin).mean()


def contrastive(cols, labels, distance="cosine", margin=0.5, **_):
    dist = {
        "euclidean": lambda x, y: F.pairwise_distance(x, y, p=2),
        "manhattan": lambda x, y: F.pairwise_distance(x, y, p=1),
        "cosine": lambda x, y: 1 - F.cosine_similarity(x, y),
    }[distance]
    d = dist(cols[0], cols[1])
    losses = 0.5 * (labels.float() * d.pow(2) + (1 - labels).float() * F.relu(margin - d).pow(2))
    return losses.mean()


def online_contrastive(cols, labels, distance="cosine", margin=0.5, **_):
    # OnlineContrastiveLoss: the hard pairs only, summed. A negative is hard when closer than
    # the farthest positive (the negatives' mean with fewer than two positives), a positive
    # when farther than the closest negative (the positives' mean with fewer than two
    # negatives); labels other than 0 and 1 take no part.
    dist = {
        "euclidean": lambda x, y: F.pairwise_distance(x, y, p=2),
        "cosine": lambda x, y: 1 - F.cosine_similarity(x, y),
    }[distance]
    d = dist(cols[0], cols[1])
    negs, poss = d[labels == 0], d[labels == 1]
    hard_negs = negs[negs < (poss.max() if len(poss) > 1 else negs.mean())]
    hard_poss = poss[poss > (negs.min() if len(negs) > 1 else poss.mean())]
    return hard_poss.pow(2).sum() + F.relu(margin - hard_negs).pow(2).sum()


def pairwise_angle_sim(x, y):  # util.pairwise_angle_sim, transcribed
    a, b = torch.chunk(x, 2, dim=1)
    c, d = torch.chunk(y, 2, dim=1)
    z = torch.sum(c**2 + d**2, dim=1, keepdim=True)
    re = (a * c + b * d) / z
    im = (b * c - a * d) / z
    dz = torch.sum(a**2 + b**2, dim=1, keepdim=True) ** 0.5
    dw = torch.sum(c**2 + d**2, dim=1, keepdim=True) ** 0.5
    re = re / (dz / dw)
    im = im / (dz / dw)
    return torch.abs(torch.sum(torch.concat((re, im), dim=1), dim=1))


def cosine_similarity_loss(cols, labels, **_):  # CosineSimilarityLoss: MSE of the cosine
    return F.mse_loss(torch.cosine_similarity(cols[0], cols[1]), labels.view(-1))


def cosent(cols, labels, scale=20.0, similarity=pairwise_cos_sim, **_):
    scores = similarity(cols[0], cols[1]) * scale
    scores = scores[:, None] - scores[None, :]
    ordered = (labels[:, None] < labels[None, :]).to(scores.dtype)
    scores = scores - (1 - ordered) * 1e12
    scores = torch.cat((torch.zeros(1, dtype=scores.dtype), scores.view(-1)), dim=0)
    return torch.logsumexp(scores, dim=0)


def gist(cols, guide, temperature=0.01, margin_strategy="absolute", margin=0.0, contrast_anchors=True,
         contrast_positives=True, **_):
    # GISTEmbedLoss on one device: nn.CosineSimilarity(dim=-1) over broadcast rows; a
    # candidate the guide scores above the guide's anchor-positive similarity (less the
    # margin, or times 1 - margin) is set to -inf, the anchor's own positive excepted. Each
    # negative column adds its anchor-negative block (sentence-transformers takes one).
    def sim(x, y):
        return F.cosine_similarity(x.unsqueeze(1), y.unsqueeze(0), dim=-1)
    anchor, positive = cols[0], cols[1]
    guided_ap = sim(guide[0], guide[1])
    guided_sim = guided_ap.diagonal().view(-1, 1)

    def mask_false_negatives(guided_mat, sim_mat, positive_mask=None):
        if margin_strategy == "absolute":
            mask = guided_mat > (guided_sim - margin)
        else:
            mask = guided_mat > (guided_sim * (1 - margin))
        if positive_mask is not None:
            mask = mask & ~positive_mask
        return sim_mat.masked_fill(mask, -math.inf)

    positive_mask = torch.eye(*guided_ap.shape, dtype=torch.bool)
    scores = [mask_false_negatives(guided_ap, sim(anchor, positive), positive_mask)]
    if contrast_anchors:
        scores.append(mask_false_negatives(sim(guide[0], guide[0]), sim(anchor, anchor)))
    if contrast_positives:
        scores.append(mask_false_negatives(sim(guide[1], guide[1]), sim(positive, positive)))
    for negative, negative_guide in zip(cols[2:], guide[2:]):
        scores.append(mask_false_negatives(sim(guide[0], negative_guide), sim(anchor, negative)))
    scores = torch.cat(scores, dim=1) / temperature
    return F.cross_entropy(scores, torch.arange(anchor.size(0)))


def margin_mse(cols, labels, similarity="dot", **_):  # MarginMSELoss.compute_loss_from_embeddings
    sim = {"dot": lambda a, b: (a * b).sum(dim=-1), "cosine": pairwise_cos_sim}[similarity]
    query, pos, negs = cols[0], cols[1], cols[2:]
    b = query.shape[0]
    scores_pos = sim(query, pos)
    if labels.shape == (b, len(negs) + 1):
        labels = labels[:, 0].unsqueeze(1) - labels[:, 1:]
    if labels.shape == (b,):
        labels = labels.unsqueeze(1)
    assert labels.shape == (b, len(negs))
    margins = torch.stack([scores_pos - sim(query, n) for n in negs], dim=1)
    return F.mse_loss(margins, labels)


def distill_kl_div(cols, labels, similarity="dot", temperature=1.0, **_):  # DistillKLDivLoss
    sim = {"dot": lambda a, b: (a * b).sum(dim=-1), "cosine": pairwise_cos_sim}[similarity]
    student = torch.stack([sim(cols[0], other) for other in cols[1:]], dim=1) / temperature
    log_probs = torch.log_softmax(student, dim=1)
    teacher = torch.softmax(labels / temperature, dim=1)
    return torch.nn.KLDivLoss(reduction="batchmean")(log_probs, teacher) * temperature ** 2


def mse(cols, guide, **_):  # MSELoss.forward: every column against the labels, repeated
    if len(cols) > 1:
        return F.mse_loss(torch.cat(cols, dim=0), guide[0].repeat(len(cols), 1))
    return F.mse_loss(cols[0], guide[0])


# ---- the batch triplet losses (BatchHardTripletLoss.py and its siblings) ------------------
def batch_distances(e, distance):  # BatchHardTripletLossDistanceFunction
    if distance == "cosine":
        return 1 - F.normalize(e, p=2, dim=1) @ F.normalize(e, p=2, dim=1).t()
    dot = e @ e.t()
    sq = torch.diag(dot)
    d = sq.unsqueeze(0) - 2.0 * dot + sq.unsqueeze(1)
    d[d < 0] = 0
    mask = d.eq(0).to(d.dtype)
    d = d + mask * 1e-16
    return (1.0 - mask) * torch.sqrt(d)


def hardest(labels, d):  # batch_hard_triplet_loss up to the margin
    eye = torch.eye(labels.size(0), dtype=torch.bool)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    hardest_pos = ((same & ~eye).to(d.dtype) * d).max(1, keepdim=True)[0]
    row_max = d.max(1, keepdim=True)[0]
    hardest_neg = (d + row_max * (1.0 - (~same).to(d.dtype))).min(1, keepdim=True)[0]
    return hardest_pos - hardest_neg


def batch_hard_triplet(cols, labels, distance="euclidean", margin=5.0, **_):
    tl = hardest(labels, batch_distances(cols[0], distance)) + margin
    tl[tl < 0] = 0
    return tl.mean()


def batch_hard_soft_margin_triplet(cols, labels, distance="euclidean", **_):
    return torch.log1p(torch.exp(hardest(labels, batch_distances(cols[0], distance)))).mean()


def batch_all_triplet(cols, labels, distance="euclidean", margin=5.0, **_):
    d = batch_distances(cols[0], distance)
    t = d.unsqueeze(2) - d.unsqueeze(1) + margin
    n = labels.size(0)
    distinct = ~torch.eye(n, dtype=torch.bool)
    distinct = distinct.unsqueeze(2) & distinct.unsqueeze(1) & distinct.unsqueeze(0)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    t = (same.unsqueeze(2) & ~same.unsqueeze(1) & distinct).to(d.dtype) * t
    t[t < 0] = 0
    return t.sum() / (t[t > 1e-16].size(0) + 1e-16)


def batch_semi_hard_triplet(cols, labels, distance="euclidean", margin=5.0, **_):
    def masked_min(x, m):
        top = x.max(1, keepdim=True)[0]
        return ((x - top) * m).min(1, keepdim=True)[0] + top

    def masked_max(x, m):
        bottom = x.min(1, keepdim=True)[0]
        return ((x - bottom) * m).max(1, keepdim=True)[0] + bottom

    labels = labels.unsqueeze(1)
    d = batch_distances(cols[0], distance)
    adjacency = labels == labels.t()
    n = labels.numel()
    tile = d.repeat([n, 1])
    mask = (~adjacency).repeat([n, 1]) & (tile > d.t().reshape(-1, 1))
    outside_found = (mask.sum(1, keepdim=True) > 0).reshape(n, n).t()
    outside = masked_min(tile, mask).reshape(n, n).t()
    inside = masked_max(d, ~adjacency).repeat([1, n])
    semi_hard = torch.where(outside_found, outside, inside)
    positives = adjacency.to(d.dtype) - torch.eye(n, dtype=d.dtype)
    return torch.max((d - semi_hard + margin) * positives, torch.tensor([0.0], dtype=d.dtype)).sum() / positives.sum()


LOSSES = {"mnrl": mnrl, "cached_mnrl": mnrl, "triplet": triplet, "contrastive": contrastive,
          "online_contrastive": online_contrastive, "cosent": cosent, "gist": gist,
          "angle": partial(cosent, similarity=pairwise_angle_sim), "cosine_similarity": cosine_similarity_loss, "margin_mse": margin_mse, "distill_kl_div": distill_kl_div, "mse": mse,
          "batch_hard_triplet": batch_hard_triplet, "batch_hard_soft_margin_triplet": batch_hard_soft_margin_triplet,
          "batch_all_triplet": batch_all_triplet, "batch_semi_hard_triplet": batch_semi_hard_triplet}
LABELLED = ("contrastive", "online_contrastive", "cosent", "angle", "cosine_similarity", "margin_mse",
            "distill_kl_div", "batch_hard_triplet", "batch_hard_soft_margin_triplet", "batch_all_triplet",
            "batch_semi_hard_triplet")


def loss_fn(cfg):
    inner = LOSSES[cfg["name"]]
    kw = {k: cfg[k] for k in ("scale", "symmetric", "similarity", "distance", "margin", "temperature", "margin_strategy",
                              "contrast_anchors", "contrast_positives") if k in cfg}
    mnrl_keys = ("directions", "partition_mode", "hardness_mode", "hardness_strength")
    if any(k in cfg for k in mnrl_keys):
        inner = mnrl_directions
        kw.update({k: cfg[k] for k in mnrl_keys if k in cfg})
    dims = cfg.get("matryoshka_dims", [])

    def plain(cols, labels, guide):
        if cfg["name"] in ("gist", "mse"):
            return inner(cols, guide, **kw)
        return inner(cols, labels=labels, **kw) if cfg["name"] in LABELLED else inner(cols, **kw)

    if not dims:
        return plain
    weights = cfg.get("matryoshka_weights") or [1.0] * len(dims)
    pairs = sorted(zip(dims, weights), key=lambda x: x[0], reverse=True)

    def matryoshka(cols, labels, guide):  # the guide's embeddings stay whole; mse's targets are cut
        total = 0.0
        for dim, w in pairs:
            g = [t[..., :dim] for t in guide] if cfg["name"] == "mse" else guide
            total = total + w * plain([shrink(c, dim) for c in cols], labels, g)
        return total
    return matryoshka


def layer_weight(weighting, i):  # AdaptiveLayerLoss.get_layer_weight
    if weighting == "log":
        return 1.0 / (1.0 + math.log(1 + i))
    if weighting == "linear":
        return 1.0 / (1 + i)
    return 1.0


def adaptive_layer_fn(cfg):
    """AdaptiveLayerLoss.forward on ready embeddings: `layers` holds the columns embedded
    from each prior hidden state (0 the embeddings' output), all of them taken
    (n_layers_per_step -1); the KL term compares the concatenated columns, as its
    ForwardDecorator concatenates the model's outputs."""
    fn = loss_fn(cfg)
    last_w = cfg.get("adaptive_last_layer_weight", 1.0)
    prior_w = cfg.get("adaptive_prior_layers_weight", 1.0)
    kl_w = cfg.get("adaptive_kl_div_weight", 1.0)
    temp = cfg.get("adaptive_kl_temperature", 0.3)
    weighting = cfg.get("adaptive_layer_weighting", "uniform")

    def adaptive(cols, layers, labels, guide):
        loss = fn(cols, labels, guide) * last_w
        if temp > 0:
            final = F.softmax(torch.cat(cols, dim=0) / temp, dim=-1).detach()
        for i in range(len(layers)):
            loss = loss + fn(layers[i], labels, guide) * layer_weight(weighting, i) / len(layers) * prior_w
            if temp > 0:
                kl = F.kl_div(F.log_softmax(torch.cat(layers[i], dim=0) / temp, dim=-1), final, reduction="batchmean")
                loss = loss + kl * temp * kl_w
        return loss
    return adaptive


# ---- loss cases ----------------------------------------------------------------------------
def loss_case(name, cfg, rows, dim, ncols, gen, labels=None, guide32=None, prior_layers=0):
    cols32 = [torch.randn(rows, dim, generator=gen) for _ in range(ncols)]
    cols = [c.to(torch.float64).requires_grad_() for c in cols32]
    layers32 = [[torch.randn(rows, dim, generator=gen) for _ in range(ncols)] for _ in range(prior_layers)]
    layers = [[c.to(torch.float64).requires_grad_() for c in layer] for layer in layers32]
    lab = None if labels is None else labels.to(torch.float64)
    guide = None if guide32 is None else [g.to(torch.float64) for g in guide32]
    if prior_layers:
        loss = adaptive_layer_fn(cfg)(cols, layers, lab, guide)
    else:
        loss = loss_fn(cfg)(cols, lab, guide)
    loss.backward()
    case = {"name": name, "config": cfg, "loss": float(loss),
            "columns": [tensor_json(c) for c in cols32],
            "grads": [tensor_json(c.grad) for c in cols]}
    if prior_layers:
        case["layers"] = [[tensor_json(c) for c in layer] for layer in layers32]
        case["layer_grads"] = [[tensor_json(c.grad) for c in layer] for layer in layers]
    if labels is not None:
        case["labels"] = tensor_json(labels)
    if guide32 is not None:
        case["guide"] = [tensor_json(g) for g in guide32]
    return case


def guide_columns(rows, dim, ncols, gen):
    """Guide embeddings where each row's positive is near its anchor (so the guide's
    anchor-positive similarity is high) and rows 1 and 2 are near row 0: false negatives that
    the guide screens out."""
    base = torch.randn(rows, dim, generator=gen)
    base[1:3] = base[0] + 0.3 * torch.randn(2, dim, generator=gen)
    return [base + 0.4 * torch.randn(rows, dim, generator=gen) if c < 2 else torch.randn(rows, dim, generator=gen)
            for c in range(ncols)]


def loss_cases():
    g = torch.Generator().manual_seed(1234)
    cases = []
    cases.append(loss_case("mnrl_pairs", {"name": "mnrl"}, 8, 16, 2, g))
    cases.append(loss_case("mnrl_hard_negatives", {"name": "mnrl"}, 8, 16, 4, g))
    cases.append(loss_case("mnrl_uneven", {"name": "mnrl"}, 7, 12, 3, g))
    cases.append(loss_case("mnrl_symmetric", {"name": "mnrl", "symmetric": True}, 8, 16, 3, g))
    cases.append(loss_case("mnrl_scale_5", {"name": "mnrl", "scale": 5.0}, 8, 16, 2, g))
    cases.append(loss_case("matryoshka_mnrl", {"name": "mnrl", "matryoshka_dims": [8, 16, 4],
                                               "matryoshka_weights": [0.5, 1.0, 0.25]}, 8, 16, 3, g))
    cases.append(loss_case("matryoshka_mnrl_symmetric_uneven",
                           {"name": "mnrl", "symmetric": True, "matryoshka_dims": [12, 6]},
                           7, 12, 2, g))
    cases.append(loss_case("triplet_euclidean", {"name": "triplet"}, 8, 16, 3, g))
    cases.append(loss_case("triplet_cosine", {"name": "triplet", "distance": "cosine",
                                              "margin": 0.5}, 8, 16, 3, g))
    cases.append(loss_case("triplet_manhattan", {"name": "triplet", "distance": "manhattan",
                                                 "margin": 3.0}, 7, 4, 3, g))
    binary = (torch.rand(8, generator=g) < 0.5).to(torch.float32)
    cases.append(loss_case("contrastive_cosine", {"name": "contrastive"}, 8, 16, 2, g, binary))
    binary7 = (torch.rand(7, generator=g) < 0.5).to(torch.float32)
    cases.append(loss_case("contrastive_euclidean", {"name": "contrastive", "distance": "euclidean",
                                                     "margin": 6.0}, 7, 16, 2, g, binary7))
    # Scores on a 0.25 grid so that ties (pairs that must not count) occur.
    scores = torch.randint(0, 5, (8,), generator=g).to(torch.float32) / 4
    cases.append(loss_case("cosent", {"name": "cosent"}, 8, 16, 2, g, scores))
    scores7 = torch.rand(7, generator=g)
    cases.append(loss_case("cosent_uneven_scale_10", {"name": "cosent", "scale": 10.0}, 7, 16, 2, g,
                           scores7))
    cases.append(loss_case("matryoshka_cosent", {"name": "cosent", "matryoshka_dims": [16, 8]},
                           8, 16, 2, g, scores))
    # Online contrastive: mixed labels over an uneven batch; a single positive (the
    # negatives' mean selects them); a label that is neither 0 nor 1; euclidean; Matryoshka.
    oc = {"name": "online_contrastive"}
    cases.append(loss_case("online_contrastive", oc, 9, 16, 2, g,
                           torch.tensor([1, 0, 0, 1, 0, 1, 1, 0, 0], dtype=torch.float32)))
    cases.append(loss_case("online_contrastive_one_positive", oc, 8, 16, 2, g,
                           torch.tensor([0, 0, 1, 0, 0, 0, 0, 0], dtype=torch.float32)))
    cases.append(loss_case("online_contrastive_other_label", dict(oc, margin=0.8), 8, 16, 2, g,
                           torch.tensor([1, 0, 0.5, 1, 0, 0, 1, 0], dtype=torch.float32)))
    cases.append(loss_case("online_contrastive_euclidean", dict(oc, distance="euclidean", margin=6.0),
                           8, 16, 2, g, torch.tensor([1, 0, 1, 0, 1, 0, 0, 1], dtype=torch.float32)))
    cases.append(loss_case("matryoshka_online_contrastive", dict(oc, matryoshka_dims=[16, 4]), 8, 16, 2, g,
                           torch.tensor([0, 1, 1, 0, 1, 0, 0, 1], dtype=torch.float32)))
    # GISTEmbedLoss: the defaults; an uneven batch with a negative and an absolute margin;
    # two negative columns with a relative margin; no anchor-anchor / positive-positive
    # blocks; Matryoshka (the guide stays whole).
    gi = {"name": "gist"}
    cases.append(loss_case("gist_pairs", gi, 8, 16, 2, g, guide32=guide_columns(8, 12, 2, g)))
    cases.append(loss_case("gist_negative_uneven_margin", dict(gi, margin=0.1, temperature=0.05), 7, 16, 3, g,
                           guide32=guide_columns(7, 12, 3, g)))
    cases.append(loss_case("gist_relative_two_negatives", dict(gi, margin_strategy="relative", margin=0.05,
                                                               temperature=0.05), 9, 16, 4, g,
                           guide32=guide_columns(9, 10, 4, g)))
    cases.append(loss_case("gist_no_contrast", dict(gi, contrast_anchors=False, contrast_positives=False,
                                                    temperature=0.1), 8, 16, 2, g,
                           guide32=guide_columns(8, 12, 2, g)))
    cases.append(loss_case("matryoshka_gist", dict(gi, matryoshka_dims=[16, 8], temperature=0.05), 8, 16, 3, g,
                           guide32=guide_columns(8, 12, 3, g)))
    # AnglELoss (CoSENT over the angle similarity) and CosineSimilarityLoss: graded scores
    # with ties, an uneven batch, Matryoshka.
    cases.append(loss_case("angle", {"name": "angle"}, 8, 16, 2, g, scores))
    cases.append(loss_case("angle_uneven_scale_10", {"name": "angle", "scale": 10.0}, 7, 16, 2, g, scores7))
    cases.append(loss_case("matryoshka_angle", {"name": "angle", "matryoshka_dims": [16, 8]}, 8, 16, 2, g, scores))
    cases.append(loss_case("cosine_similarity", {"name": "cosine_similarity"}, 8, 16, 2, g, scores))
    cases.append(loss_case("cosine_similarity_uneven_binary", {"name": "cosine_similarity"}, 7, 16, 2, g, binary7))
    cases.append(loss_case("matryoshka_cosine_similarity", {"name": "cosine_similarity", "matryoshka_dims": [16, 4]},
                           8, 16, 2, g, scores))
    # MNRL with dot_score as similarity_fct (models whose similarity_fn_name is dot).
    cases.append(loss_case("mnrl_dot_hard_negative", {"name": "mnrl", "similarity": "dot", "scale": 1.0}, 8, 16, 3, g))
    cases.append(loss_case("matryoshka_mnrl_dot_symmetric_uneven",
                           {"name": "mnrl", "similarity": "dot", "scale": 0.5, "symmetric": True,
                            "matryoshka_dims": [16, 8]}, 7, 16, 2, g))
    # MarginMSELoss: a teacher margin per row (one negative), per negative, or the teacher's
    # scores (positive first); dot (its default) and cosine; an uneven batch; Matryoshka.
    mm = {"name": "margin_mse"}
    cases.append(loss_case("margin_mse", mm, 8, 16, 3, g, torch.randn(8, generator=g) * 3))
    cases.append(loss_case("margin_mse_cosine_uneven", dict(mm, similarity="cosine"), 7, 16, 3, g,
                           torch.rand(7, generator=g) - 0.5))
    cases.append(loss_case("margin_mse_margins_per_negative", mm, 8, 16, 4, g, torch.randn(8, 2, generator=g) * 3))
    cases.append(loss_case("margin_mse_teacher_scores_uneven", mm, 7, 16, 4, g, torch.randn(7, 3, generator=g) * 5))
    cases.append(loss_case("matryoshka_margin_mse", dict(mm, matryoshka_dims=[16, 8]), 8, 16, 3, g,
                           torch.rand(8, generator=g) - 0.5))
    # DistillKLDivLoss: the teacher's scores of the positive and each negative; the default
    # temperature, 2 (the old default), the cosine with a small temperature, an uneven batch,
    # Matryoshka.
    kl = {"name": "distill_kl_div"}
    cases.append(loss_case("distill_kl_div", kl, 8, 16, 3, g, torch.randn(8, 2, generator=g) * 3))
    cases.append(loss_case("distill_kl_div_temperature_2_uneven", dict(kl, temperature=2.0), 7, 16, 4, g,
                           torch.randn(7, 3, generator=g) * 3))
    cases.append(loss_case("distill_kl_div_cosine", dict(kl, similarity="cosine", temperature=0.05), 8, 16, 4, g,
                           torch.rand(8, 3, generator=g)))
    cases.append(loss_case("matryoshka_distill_kl_div", dict(kl, matryoshka_dims=[16, 8]), 8, 16, 3, g,
                           torch.randn(8, 2, generator=g)))
    # MSELoss: the teacher's embeddings of the first column as the target of every column;
    # one column, an uneven batch of pairs, three columns.
    for name, rows, ncols in (("mse_texts", 8, 1), ("mse_pairs_uneven", 7, 2), ("mse_three_columns", 8, 3)):
        cases.append(loss_case(name, {"name": "mse"}, rows, 16, ncols, g,
                               guide32=[torch.randn(rows, 16, generator=g) * 0.5]))
    # MatryoshkaLoss around it cuts the targets with the embeddings (labels[:, :dim]).
    cases.append(loss_case("matryoshka_mse", {"name": "mse", "matryoshka_dims": [16, 8, 4],
                                              "matryoshka_weights": [1.0, 0.5, 2.0]}, 7, 16, 2, g,
                           guide32=[torch.nn.functional.normalize(torch.randn(7, 16, generator=g), dim=-1)]))
    # The batch triplet losses on labeled texts: classes of 1 to 4 texts in a shuffled order
    # (class 3 has no positive, the last case one class only); euclidean (their default) with
    # margins that leave some terms inactive, and cosine; uneven batches; Matryoshka.
    labels12 = torch.tensor([0, 1, 2, 0, 3, 1, 2, 2, 0, 1, 4, 4], dtype=torch.float32)
    labels11 = torch.tensor([2, 0, 1, 1, 0, 2, 3, 0, 1, 2, 2], dtype=torch.float32)
    for loss in ("batch_hard_triplet", "batch_hard_soft_margin_triplet", "batch_semi_hard_triplet",
                 "batch_all_triplet"):
        soft = loss == "batch_hard_soft_margin_triplet"
        cases.append(loss_case(loss, {"name": loss} if soft else {"name": loss, "margin": 1.0}, 12, 16, 1, g,
                               labels12))
        cases.append(loss_case(loss + "_cosine_uneven", dict({"name": loss, "distance": "cosine"},
                                                             **({} if soft else {"margin": 0.3})), 11, 16, 1, g,
                               labels11))
    cases.append(loss_case("batch_hard_triplet_default_margin", {"name": "batch_hard_triplet"}, 12, 16, 1, g,
                           labels12))
    cases.append(loss_case("batch_all_triplet_default_margin", {"name": "batch_all_triplet"}, 11, 16, 1, g,
                           labels11))
    cases.append(loss_case("matryoshka_batch_semi_hard_triplet",
                           {"name": "batch_semi_hard_triplet", "margin": 2.0, "matryoshka_dims": [16, 8]}, 12, 16, 1,
                           g, labels12))
    cases.append(loss_case("matryoshka_batch_all_triplet",
                           {"name": "batch_all_triplet", "distance": "cosine", "margin": 0.5, "matryoshka_dims": [16, 4]},
                           12, 16, 1, g, labels12))
    cases.append(loss_case("batch_hard_triplet_one_class", {"name": "batch_hard_triplet", "margin": 1.0}, 8, 16, 1, g,
                           torch.zeros(8)))
    every = {"adaptive_layer": True, "adaptive_n_layers_per_step": -1}
    cases.append(loss_case("adaptive_layer_mnrl", dict(every, name="mnrl"), 8, 16, 2, g, prior_layers=3))
    cases.append(loss_case("adaptive_layer_mnrl_linear_no_kl_uneven",
                           dict(every, name="mnrl", adaptive_layer_weighting="linear", adaptive_kl_temperature=0.0,
                                adaptive_last_layer_weight=0.5, adaptive_prior_layers_weight=2.0), 7, 12, 3, g,
                           prior_layers=2))
    cases.append(loss_case("adaptive_layer_matryoshka_cosent",
                           dict(every, name="cosent", matryoshka_dims=[16, 8], adaptive_layer_weighting="log",
                                adaptive_kl_temperature=0.5, adaptive_kl_div_weight=2.0), 8, 16, 2, g,
                           torch.rand(8, generator=g), prior_layers=4))
    gi = {"name": "gist", "temperature": 0.05}
    cases.append(loss_case("adaptive_layer_gist", dict(every, **gi), 8, 16, 3, g,
                           guide32=guide_columns(8, 16, 3, g), prior_layers=2))
    # MNRL's directions, partition modes and hardness weighting: GTE's improved contrastive
    # loss with a negative and on uneven pairs; the symmetric variant spelled out; queries and
    # documents with dot products; each hardness mode (Lan et al.'s 9, EmbeddingGemma's 5);
    # under Matryoshka.
    gte = {"name": "mnrl", "directions": ["query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"]}
    cases.append(loss_case("mnrl_gte_joint", gte, 8, 16, 3, g))
    cases.append(loss_case("mnrl_gte_pairs_uneven", gte, 7, 12, 2, g))
    cases.append(loss_case("mnrl_doc_to_query_per_direction",
                           {"name": "mnrl", "directions": ["query_to_doc", "doc_to_query"],
                            "partition_mode": "per_direction"}, 8, 16, 3, g))
    cases.append(loss_case("mnrl_query_to_query_dot", {"name": "mnrl", "directions": ["query_to_doc", "query_to_query"],
                                                       "similarity": "dot", "scale": 1.0}, 8, 16, 2, g))
    cases.append(loss_case("mnrl_hardness_in_batch", {"name": "mnrl", "hardness_mode": "in_batch_negatives",
                                                      "hardness_strength": 9.0}, 8, 16, 2, g))
    cases.append(loss_case("mnrl_hardness_hard_negatives", {"name": "mnrl", "hardness_mode": "hard_negatives",
                                                            "hardness_strength": 5.0}, 8, 16, 4, g))
    cases.append(loss_case("mnrl_gte_hardness_all_uneven", dict(gte, hardness_mode="all_negatives",
                                                                hardness_strength=3.0), 7, 12, 3, g))
    cases.append(loss_case("matryoshka_mnrl_doc_to_doc", {"name": "mnrl", "directions": ["query_to_doc", "doc_to_doc"],
                                                          "matryoshka_dims": [16, 8]}, 8, 16, 3, g))
    return cases


# ---- the tiny model ------------------------------------------------------------------------
# ids [n, L] (0 = padding) -> word embeddings -> tanh(dense) per token -> masked mean ->
# LayerNorm. Parameter names follow Hugging Face so that the no-decay rule applies.
VOCAB, HIDDEN, OUT_DIM, SEQ = 30, 12, 10, 5


def tiny_init(gen):
    return {
        "embeddings.word_embeddings.weight": torch.randn(VOCAB, HIDDEN, generator=gen) * 0.5,
        "dense.weight": torch.randn(OUT_DIM, HIDDEN, generator=gen) * 0.3,
        "dense.bias": torch.randn(OUT_DIM, generator=gen) * 0.1,
        "LayerNorm.weight": 1 + torch.randn(OUT_DIM, generator=gen) * 0.1,
        "LayerNorm.bias": torch.randn(OUT_DIM, generator=gen) * 0.1,
    }


def tiny_embed(p, ids):
    mask = (ids != 0).to(p["dense.weight"].dtype)
    h = torch.tanh(F.linear(p["embeddings.word_embeddings.weight"][ids], p["dense.weight"],
                            p["dense.bias"]))
    pooled = (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
    return F.layer_norm(pooled, (OUT_DIM,), p["LayerNorm.weight"], p["LayerNorm.bias"], 1e-12)


def random_ids(gen, rows):
    ids = torch.randint(1, VOCAB, (rows, SEQ), generator=gen)
    lengths = torch.randint(2, SEQ + 1, (rows,), generator=gen)
    for i in range(rows):
        ids[i, lengths[i]:] = 0
    return ids


# ---- Hugging Face schedules (transformers.optimization) -------------------------------------
# The lambdas of transformers.optimization, by lr_scheduler_type, with lr_scheduler_kwargs.
def hf_lambda(kind, warmup, total, base_lr=None, **kw):
    def ramp(s):
        return float(s) / float(max(1, warmup))

    def linear(s):
        if s < warmup:
            return ramp(s)
        return max(0.0, float(total - s) / float(max(1, total - warmup)))

    def progress(s):
        return float(s - warmup) / float(max(1, total - warmup))

    def cosine(s, num_cycles=0.5, min_lr_rate=0.0):
        if s < warmup:
            return ramp(s)
        f = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress(s)))
        return max(0, f * (1 - min_lr_rate) + min_lr_rate)

    def cosine_with_restarts(s, num_cycles=1):
        if s < warmup:
            return ramp(s)
        if progress(s) >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress(s)) % 1.0))))

    def polynomial(s, lr_end=1e-7, power=1.0):
        if s < warmup:
            return ramp(s)
        if s > total:
            return lr_end / base_lr
        remaining = 1 - (s - warmup) / (total - warmup)
        return ((base_lr - lr_end) * remaining ** power + lr_end) / base_lr

    def constant(s):  # get_constant_schedule: no warmup
        return 1

    def constant_with_warmup(s):
        if s < warmup:
            return float(s) / float(max(1.0, warmup))
        return 1.0

    def inverse_sqrt(s):
        timescale = warmup or 10_000
        if s < warmup:
            return ramp(s)
        return 1.0 / math.sqrt((s + timescale - warmup) / timescale)

    def cosine_with_min_lr(s, num_cycles=0.5, min_lr=None, min_lr_rate=None):
        rate = min_lr / base_lr if min_lr is not None else min_lr_rate
        return cosine(s, num_cycles, rate)

    def warmup_stable_decay(s, num_decay_steps, num_stable_steps=None, warmup_type="linear",
                            decay_type="cosine", min_lr_ratio=0.0, num_cycles=0.5):
        stable = total - warmup - num_decay_steps if num_stable_steps is None else num_stable_steps
        if s < warmup:
            p = float(s) / float(max(1, warmup))
            f = {"linear": p, "cosine": 0.5 * (1.0 - math.cos(math.pi * p)), "1-sqrt": 1.0 - math.sqrt(1.0 - p)}
            return max(0.0, f[warmup_type] * (1.0 - min_lr_ratio) + min_lr_ratio)
        if s < warmup + stable:
            return 1.0
        if s < warmup + stable + num_decay_steps:
            p = float(s - warmup - stable) / float(max(1, num_decay_steps))
            f = {"linear": 1.0 - p, "cosine": 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * p)),
                 "1-sqrt": 1.0 - math.sqrt(p)}
            return max(0.0, f[decay_type] * (1.0 - min_lr_ratio) + min_lr_ratio)
        return min_lr_ratio

    fn = {"linear": linear, "cosine": cosine, "cosine_with_restarts": cosine_with_restarts,
          "polynomial": polynomial, "constant": constant, "constant_with_warmup": constant_with_warmup,
          "inverse_sqrt": inverse_sqrt, "cosine_with_min_lr": cosine_with_min_lr,
          "warmup_stable_decay": warmup_stable_decay}[kind]
    return lambda s: fn(s, **kw)


def hf_warmup(total, warmup_steps, warmup_ratio):  # TrainingArguments.get_warmup_steps
    return warmup_steps if warmup_steps > 0 else math.ceil(total * warmup_ratio)


def lambda_lr_values(kind, base_lr, total, warmup, **kw):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, hf_lambda(kind, warmup, total, base_lr, **kw))
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def schedules():
    shapes = ((10, 0, 0.0), (10, 3, 0.0), (17, 0, 0.1), (7, 0, 0.5), (5, 8, 0.0))
    cases = [(kind, shape, {}) for kind in ("linear", "cosine", "constant_with_warmup") for shape in shapes]
    cases += [("constant", (10, 0, 0.0), {}),
              ("cosine", (23, 2, 0.0), {"num_cycles": 1.5}),
              ("cosine_with_restarts", (20, 2, 0.0), {}),
              ("cosine_with_restarts", (23, 0, 0.1), {"num_cycles": 3}),
              ("polynomial", (12, 2, 0.0), {}),
              ("polynomial", (15, 0, 0.2), {"lr_end": 1e-6, "power": 2.5}),
              ("inverse_sqrt", (20, 4, 0.0), {}),
              ("inverse_sqrt", (12, 0, 0.0), {}),
              ("cosine_with_min_lr", (14, 2, 0.0), {"min_lr": 5e-6}),
              ("cosine_with_min_lr", (14, 0, 0.25), {"min_lr_rate": 0.1, "num_cycles": 0.75}),
              ("warmup_stable_decay", (20, 3, 0.0), {"num_decay_steps": 6}),
              ("warmup_stable_decay", (20, 4, 0.0), {"num_decay_steps": 5, "num_stable_steps": 6,
                                                     "warmup_type": "cosine", "decay_type": "1-sqrt",
                                                     "min_lr_ratio": 0.1}),
              ("warmup_stable_decay", (16, 0, 0.25), {"num_decay_steps": 8, "warmup_type": "1-sqrt",
                                                      "decay_type": "linear", "min_lr_ratio": 0.05})]
    out = []
    for kind, (total, warmup_steps, ratio), kw in cases:
        warmup = hf_warmup(total, warmup_steps, ratio)
        out.append({"kind": kind, "base_lr": 2e-5, "total": total, "warmup_steps": warmup_steps,
                    "warmup_ratio": ratio, "warmup": 0 if kind == "constant" else warmup, "kwargs": kw,
                    "lrs": lambda_lr_values(kind, 2e-5, total, warmup, **kw)})
    return out


def plateaus():
    """torch.optim.lr_scheduler.ReduceLROnPlateau stepped with a sequence of metrics, as the
    Hugging Face trainer steps it at each evaluation: the rate after each step. The kwargs are
    passed as given, mode included (disttune's default, max, is written out)."""
    g = torch.Generator().manual_seed(77)
    rising = [0.1 + 0.05 * i + 0.01 * float(torch.rand(1, generator=g)) for i in range(6)]
    flat = [0.5, 0.5, 0.50001, 0.4, 0.5, 0.49, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.61]
    noisy = [float(x) for x in torch.rand(30, generator=g) * 0.2 + 0.4]
    falling = [1.0 / (1 + i) for i in range(12)] + [0.05] * 12
    cases = [({"mode": "max"}, noisy), ({"mode": "max", "patience": 0}, flat),
             ({"mode": "max", "patience": 1, "factor": 0.5}, flat + rising),
             ({"mode": "max", "patience": 2, "cooldown": 2, "factor": 0.3}, noisy),
             ({"mode": "max", "patience": 0, "threshold": 0.01, "threshold_mode": "abs"}, flat),
             ({"mode": "max", "patience": 0, "factor": 0.1, "min_lr": 1e-5}, flat),
             ({"mode": "max", "patience": 0, "factor": 0.9, "eps": 1e-4}, flat),
             ({"mode": "min", "patience": 1}, falling), ({"mode": "min", "patience": 0, "threshold_mode": "abs",
                                                          "threshold": 0.02}, falling)]
    out = []
    for kwargs, metrics in cases:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=1e-3)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        lrs = []
        for m in metrics:
            sched.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        out.append({"base_lr": 1e-3, "kwargs": kwargs, "metrics": metrics, "lrs": lrs})
    return out


# ---- training runs with the tiny model ----------------------------------------------------------
def train_run(name, loss_cfg, steps, batch, roles, gen, scheduler="cosine", warmup_ratio=0.2,
              lr=0.05, weight_decay=0.01, max_grad_norm=0.5, labels_kind=None):
    init = tiny_init(gen)
    batches = [[random_ids(gen, batch) for _ in range(roles)] for _ in range(steps)]
    labels = None
    if labels_kind == "binary":
        labels = [(torch.rand(batch, generator=gen) < 0.5).to(torch.float32) for _ in range(steps)]
    elif labels_kind == "scores":
        labels = [torch.rand(batch, generator=gen) for _ in range(steps)]

    params = {k: torch.nn.Parameter(v.clone().to(torch.float64)) for k, v in init.items()}
    no_decay = ["dense.bias", "LayerNorm.weight", "LayerNorm.bias"]  # HF rule, spelled out
    groups = [{"params": [p for k, p in params.items() if k not in no_decay],
               "weight_decay": weight_decay},
              {"params": [p for k, p in params.items() if k in no_decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    warmup = hf_warmup(steps, 0, warmup_ratio)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, hf_lambda(scheduler, warmup, steps))
    fn = loss_fn(loss_cfg)
    record = {"losses": [], "lrs": [], "grad_norms": []}
    first_grads = None
    for s in range(steps):
        record["lrs"].append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        cols = [tiny_embed(params, ids) for ids in batches[s]]
        lab = None if labels is None else labels[s].to(torch.float64)
        loss = fn(cols, lab, None)
        loss.backward()
        if first_grads is None:
            first_grads = {k: tensor_json(p.grad) for k, p in params.items()}
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), max_grad_norm)
        record["grad_norms"].append(float(norm))
        record["losses"].append(float(loss))
        opt.step()
        sched.step()
    run = {"name": name, "loss": loss_cfg, "steps": steps, "batch": batch, "roles": roles,
           "scheduler": scheduler, "warmup_ratio": warmup_ratio, "lr": lr,
           "weight_decay": weight_decay, "max_grad_norm": max_grad_norm,
           "dims": {"vocab": VOCAB, "hidden": HIDDEN, "out": OUT_DIM, "seq": SEQ},
           "init": {k: tensor_json(v) for k, v in init.items()},
           "batches": [[tensor_json(ids) for ids in b] for b in batches],
           "first_grads": first_grads,
           "final": {k: tensor_json(p) for k, p in params.items()}}
    if labels is not None:
        run["labels"] = [tensor_json(l) for l in labels]
    run.update(record)
    return run


def training_runs():
    g = torch.Generator().manual_seed(99)
    return [
        train_run("mnrl_hard_negative", {"name": "mnrl"}, 6, 8, 3, g),
        train_run("mnrl_symmetric_linear", {"name": "mnrl", "symmetric": True}, 5, 8, 2, g,
                  scheduler="linear", warmup_ratio=0.0),
        train_run("matryoshka_mnrl_uneven", {"name": "mnrl", "matryoshka_dims": [10, 4]}, 5, 7, 2, g,
                  scheduler="constant_with_warmup", warmup_ratio=0.4),
        # Cosine, not euclidean: a euclidean triplet loss is blind to LayerNorm.bias (it
        # cancels in every difference), so its gradient is rounding noise that AdamW's
        # normalisation would blow up to +-lr in either implementation.
        train_run("triplet", {"name": "triplet", "distance": "cosine", "margin": 0.5}, 5, 8, 3, g,
                  max_grad_norm=1.0),
        train_run("cosent", {"name": "cosent"}, 5, 8, 2, g, labels_kind="scores"),
        train_run("contrastive", {"name": "contrastive"}, 5, 6, 2, g, labels_kind="binary"),
    ]


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    for fname, obj in (("losses.json", {"cases": loss_cases()}),
                       ("training.json", {"runs": training_runs()}),
                       ("schedules.json", {"schedules": schedules(), "plateaus": plateaus()})):
        with open(os.path.join(OUT, fname), "w") as f:
            json.dump(obj, f, separators=(",", ":"))
        print(fname, os.path.getsize(os.path.join(OUT, fname)), "bytes")


if __name__ == "__main__":
    main()
