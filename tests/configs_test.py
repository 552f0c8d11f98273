"""`disttune validate` accepts every config in configs/ (2 ranks). A model directory or
data file that a recipe expects the user to provide is stood in for: the model (and a
GISTEmbedLoss guide) by a
directory with the all-MiniLM-L6-v2 config (../shared/data) or a from-scratch stand-in, the
data by a small pairs file with the recipe's columns; the stand-ins are listed in the output."""
import glob
import json
import os
import re
import tempfile
import unittest

import dt

CONFIGS = sorted(glob.glob(os.path.join(dt.SOURCE, "configs", "*.yaml")))


def key_value(text, section, key):
    """The scalar `key:` under top-level `section:` (the configs are plain YAML)."""
    m = re.search(rf"^{section}:\n((?:[ #].*\n|\n)*)", text, re.M)
    if not m:
        return None
    k = re.search(rf"^  {key}: *([^#\n]*)", m.group(1), re.M)
    return k.group(1).strip() if k else None


class Configs(unittest.TestCase):
    def test_there_are_recipes(self):
        names = {os.path.basename(c) for c in CONFIGS}
        for n in ("quickstart.yaml", "financial-minilm.yaml", "financial-minilm-gb512.yaml",
                  "financial-bge-matryoshka.yaml", "biomedical-mpnet.yaml"):
            self.assertIn(n, names)

    def test_every_config_validates(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        model = os.path.join(tmp.name, "model")
        os.makedirs(model)
        with open(os.path.join(model, "config.json"), "w") as f:
            json.dump({"model_type": "bert", "hidden_size": 32}, f)
        pairs = os.path.join(tmp.name, "pairs.jsonl")
        with open(pairs, "w") as f:
            for i in range(50):
                f.write(json.dumps({"anchor": f"question {i}", "positive": f"passage {i} text"}) + "\n")
        for cfg in CONFIGS:
            with self.subTest(config=os.path.basename(cfg)):
                with open(cfg) as f:
                    text = f.read()
                sets = []
                path = key_value(text, "model", "path")
                if path and not os.path.isdir(os.path.join(dt.SOURCE, path)):
                    sets.append(f"model.path={model}")
                guide = key_value(text, "loss", "guide")
                if guide and not os.path.isdir(os.path.join(dt.SOURCE, guide)):
                    sets.append(f"loss.guide={model}")
                train = key_value(text, "data", "train")
                if train and not os.path.isfile(os.path.join(dt.SOURCE, train)):
                    sets.append(f"data.train={pairs}")
                args = [dt.DISTTUNE, "validate", cfg]
                for s in sets:
                    args += ["--set", s]
                r = dt.run(args, np=2)
                self.assertEqual(r.rc, 0, r)
                self.assertIn("valid for 2 rank(s)", r.out)
                print(f"{os.path.basename(cfg)}: valid" + (f" (stand-ins: {', '.join(sets)})" if sets else ""))

    def test_a_wrong_metric_is_caught_by_validate(self):
        cfg = os.path.join(dt.SOURCE, "configs", "financial-bge-matryoshka.yaml")
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        pairs = os.path.join(tmp.name, "pairs.jsonl")
        with open(pairs, "w") as f:
            for i in range(20):
                f.write(json.dumps({"anchor": f"q {i}", "positive": f"p {i}"}) + "\n")
        model = os.path.join(tmp.name, "model")
        os.makedirs(model)
        with open(os.path.join(model, "config.json"), "w") as f:
            f.write("{}")
        r = dt.run([dt.DISTTUNE, "validate", cfg, "--set", f"data.train={pairs}", "--set",
                    f"model.path={model}", "--set", "eval.metric=dim_100_cosine_ndcg@10"])
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("eval.metric", r.err)
        self.assertIn("dim_128_cosine_ndcg@10", r.err)  # the error lists what exists


if __name__ == "__main__":
    unittest.main()
