#!/usr/bin/python3
"""Scaling model for disttune training: predicted step time and scaling efficiency of the
MNRL step on H100 GPUs at 8, 64 and 512 GPUs, and the measured CPU step of this machine
taken apart. docs/scaling.md explains every assumption; this script prints its tables.

  /usr/bin/python3 benchmarks/scaling_model.py                 # reads build/benchmarks.json if present
  /usr/bin/python3 benchmarks/scaling_model.py --json FILE --anchor-seq 32 --seq 128

What a step does (src/train/trainer.cpp, mnrl.cpp, grad_reducer.cpp) and what it costs:
  compute     3 x forward FLOPs of global_batch / p pairs per GPU (+1 forward for cached MNRL)
  all-gather  the gathered embedding columns (positives and, for symmetric MNRL or a hard
              negative, a second column) of the whole global batch, float32; its backward
              is a reduce-scatter of the same size
  all-reduce  the float32 gradients of every trainable parameter, in 25 MB buckets, after
              the last backward (no overlap today)
  optimizer   AdamW over fp32 master weights, memory-bound
Only numbers from the standard library: no numpy needed.
"""
import argparse
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- Models ---------------------------------------------------------------------------
MODELS = {
    "MiniLM (all-MiniLM-L6-v2)": dict(layers=6, hidden=384, heads=12, inter=1536),
    "bge-base (bge-base-en-v1.5)": dict(layers=12, hidden=768, heads=12, inter=3072, cls=True),
}
VOCAB, POSITIONS = 30522, 512

# ---- H100 SXM and its fabric: stated figures and assumptions (docs/scaling.md) -------------
PEAK = 989e12          # bf16 dense tensor-core FLOP/s
HBM = 3.35e12          # HBM3 bytes/s
GPU_MEM = 80e9         # bytes; plan to use at most MEM_USE of it
MEM_USE = 0.8
MFU = {"MiniLM (all-MiniLM-L6-v2)": 0.25, "bge-base (bge-base-en-v1.5)": 0.40}  # at large local batch
OP_US = 5e-6           # host time per eager op (libtorch dispatch + CUDA launch)
NVLINK_BW = 450e9      # bytes/s per GPU, one direction (NVLink 4, 18 links x 25 GB/s)
IB_BW = 50e9           # bytes/s per GPU, one direction (NDR 400 Gb/s, one NIC per GPU)
ALPHA_NVLINK = 1.5e-6  # seconds per step of a ring/tree inside a node
ALPHA_IB = 5e-6        # seconds per step across nodes
GPUS_PER_NODE = 8
BUCKET = 25 * 2**20    # distributed.bucket_mb default
GATHERED_COLUMNS = 2   # symmetric MNRL (the quickstart) or pairs + one hard negative; plain MNRL: 1
KEEP_LAST_BUDGET = 64 << 20  # GradCache::kKeepLastBudget
EMB_BYTES = 4          # embeddings gathered in float32 (the loss runs in float32)
GRAD_BYTES = 4         # gradients of fp32 master weights
# Per-parameter memory: fp32 master (4) + grad (4) + Adam m, v (8) + bf16 weight cache (2).
STATE_BYTES = 18
ZERO1_SHARDED = 12     # master weights and Adam moments are what ZeRO-1 shards


def params(m):
    h, i, l = m["hidden"], m["inter"], m["layers"]
    emb = (VOCAB + POSITIONS + 2) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    return emb + l * layer  # the pooler is not trained


def forward_flops(m, t):
    """Forward FLOPs of one sequence of t tokens (as benchmarks/train_bench.cpp counts). A
    model that pools CLS runs its last layer for the first token only, but K and V for all."""
    h, i = m["hidden"], m["inter"]
    layer = 2.0 * t * (4 * h * h + 2 * h * i) + 4.0 * t * t * h
    if not m.get("cls"):
        return m["layers"] * layer
    last = 2.0 * t * 2 * h * h + 2.0 * (2 * h * h + 2 * h * i) + 4.0 * t * h
    return (m["layers"] - 1) * layer + last


