#!/usr/bin/python3
"""Sets two chrome traces of one train step side by side, op by op: self time (the op's
duration minus the ops nested in it, per thread) and call counts, largest first.

  build/disttune_bench train --batches=64 ... --profile=/tmp/disttune.json
  /usr/bin/python3 benchmarks/ref_train.py --batches 64 ... --profile /tmp/torch.json
  /usr/bin/python3 benchmarks/profile_compare.py /tmp/disttune.json /tmp/torch.json [--top 30]

Both come from libtorch's profiler (RecordProfile in C++, torch.autograd.profiler in
Python), so op names match; autograd nodes (AddmmBackward0, ...) are named the same way
after the Python profiler's "autograd::engine::evaluate_function: " prefix is removed.
"""
import argparse
import collections
import json

PREFIX = "autograd::engine::evaluate_function: "


def self_times(path):
    """{name: [calls, self seconds]} and the traced wall time in seconds."""
    with open(path) as f:
        events = [e for e in json.load(f) if e.get("ph") == "X"]
    by_tid = collections.defaultdict(list)
    for e in events:
        by_tid[e.get("tid")].append(e)
    out = collections.defaultdict(lambda: [0, 0.0])
    for evs in by_tid.values():
        evs.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack = []  # [end, name, child time]
        for e in evs:
            ts, dur = float(e["ts"]), float(e["dur"])
            while stack and stack[-1][0] <= ts:
                end, name, child, d = stack.pop()
                out[name][1] += (d - child) / 1e6
            if stack:
                stack[-1][2] += dur
            name = e["name"][len(PREFIX):] if e["name"].startswith(PREFIX) else e["name"]
            out[name][0] += 1
            stack.append([ts + dur, name, 0.0, dur])
        while stack:
            end, name, child, d = stack.pop()
            out[name][1] += (d - child) / 1e6
    wall = (max(float(e["ts"]) + float(e["dur"]) for e in events) - min(float(e["ts"]) for e in events)) / 1e6
    return out, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ours")
    ap.add_argument("theirs")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    ours, wall_ours = self_times(a.ours)
    theirs, wall_theirs = self_times(a.theirs)
    names = sorted(set(ours) | set(theirs), key=lambda n: -max(ours.get(n, [0, 0])[1], theirs.get(n, [0, 0])[1]))
    print(f"traced wall time: disttune {wall_ours:.3f} s, PyTorch {wall_theirs:.3f} s\n")
    print("| op | disttune calls | disttune self s | PyTorch calls | PyTorch self s | PyTorch - disttune s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for n in names[:a.top]:
        c1, s1 = ours.get(n, [0, 0.0])
        c2, s2 = theirs.get(n, [0, 0.0])
        print(f"| {n} | {c1} | {s1:.3f} | {c2} | {s2:.3f} | {s2 - s1:+.3f} |")
    rest1 = sum(v[1] for n, v in ours.items() if n not in names[:a.top])
    rest2 = sum(v[1] for n, v in theirs.items() if n not in names[:a.top])
    print(f"| (the other ops) | | {rest1:.3f} | | {rest2:.3f} | {rest2 - rest1:+.3f} |")


if __name__ == "__main__":
    main()
