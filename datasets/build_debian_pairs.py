#!/usr/bin/env python3
"""Builds the quickstart retrieval set from the Debian package index on this machine.

Query: a package's one-line summary. Document: its long description. Source: the English
descriptions index (Translation-en) that `apt-get update -o Acquire::Languages=en` fetches
into /var/lib/apt/lists. Deterministic given that index: packages are read in name order,
pairs whose summary or description is not unique are dropped (a query must have exactly one
right answer), and very short texts are dropped.

Writes JSONL rows {"id": package, "anchor": summary, "positive": description}.
usage: build_debian_pairs.py OUTPUT.jsonl [--lists /var/lib/apt/lists]
"""
import argparse
import collections
import glob
import hashlib
import json
import os
import subprocess
import sys

MIN_QUERY_WORDS = 2
MIN_DOC_WORDS = 8


def read_index(path):
    """The (possibly compressed) index as text; apt-helper knows every apt compression."""
    if path.endswith((".lz4", ".xz", ".gz", ".bz2", ".zst")):
        out = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True,
                             capture_output=True).stdout
    else:
        with open(path, "rb") as f:
            out = f.read()
    return out.decode("utf-8", errors="replace")


def parse(text):
    """Yields (package, summary, description) from deb822 stanzas."""
    for stanza in text.split("\n\n"):
        pkg, summary, body, in_desc = None, None, [], False
        for line in stanza.split("\n"):
            if line.startswith("Package:"):
                pkg = line.split(":", 1)[1].strip()
                in_desc = False
            elif line.startswith("Description-en:"):
                summary = line.split(":", 1)[1].strip()
                in_desc = True
            elif in_desc and line.startswith(" "):
                s = line[1:].rstrip()
                body.append("" if s == "." else s.strip())
            else:
                in_desc = False
        if pkg and summary and body:
            yield pkg, summary, " ".join(s for s in body if s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output")
    ap.add_argument("--lists", default="/var/lib/apt/lists")
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.lists, "*_i18n_Translation-en*")))
    files = [f for f in files if not f.endswith((".diff", "Index"))]
    if not files:
        sys.exit("build_debian_pairs: no Translation-en index under %s; run "
                 "'apt-get update -o Acquire::Languages=en' first" % args.lists)
    by_pkg = {}
    for f in files:
        for pkg, summary, desc in parse(read_index(f)):
            by_pkg.setdefault(pkg, (summary, desc))  # first index (sorted name) wins
    rows = [(p, s, d) for p, (s, d) in sorted(by_pkg.items())
            if len(s.split()) >= MIN_QUERY_WORDS and len(d.split()) >= MIN_DOC_WORDS]
    q_count = collections.Counter(s.lower() for _, s, _ in rows)
    d_count = collections.Counter(d for _, _, d in rows)
    rows = [r for r in rows if q_count[r[1].lower()] == 1 and d_count[r[2]] == 1]

    tmp = args.output + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    h = hashlib.sha256()
    with open(tmp, "w", encoding="utf-8") as out:
        for pkg, summary, desc in rows:
            line = json.dumps({"id": pkg, "anchor": summary, "positive": desc},
                              ensure_ascii=False) + "\n"
            h.update(line.encode())
            out.write(line)
    os.replace(tmp, args.output)
    print("build_debian_pairs: %d pairs from %d packages (%s) -> %s  sha256 %s" %
          (len(rows), len(by_pkg), ", ".join(os.path.basename(f) for f in files), args.output,
           h.hexdigest()[:16]))


if __name__ == "__main__":
    main()