def pair_flops(m, ta, tp):
    return 3.0 * (forward_flops(m, ta) + forward_flops(m, tp))


def activation_bytes(m, t):
    """Activation memory of one sequence for backward, 16-bit activations with dropout:
    s h (34 + 5 a s / h) bytes per layer (Korthikanti et al. 2022, eager attention)."""
    h, a = m["hidden"], m["heads"]
    return m["layers"] * t * h * (34 + 5.0 * a * t / h)


def ops_per_encode(m, grad):
    """Eager ops of one encoder pass: ~16 per layer forward, ~2x that for backward."""
    return m["layers"] * (16 + (32 if grad else 0)) + 10


# ---- Collectives -------------------------------------------------------------------------
# Ring: all-reduce 2(p-1)/p S/B + 2(p-1) alpha; all-gather / reduce-scatter (p-1)/p S/B + (p-1) alpha.
# Tree (double binary tree, NCCL): about the same bandwidth term, latency 2 log2(p) alpha.

def ring_allreduce(S, p, bw, alpha):
    return 0.0 if p == 1 else 2 * (p - 1) / p * S / bw + 2 * (p - 1) * alpha


def ring_gather(S, p, bw, alpha):
    """All-gather (or reduce-scatter) whose full result is S bytes."""
    return 0.0 if p == 1 else (p - 1) / p * S / bw + (p - 1) * alpha


def tree_allreduce(S, p, bw, alpha):
    return 0.0 if p == 1 else 2 * (p - 1) / p * S / bw + 2 * math.log2(p) * alpha


NETWORKS = ["NVLink domain", "IB flat ring", "IB hierarchical"]


def allreduce(S, p, net):
    """One all-reduce of S bytes over p GPUs."""
    if p <= GPUS_PER_NODE or net == "NVLink domain":
        return ring_allreduce(S, p, NVLINK_BW, ALPHA_NVLINK)
    if net == "IB flat ring":  # one ring; its node-to-node hops run at one NIC's bandwidth
        return ring_allreduce(S, p, IB_BW, ALPHA_IB)
    # Hierarchical: reduce-scatter in the node (NVLink), all-reduce of the 1/8 shard across
    # nodes (8 rails in parallel, tree latency), all-gather in the node.
    g, n = GPUS_PER_NODE, p // GPUS_PER_NODE
    return 2 * ring_gather(S, g, NVLINK_BW, ALPHA_NVLINK) + tree_allreduce(S / g, n, IB_BW, ALPHA_IB)


def allgather(S, p, net):
    """All-gather whose result is S bytes (the reduce-scatter of its backward costs the same)."""
    if p <= GPUS_PER_NODE or net == "NVLink domain":
        return ring_gather(S, p, NVLINK_BW, ALPHA_NVLINK)
    if net == "IB flat ring":
        return ring_gather(S, p, IB_BW, ALPHA_IB)
    g, n = GPUS_PER_NODE, p // GPUS_PER_NODE  # across nodes on 8 rails, then inside the node
    return ring_gather(S / g, n, IB_BW, ALPHA_IB) + ring_gather(S, g, NVLINK_BW, ALPHA_NVLINK)


# ---- One step on p GPUs -----------------------------------------------------------------

