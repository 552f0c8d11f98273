"""disttune tokenize: JSON lines in, one array of token ids per line out, equal to the
committed transformers.js golden ids with sentence-transformers truncation; bad lines are
reported as <stdin>:LINE with a non-zero exit code."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import dt

GOLDEN = os.path.join(dt.SOURCE, "tests", "golden", "text", "minilm_tokens.jsonl")
VOCAB = os.path.join(dt.SOURCE, "datasets", "vocab", "bert-base-uncased.txt")
MINILM = os.path.join(dt.DATA, "all-MiniLM-L6-v2")


def golden_cases():
    with open(GOLDEN, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if "text" in r]


def st_truncate(ids, max_length):
    """sentence-transformers truncation of a full [CLS] ... [SEP] row."""
    return ids if len(ids) <= max_length else ids[:max_length - 1] + [ids[-1]]


@unittest.skipUnless(os.path.exists(GOLDEN), f"golden file {GOLDEN} is absent")
class Tokenize(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        # A model directory with the bundled vocabulary (the one all-MiniLM-L6-v2 uses).
        self.model = os.path.join(self.tmp.name, "model")
        os.mkdir(self.model)
        shutil.copy(VOCAB, os.path.join(self.model, "vocab.txt"))
        with open(os.path.join(self.model, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": True}, f)
        self.cases = golden_cases()

    def tearDown(self):
        self.tmp.cleanup()

    def tokenize(self, model, stdin, *flags, np=None):
        return dt.run([dt.DISTTUNE, "tokenize", "--model", model, *flags], stdin=stdin, np=np)

    def check_golden(self, model, max_length, flags=(), ensure_ascii=True):
        # Every 4th case, plus all the long ones: over-length texts exercise truncation.
        cases = [c for i, c in enumerate(self.cases) if i % 4 == 0 or len(c["ids"]) > max_length]
        stdin = "".join(json.dumps({"text": c["text"]}, ensure_ascii=ensure_ascii) + "\n" for c in cases)
        r = self.tokenize(model, stdin, *flags)
        self.assertEqual(r.rc, 0, r)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), len(cases), r)
        for c, line in zip(cases, lines):
            self.assertEqual(line, json.dumps(st_truncate(c["ids"], max_length), separators=(",", ":")),
                             f"text: {c['text']!r}")

    def test_golden_ids_with_explicit_max_length(self):
        self.check_golden(self.model, 128, ["--max-length", "128"])
        self.check_golden(self.model, 16, ["--max-length", "16"], ensure_ascii=False)

    def test_default_max_length_is_512_without_sentence_bert_config(self):
        r = self.tokenize(self.model, json.dumps({"text": "word " * 700}) + "\n")
        self.assertEqual(r.rc, 0, r)
        ids = json.loads(r.out)
        self.assertEqual((len(ids), ids[0], ids[-1]), (512, 101, 102))

    @unittest.skipUnless(os.path.exists(MINILM), f"reference data {MINILM} is absent")
    def test_real_model_directory_uses_its_max_seq_length(self):
        with open(os.path.join(MINILM, "sentence_bert_config.json")) as f:
            self.assertEqual(json.load(f)["max_seq_length"], 256)
        self.check_golden(MINILM, 256)

    def test_blank_lines_are_skipped_and_rank_zero_answers_once(self):
        stdin = '{"text": "Hello world"}\n\n   \n{"text": ""}\n'
        r = self.tokenize(self.model, stdin, np=2)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out, "[101,7592,2088,102]\n[101,102]\n", r)

    def test_bad_lines_name_stdin_and_the_line(self):
        r = self.tokenize(self.model, '{"text": "ok"}\n{"text": 5}\n{"text": "never"}\n')
        self.assertNotEqual(r.rc, 0, r)
        self.assertEqual(r.out, "[101,7929,102]\n", r)  # the lines before the bad one
        self.assertEqual(r.err.strip().splitlines()[-1],
                         'disttune: error: <stdin>:2: expected an object with a string field "text", '
                         'found "text" of type number', r)
        r = self.tokenize(self.model, '{"text": "a"}\n{"txt": "a"}\n')
        self.assertIn('disttune: error: <stdin>:2: expected an object with a string field "text", '
                      'found no "text"', r.err)
        r = self.tokenize(self.model, "\n\nnot json\n")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("disttune: error: <stdin>:3: not valid JSON: parse error at line 1, column 2", r.err)
        # A number too large for a double is a JSON error on that line too (found by fuzzing).
        r = self.tokenize(self.model, '{"text": "a", "n": 1e400}\n')
        self.assertIn("disttune: error: <stdin>:1: not valid JSON: number overflow parsing '1e400'", r.err)
        p = subprocess.run([dt.DISTTUNE, "tokenize", "--model", self.model], capture_output=True,
                           input=b'{"text": "ok"}\n{"text": "caf\xc3 x"}\n', timeout=120)
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn(b"disttune: error: <stdin>:2: not valid UTF-8 (JSON text must be UTF-8)", p.stderr)
        r = self.tokenize(self.model, '["text"]\n')
        self.assertIn('<stdin>:1: expected an object with a string field "text", found array', r.err)

    def test_bad_flags_and_model(self):
        r = self.tokenize(self.model, '{"text": "a"}\n', "--max-length", "1")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("disttune: error: disttune tokenize: --max-length: expected an integer >= 2 "
                      "(room for the special tokens), got 1", r.err)
        r = self.tokenize(os.path.join(self.tmp.name, "missing"), "")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("does not exist", r.err)


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))
