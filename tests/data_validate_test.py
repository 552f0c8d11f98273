"""`disttune validate` reads the data files the config names: bad rows are reported with
file:line:column under data.on_bad_row: error (once, also under mpirun), and counted under
skip; the split sizes are printed."""
import json
import os
import sys
import tempfile
import unittest

import dt

VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")


class DataValidate(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "qa.csv")
        with open(self.data, "w", newline="") as f:
            f.write("question,context\r\n")
            for i in range(20):
                f.write(f'"q{i}, what?","context {i}\nsecond line"\r\n')
            f.write('q20,""\r\n')  # line 42: an empty context
        self.cfg = os.path.join(self.tmp.name, "cfg.yaml")
        with open(self.cfg, "w") as f:
            f.write(f"model:\n  init: {{vocab: {VOCAB}}}\n"
                    f"data:\n  train: {self.data}\n  columns: {{anchor: question, positive: context}}\n"
                    "training:\n  global_batch_size: 8\n")

    def tearDown(self):
        self.tmp.cleanup()

    def test_bad_row_stops_validation_with_its_location(self):
        for np in (None, 2):
            r = dt.run([dt.DISTTUNE, "validate", self.cfg], np=np)
            self.assertNotEqual(r.rc, 0, r)
            lines = [l for l in r.err.splitlines() if l.startswith("disttune: error:")]
            self.assertEqual(lines, [f"disttune: error: {self.data}:42: column 'context' (positive): empty text"], r)

    def test_skip_counts_and_the_split_is_reported(self):
        r = dt.run([dt.DISTTUNE, "validate", self.cfg, "--set", "data.on_bad_row=skip"])
        self.assertEqual(r.rc, 0, r)
        self.assertIn(f"# data.train: pairs, 21 rows read, 20 kept, 1 skipped (empty text: 1); "
                      f"first skipped: {self.data}:42: column 'context' (positive): empty text\n", r.out)
        self.assertIn("# split: 16 train, 2 val, 2 test\n", r.out)

    def test_a_mapping_without_positive_points_at_the_config(self):
        r = dt.run([dt.DISTTUNE, "validate", self.cfg, "--set", "data.columns={anchor: question}"])
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("--set data.columns: data.columns: column mapping: needs roles anchor and positive", r.err)

    def test_the_loss_is_checked_against_its_keys_and_the_data(self):
        """validate refuses what train would refuse at its start: loss keys that the loss does not
        read, and a loss that does not take the data's columns."""
        for sets, error in (
                (["loss.margin=0.3"], "loss.margin: only triplet, contrastive, online_contrastive, (cached_)gist, "
                                      "batch_hard_triplet, batch_semi_hard_triplet and batch_all_triplet have a "
                                      "margin, not mnrl"),
                (["loss.name=triplet"], "loss.name: triplet takes 3 text columns; data.columns maps 2 (pairs)"),
                (["loss.name=cosent"], "loss.name: cosent needs scored pairs (sentence1, sentence2, score)")):
            for command in ("validate", "train"):
                r = dt.run([dt.DISTTUNE, command, self.cfg, "--set", "data.on_bad_row=skip"] +
                           [a for s in sets for a in ("--set", s)], np=2)
                self.assertNotEqual(r.rc, 0, r)
                self.assertIn(error, r.err)
                self.assertNotIn("tokens:", r.out)  # refused before the token store


    def test_beir_pairs_feed_a_datasets_entry(self):
        """datasets/beir_pairs.py writes a BEIR split's relevant (query, document) pairs, the
        document as evaluation reads it (title + " " + text); validate reads them as a datasets:
        entry and reports it beside data.train."""
        beir = os.path.join(self.tmp.name, "beir")
        os.makedirs(os.path.join(beir, "qrels"))
        with open(os.path.join(beir, "queries.jsonl"), "w") as f:
            f.write('{"_id": "q1", "text": "what is a cell?"}\n{"_id": "q2", "text": "why \u00e9t\u00e9?"}\n')
        with open(os.path.join(beir, "corpus.jsonl"), "w") as f:
            f.write('{"_id": "7", "title": "Cells", "text": "A cell is small."}\n'
                    '{"_id": "8", "title": "", "text": "Summer is warm."}\n')
        with open(os.path.join(beir, "qrels", "train.tsv"), "w") as f:
            f.write("query-id\tcorpus-id\tscore\r\nq1\t7\t1\r\nq1\t8\t0\r\nq2\t8\t2\r\n")
        out = os.path.join(self.tmp.name, "beir_pairs.jsonl")
        r = dt.run([sys.executable, os.path.join(dt.SOURCE, "datasets", "beir_pairs.py"), beir, out])
        self.assertEqual(r.rc, 0, r)
        with open(out, encoding="utf-8") as f:
            rows = [json.loads(l) for l in f]
        self.assertEqual(rows, [{"anchor": "what is a cell?", "positive": "Cells A cell is small."},
                                {"anchor": "why \u00e9t\u00e9?", "positive": "Summer is warm."}])
        with open(self.cfg, "a") as f:
            f.write(f"datasets:\n  beir:\n    train: {out}\n    columns: {{anchor: anchor, positive: positive}}\n")
        r = dt.run([dt.DISTTUNE, "validate", self.cfg, "--set", "data.on_bad_row=skip"])
        self.assertEqual(r.rc, 0, r)
        self.assertIn("# datasets.beir: pairs, 2 rows read, all kept; loss mnrl", r.out)
        self.assertIn("    train: \"" + out + "\"", r.out)  # the resolved config carries the entry


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