def plan_memory(m, local, gb, p, ta, tp, zero1):
    """Plain MNRL when the activations of the local batch fit, else cached MNRL with the
    largest power-of-two mini-batch that fits. Returns (mini_batch: 0 = plain, None = does
    not fit at all, bytes per GPU)."""
    n = params(m)
    state = n * (STATE_BYTES - ZERO1_SHARDED + ZERO1_SHARDED / p if zero1 else STATE_BYTES)
    gathered = gb * m["hidden"] * GATHERED_COLUMNS * EMB_BYTES
    # Scores, probabilities and their gradient, float32: local rows x global candidates for
    # each gathered column (symmetric MNRL: both directions).
    scores = 3 * local * gb * GATHERED_COLUMNS * 4
    fixed = state + 2 * gathered + scores
    per_pair = activation_bytes(m, ta) + activation_bytes(m, tp)
    budget = GPU_MEM * MEM_USE
    if fixed + local * per_pair <= budget:
        return 0, fixed + local * per_pair
    # Cached MNRL also keeps every local embedding (both columns, float32) and their gradients.
    fixed += 2 * local * 2 * m["hidden"] * 4
    if fixed + per_pair > budget:
        return None, fixed + per_pair
    mb = 1
    while mb * 2 <= local and fixed + 2 * mb * per_pair <= budget:
        mb *= 2
    return mb, fixed + mb * per_pair


def step(name, gb, p, net, ta, tp, fixes=False):
    """Seconds of one optimizer step and its parts (None when it does not fit in memory).
    fixes: gradient all-reduce overlapped with backward, bf16 gradients on the wire, ZeRO-1
    optimizer sharding."""
    m = MODELS[name]
    local = gb / p
    n = params(m)
    mb, mem = plan_memory(m, local, gb, p, ta, tp, zero1=fixes)
    if mb is None:
        return dict(local=local, mini_batch=None, memory=mem)
    t_pass = local * pair_flops(m, ta, tp) / (PEAK * MFU[name])  # forward + backward, graph kept
    chunks = math.ceil(local / mb) if mb else 1
    # Cached MNRL: one more forward, without a graph, before the passes with it, but for the
    # last mini-batch, whose graph disttune keeps when the loss's score matrices are at most
    # 64 MiB (train/grad_cache.h); of the 2 x chunks first-pass forwards, that one is not repeated.
    kept = 1 if mb and 3 * 4 * local * gb * GATHERED_COLUMNS <= KEEP_LAST_BUDGET else 0
    repeated = (2 * chunks - kept) / (2 * chunks)
    ops = 2 * chunks * ops_per_encode(m, True) + ((2 * chunks - kept) * ops_per_encode(m, False) if mb else 0) + 50
    t_math = t_pass * (1.0 + repeated / 3.0 if mb else 1.0)
    t_compute = max(t_math, ops * OP_US)
    gathered = gb * m["hidden"] * GATHERED_COLUMNS * EMB_BYTES
    t_gather = 2 * allgather(gathered, p, net)  # forward gather + backward reduce-scatter
    grad_bytes = n * (2 if fixes else GRAD_BYTES)
    t_reduce = allreduce(grad_bytes, p, net)
    # Fused AdamW: read p, g, m, v, write p, m, v (fp32) and the bf16 weight copy.
    t_opt = n * 30 / HBM / (p if fixes else 1)
    if fixes:
        # ZeRO-1: reduce-scatter + all-gather cost what the all-reduce costs (it is how a ring
        # all-reduce works), so no extra term. A bucket can go once its gradients are final:
        # during the backward of the (last) pass with a graph, 2/3 of that pass; the last
        # bucket is always exposed.
        window = (2.0 / 3.0) * t_compute * (t_pass / t_math) / chunks
        last_bucket = t_reduce * min(1.0, BUCKET / grad_bytes)
        exposed = max(last_bucket, t_reduce - window)
        total = t_compute + t_gather + exposed + t_opt
    else:
        total = t_compute + t_gather + t_reduce + t_opt
    ideal = gb * pair_flops(m, ta, tp) / (PEAK * MFU[name])
    return dict(local=local, mini_batch=mb, memory=mem, compute=t_compute, gather=t_gather,
                reduce=t_reduce, optimizer=t_opt, total=total, efficiency=ideal / (p * total))


# ---- Output -------------------------------------------------------------------------------

def ms(x):
    """Seconds as milliseconds, three significant digits (no exponent)."""
    v = x * 1e3
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def sizes_table(ta, tp):
    print(f"### Sizes (anchors {ta} tokens, positives {tp} tokens)\n")
    print("| model | parameters | gradients (fp32) | forward+backward GFLOP per pair | activations per pair (bf16) "
          "| gathered at gb 512 | gathered at gb 65536 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, m in MODELS.items():
        n = params(m)
        g = lambda gb: gb * m["hidden"] * GATHERED_COLUMNS * EMB_BYTES
        print(f"| {name} | {n / 1e6:.1f} M | {n * 4 / 1e6:.0f} MB | {pair_flops(m, ta, tp) / 1e9:.1f} | "
              f"{(activation_bytes(m, ta) + activation_bytes(m, tp)) / 2**20:.1f} MiB | {g(512) / 1e6:.1f} MB | "
              f"{g(65536) / 1e6:.0f} MB |")
    print()


def gpu_tables(ta, tp):
    for name in MODELS:
        for gb in (512, 65536):
            print(f"### {name}, global batch {gb}\n")
            print("| GPUs | network | pairs/GPU | MNRL | memory/GPU | compute ms | gather+RS ms | all-reduce ms "
                  "| AdamW ms | step ms today | efficiency today | step ms with fixes | efficiency with fixes |")
            print("| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for p in (1, 8, 64, 512):
                for net in (NETWORKS[:1] if p <= GPUS_PER_NODE else NETWORKS):
                    s, f = step(name, gb, p, net, ta, tp), step(name, gb, p, net, ta, tp, fixes=True)
                    where = "one GPU" if p == 1 else ("one node (NVLink)" if p <= GPUS_PER_NODE else net)
                    if s["mini_batch"] is None:
                        print(f"| {p} | {where} | {s['local']:g} | does not fit: {s['memory'] / 1e9:.0f} GB "
                              f"before activations | | | | | | | | | |")
                        continue
                    mode = f"cached, mb {s['mini_batch']}" if s["mini_batch"] else "plain"
                    print(f"| {p} | {where} | {s['local']:g} | {mode} | {s['memory'] / 1e9:.1f} GB | {ms(s['compute'])} | "
                          f"{ms(s['gather'])} | {ms(s['reduce'])} | {ms(s['optimizer'])} | {ms(s['total'])} | "
                          f"{s['efficiency']:.0%} | {ms(f['total'])} | {f['efficiency']:.0%} |")
            print()


def allreduce_table():
    print("### Gradient all-reduce alone (fp32), ring vs tree vs hierarchical\n")
    print("| model | GPUs | NVLink domain ring | IB flat ring | IB flat tree | IB hierarchical |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, m in MODELS.items():
        S = params(m) * GRAD_BYTES
        for p in (8, 64, 512):
            ib = p > GPUS_PER_NODE
            print(f"| {name} | {p} | {ms(ring_allreduce(S, p, NVLINK_BW, ALPHA_NVLINK))} | "
                  f"{ms(ring_allreduce(S, p, IB_BW, ALPHA_IB)) if ib else '-'} | "
                  f"{ms(tree_allreduce(S, p, IB_BW, ALPHA_IB)) if ib else '-'} | "
                  f"{ms(allreduce(S, p, 'IB hierarchical')) if ib else '-'} |")
    print("\n(ms; latency part of the flat ring at 512 GPUs: "
          f"{ms(2 * 511 * ALPHA_IB)} ms, of the tree: {ms(2 * 9 * ALPHA_IB)} ms)\n")


def cpu_section(path):
    """The measured CPU steps of this machine at np 1 and np 2, with the communication of the
    np 2 step predicted from the measured collectives."""
    if not os.path.exists(path):
        print(f"{path} not found: run benchmarks/run first.\n")
        return
    with open(path) as f:
        data = json.load(f)
    runs = data.get("runs", [])
    comm = next((r["result"] for r in runs if r["name"] == "comm" and r.get("result")), None)
    mach = data.get("machine", {})
    load = mach.get("load_average", [0])[0]
    print(f"Measured on {mach.get('cpu', '?')}, {mach.get('cores', '?')} cores, {mach.get('date', '')} "
          f"(load average {load:.1f} at the start of the run).\n")
    if not comm:
        print("(no comm entry in the JSON)\n")
        return
    lat = comm["all_reduce_1_float_s"]
    big = max(comm["all_reduce"], key=lambda q: q["floats"])
    busbw = big["busbw_GBps"] * 1e9
    gathers = {q["dim"]: q for q in comm["all_gather"]}
    ar = ", ".join(f'{q["floats"] / 1e6:.1f} M floats {ms(q["seconds"])} ms ({q["busbw_GBps"]:.2f} GB/s bus)'
                   for q in comm["all_reduce"])
    ag = ", ".join(f'{q["rows"]} x {q["dim"]} {q["seconds"] * 1e6:.0f} µs' for q in comm["all_gather"])
    print(f"MPI over shared memory, {comm['world_size']} ranks: one-float all-reduce {lat * 1e6:.0f} µs; "
          f"all-reduce {ar}; all-gather {ag}.\n")
    steps = {}
    for r in runs:
        x = r.get("result")
        if r["name"] != "train" or not x:
            continue
        for pt in x["points"]:
            tokens = "financial-rag lengths" if x.get("lengths") else f'{x["anchor_seq"]}+{x["seq"]}'
            key = (x["layers"], x["hidden"], x.get("intermediate", 4 * x["hidden"]), x.get("heads", 12),
                   tokens, x.get("mini_batch", 0), x.get("dropout", 0), x.get("precision", "fp32"),
                   x.get("pooling", "mean"), pt["global_batch"])
            steps.setdefault(key, {})[x["world_size"]] = pt
    print("| model | tokens | global batch | step s, np 1 | step s, np 2 | np 2 / np 1 pairs/s | MFU np 1 / np 2 "
          "| np 2 communication s (predicted) | its share of the np 2 step |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for key, by_np in steps.items():
        layers, hidden, inter, heads, tokens, mb, dropout, precision, pooling, gb = key
        m = dict(layers=layers, hidden=hidden, heads=heads, inter=inter)
        one, two = by_np.get(1), by_np.get(2)
        # Gradient all-reduce at the measured bus bandwidth; the gather (and its reduce-scatter)
        # of the gathered columns from the measured all-gather of 2 x 512 rows, scaled.
        t_comm = ring_allreduce(params(m) * 4, 2, busbw, lat / 2)
        if hidden in gathers:
            g = gathers[hidden]
            t_comm += 2 * g["seconds"] * (gb / 512)
        cells = [f"{one['seconds_per_step']:.2f}" if one else "", f"{two['seconds_per_step']:.2f}" if two else "",
                 f"{one['seconds_per_step'] / two['seconds_per_step']:.2f}" if one and two else "",
                 f"{one['mfu']:.2f} / {two['mfu']:.2f}" if one and two else "",
                 f"{t_comm:.3f}", f"{t_comm / two['seconds_per_step']:.1%}" if two else ""]
        name = f"{layers}x{hidden}" + (f" cached mb {mb}" if mb else "") + (f", dropout {dropout:g}" if dropout else "") \
            + (f", {pooling} pooling" if pooling != "mean" else "") + (f", {precision}" if precision != "fp32" else "")
        print(f"| {name} | {tokens} | {gb} | " + " | ".join(cells) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=os.path.join(os.path.dirname(HERE), "build", "benchmarks.json"))
    ap.add_argument("--anchor-seq", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--section", choices=["all", "sizes", "allreduce", "gpu", "cpu"], default="all")
    a = ap.parse_args()
    if a.section in ("all", "sizes"):
        sizes_table(a.anchor_seq, a.seq)
    if a.section in ("all", "allreduce"):
        allreduce_table()
    if a.section in ("all", "gpu"):
        gpu_tables(a.anchor_seq, a.seq)
    if a.section in ("all", "cpu"):
        cpu_section(a.json)


if __name__ == "__main__":
    main()
