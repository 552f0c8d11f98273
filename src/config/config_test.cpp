#include "config/config.h"

#include <gtest/gtest.h>

#include "config/options.h"
#include "test_util.h"

namespace disttune {
namespace {

using test::error_of;

TEST(Config, DefaultsComeFromTheRegistry) {
  Config c;
  EXPECT_EQ(c.get_int("training.global_batch_size"), 32);
  EXPECT_DOUBLE_EQ(c.get_float("training.learning_rate"), 2e-5);
  EXPECT_EQ(c.get_string("training.scheduler"), "cosine");
  EXPECT_EQ(c.get_int_list("eval.k"), (std::vector<int64_t>{1, 3, 5, 10, 100}));
  EXPECT_EQ(c.get_string_map("data.columns").at("positive"), "positive");
  EXPECT_TRUE(c.get_bool("eval.load_best_model_at_end"));
  EXPECT_FALSE(c.is_set("training.epochs"));
}

TEST(Config, NestedYamlAndRecordsWhereValuesCameFrom) {
  Config c = Config::from_yaml(
      "model:\n"
      "  init: {vocab: v.txt, hidden_size: 64, num_heads: 4}\n"
      "training:\n"
      "  epochs: 3\n"
      "  learning_rate: 1e-4\n"
      "loss:\n"
      "  matryoshka_dims: [768, 512, 64]\n",
      "cfg.yaml");
  EXPECT_EQ(c.get_string("model.init.vocab"), "v.txt");
  EXPECT_EQ(c.get_int("model.init.hidden_size"), 64);
  EXPECT_EQ(c.get_int("training.epochs"), 3);
  EXPECT_DOUBLE_EQ(c.get_float("training.learning_rate"), 1e-4);
  EXPECT_EQ(c.get_int_list("loss.matryoshka_dims"), (std::vector<int64_t>{768, 512, 64}));
  EXPECT_TRUE(c.is_set("training.epochs"));
  EXPECT_EQ(c.where("training.epochs"), "cfg.yaml:4");
  EXPECT_EQ(c.where("training.seed"), "cfg.yaml: (default)");
}

TEST(Config, UnknownKeySuggestsTheNearestKnownKey) {
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  learnig_rate: 0.1\n", "c.yaml"); }),
            "c.yaml:2: unknown key 'training.learnig_rate' (did you mean "
            "'training.learning_rate'?)");
  // A key in the wrong section points at the section where it lives.
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  pooling: cls\n", "c.yaml"); }),
            "c.yaml:2: unknown key 'training.pooling' (did you mean 'model.pooling'?)");
  EXPECT_EQ(error_of([] { Config::from_yaml("trainng:\n  epochs: 1\n", "c.yaml"); }),
            "c.yaml:1: unknown key 'trainng' (did you mean 'training'?)");
}

TEST(Config, WrongTypesAreRefusedWithFileLineAndKey) {
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  epochs: six\n", "c.yaml"); }),
            "c.yaml:2: training.epochs: expected an integer, got six");
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  epochs: 2.5\n", "c.yaml"); }),
            "c.yaml:2: training.epochs: expected an integer, got 2.5");
  EXPECT_EQ(error_of([] { Config::from_yaml("eval:\n  load_best_model_at_end: maybe\n", "c.yaml"); }),
            "c.yaml:2: eval.load_best_model_at_end: expected true or false, got maybe");
  EXPECT_EQ(error_of([] { Config::from_yaml("eval:\n  k: 10\n", "c.yaml"); }),
            "c.yaml:2: eval.k: expected a list of integers, e.g. [1, 10], got 10");
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  scheduler: cosin\n", "c.yaml"); }),
            "c.yaml:2: training.scheduler: expected one of linear|cosine|cosine_with_restarts|polynomial|constant|"
            "constant_with_warmup|inverse_sqrt|cosine_with_min_lr|warmup_stable_decay|reduce_lr_on_plateau, got cosin");
  EXPECT_EQ(error_of([] { Config::from_yaml("training: 3\n", "c.yaml"); }),
            "c.yaml:1: 'training' is a section: expected a mapping of keys, got 3");
}

TEST(Config, OutOfRangeValuesAreRefused) {
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  epochs: 0\n", "c.yaml"); }),
            "c.yaml:2: training.epochs: 0 is out of range [1, 1e+06]");
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  warmup_ratio: 1.5\n", "c.yaml"); }),
            "c.yaml:2: training.warmup_ratio: 1.5 is out of range [0, 1]");
  EXPECT_EQ(error_of([] { Config::from_yaml("eval:\n  k: [1, 0]\n", "c.yaml"); }),
            "c.yaml:2: eval.k: 0 is out of range [1, 1e+06]");
}

TEST(Config, YamlSyntaxErrorNamesTheLine) {
  std::string e = error_of([] { Config::from_yaml("training:\n  epochs: [1, 2\nloss: {}\n", "c.yaml"); });
  EXPECT_EQ(e.rfind("c.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  EXPECT_EQ(error_of([] { Config::from_yaml("training:\n  epochs: 1\n  epochs: 2\n", "c.yaml"); }),
            "c.yaml:3: duplicate key 'training.epochs'");
}

TEST(Config, MissingFileIsReported) {
  std::string e = error_of([] { Config::load("/nonexistent/cfg.yaml"); });
  EXPECT_EQ(e, "/nonexistent/cfg.yaml: cannot open config file: No such file or directory");
}

TEST(Config, OverridesUseTheSameChecks) {
  Config c = Config::from_yaml("training:\n  epochs: 3\n", "c.yaml",
                               {"training.epochs=5", "eval.k=[1,10]", "data.columns.anchor=question",
                                "model.path=models/x"});
  EXPECT_EQ(c.get_int("training.epochs"), 5);
  EXPECT_EQ(c.where("training.epochs"), "--set training.epochs");
  EXPECT_EQ(c.get_int_list("eval.k"), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(c.get_string_map("data.columns").at("anchor"), "question");
  EXPECT_EQ(c.get_string_map("data.columns").at("positive"), "positive");
  EXPECT_EQ(c.get_string("model.path"), "models/x");
  EXPECT_EQ(error_of([&] { c.apply_override("training.epochs=-1"); }),
            "--set training.epochs: training.epochs: -1 is out of range [1, 1e+06]");
  EXPECT_EQ(error_of([&] { c.apply_override("training.epoch=2"); }),
            "--set training.epoch: unknown key 'training.epoch' (did you mean 'training.epochs'?)");
  EXPECT_EQ(error_of([&] { c.apply_override("training.epochs"); }),
            "--set training.epochs: expected key.path=value");
  // A whole section, nested ones too: each key as if set alone, the others untouched.
  c.apply_override("data.split={train: 0.9, val: 0, test: 0.1}");
  EXPECT_DOUBLE_EQ(c.get_float("data.split.train"), 0.9);
  EXPECT_DOUBLE_EQ(c.get_float("data.split.val"), 0.0);
  EXPECT_EQ(c.get_int("data.split.seed"), 42);
  EXPECT_EQ(c.where("data.split.val"), "--set data.split");
  c.apply_override("model={init: {hidden_size: 64}, max_seq_length: 32}");
  EXPECT_EQ(c.get_int("model.init.hidden_size"), 64);
  EXPECT_EQ(c.get_int("model.max_seq_length"), 32);
  EXPECT_EQ(error_of([&] { c.apply_override("data.split={train: 0.9, vall: 0}"); }),
            "--set data.split: unknown key 'data.split.vall' (did you mean 'data.split.val'?)");
  EXPECT_EQ(error_of([&] { c.apply_override("data.split=3"); }),
            "--set data.split: 'data.split' is a section: expected a mapping of its keys, got 3");
  EXPECT_EQ(error_of([&] { c.apply_override("data.split={seed: -1}"); }),
            "--set data.split: data.split.seed: -1 is out of range [0, 1e+15]");
}

TEST(Config, CrossKeyChecks) {
  const std::string base = "model:\n  path: m\n";
  auto check = [&](const std::string& extra, int world) {
    return check_config(Config::from_yaml(base + extra, "c.yaml"), world).message();
  };
  EXPECT_EQ(check("", 1), "OK");
  EXPECT_EQ(check("training:\n  global_batch_size: 30\n", 4),
            "c.yaml:4: training.global_batch_size: 30 does not divide evenly over 4 rank(s) x 1 "
            "accumulation step(s)");
  EXPECT_EQ(check("data:\n  split: {train: 0.8, val: 0.1, test: 0.2}\n", 1),
            "c.yaml:4: data.split.train: split fractions must sum to 1, they sum to 1.1");
  EXPECT_EQ(check_config(Config::from_yaml("training: {epochs: 1}\n", "c.yaml"), 1).message(),
            "c.yaml: (default): model.path: no model: set model.path (a model directory) or "
            "model.init.vocab");
  EXPECT_EQ(check("data:\n  columns: {query: q}\n", 1).substr(0, 52),
            "c.yaml:4: data.columns: unknown role 'query' (expect");
  EXPECT_EQ(check_config(Config::from_yaml("model:\n  init: {vocab: v, num_layers: 2}\n  num_layers: 3\n", "c.yaml"),
                         1).message(),
            "c.yaml:3: model.num_layers: keeps 3 layers of a model of 2 (model.init.num_layers)");
}

TEST(Config, ResolvedYamlRoundTrips) {
  Config a = Config::from_yaml("training:\n  epochs: 4\ndata:\n  columns: {anchor: q, positive: c}\n",
                               "a.yaml");
  Config b = Config::from_yaml(a.to_yaml(), "b.yaml");
  EXPECT_EQ(a.to_yaml(), b.to_yaml());
  EXPECT_EQ(b.get_int("training.epochs"), 4);
  EXPECT_EQ(b.get_string_map("data.columns").at("anchor"), "q");
}

TEST(Config, DatasetsEachTrainWithTheirFileColumnsAndLoss) {
  const std::string yaml =
      "data:\n"
      "  train: main.jsonl\n"
      "  columns: {anchor: q, positive: c}\n"
      "  on_bad_row: skip\n"
      "training:\n"
      "  prompts: {anchor: 'query: '}\n"
      "loss:\n"
      "  name: mnrl\n"
      "  scale: 30\n"
      "datasets:\n"
      "  sts:\n"
      "    train: \"sts: 1.jsonl\"\n"
      "    columns: {sentence1: s1, sentence2: s2, score: label}\n"
      "    loss: {name: cosent, matryoshka_dims: [16, 8]}\n"
      "    prompts: {sentence1: 's: '}\n"
      "  more_qa:\n"
      "    train: qa.jsonl\n"
      "    on_bad_row: error\n";
  Config c = Config::from_yaml(yaml, "c.yaml");
  EXPECT_EQ(c.dataset_names(), (std::vector<std::string>{"sts", "more_qa"}));  // file order
  const Config sts = c.dataset_config("sts");
  EXPECT_EQ(sts.get_string("data.train"), "sts: 1.jsonl");
  EXPECT_EQ(sts.get_string_map("data.columns").at("score"), "label");
  EXPECT_EQ(sts.get_string("data.on_bad_row"), "skip");  // inherited
  // A loss section of its own starts from the defaults: the run's scale 30 is not its.
  EXPECT_EQ(sts.get_string("loss.name"), "cosent");
  EXPECT_FALSE(sts.is_set("loss.scale"));
  EXPECT_DOUBLE_EQ(sts.get_float("loss.scale"), 20);
  EXPECT_EQ(sts.get_int_list("loss.matryoshka_dims"), (std::vector<int64_t>{16, 8}));
  EXPECT_EQ(sts.where("loss.name"), "c.yaml:14");
  // Prompts of its own replace the run's.
  EXPECT_EQ(sts.get_string_map("training.prompts"), (std::map<std::string, std::string>{{"sentence1", "s: "}}));
  EXPECT_TRUE(sts.dataset_names().empty());
  EXPECT_EQ(sts.context(), "datasets.sts");
  EXPECT_EQ(error_of([&] { sts.fail("loss.name", "no"); }), "c.yaml:14: datasets.sts: loss.name: no");
  // Without one, the run's loss; columns are data.columns.
  const Config qa = c.dataset_config("more_qa");
  EXPECT_EQ(qa.get_string("data.train"), "qa.jsonl");
  EXPECT_EQ(qa.get_string_map("data.columns").at("anchor"), "q");
  EXPECT_EQ(qa.get_string("data.on_bad_row"), "error");
  EXPECT_DOUBLE_EQ(qa.get_float("loss.scale"), 30);
  EXPECT_EQ(qa.where("loss.scale"), "c.yaml:9");
  EXPECT_EQ(qa.get_string_map("training.prompts").at("anchor"), "query: ");
  // The run's own view is untouched, and the resolved YAML carries the section.
  EXPECT_EQ(c.get_string("data.train"), "main.jsonl");
  EXPECT_EQ(c.context(), "");
  Config back = Config::from_yaml(c.to_yaml(), "back.yaml");
  EXPECT_EQ(back.to_yaml(), c.to_yaml());
  EXPECT_EQ(back.dataset_names(), c.dataset_names());
  EXPECT_EQ(back.dataset_config("sts").to_yaml(), sts.to_yaml());
  EXPECT_EQ(back.dataset_config("more_qa").to_yaml(), qa.to_yaml());
  // Cross-key checks run on every dataset's view, naming it.
  EXPECT_EQ(check_config(Config::from_yaml("model: {init: {vocab: v}}\ndatasets:\n  nli:\n    train: n.jsonl\n"
                                           "    loss: {matryoshka_dims: [8, 4], matryoshka_weights: [1]}\n",
                                           "c.yaml"),
                         1)
                .message(),
            "c.yaml:5: datasets.nli: loss.matryoshka_weights: has 1 weights for 2 dims");
}

TEST(Config, MalformedDatasetsAreRefusedWithFileAndLine) {
  auto err = [](const std::string& yaml) { return error_of([&] { Config::from_yaml(yaml, "c.yaml"); }); };
  EXPECT_EQ(err("datasets:\n  nli:\n    columns: {anchor: a}\n"),
            "c.yaml:2: datasets.nli: train: required (the dataset's training file)");
  EXPECT_EQ(err("datasets:\n  nli:\n    train: n.jsonl\n    split: {train: 1}\n"),
            "c.yaml:4: datasets.nli: unknown key 'split' (expected train, columns, on_bad_row, prompts, loss)");
  EXPECT_EQ(err("datasets:\n  nli:\n    train: n.jsonl\n    loss: {nam: cosent}\n"),
            "c.yaml:4: unknown key 'loss.nam' (did you mean 'loss.name'?)");
  EXPECT_EQ(err("datasets:\n  nli:\n    train: n.jsonl\n    loss: {name: cosine}\n").substr(0, 42),
            "c.yaml:4: loss.name: expected one of mnrl|");
  EXPECT_EQ(err("datasets:\n  nli:\n    train: n.jsonl\n    on_bad_row: ignore\n"),
            "c.yaml:4: data.on_bad_row: expected one of error|skip, got ignore");
  EXPECT_EQ(err("datasets:\n  data:\n    train: n.jsonl\n"),
            "c.yaml:2: datasets: 'data' names data.train's dataset; choose another name");
  EXPECT_EQ(err("datasets:\n  nl/i:\n    train: n.jsonl\n"),
            "c.yaml:2: datasets: 'nl/i': a name is letters, digits, '_' and '-'");
  EXPECT_EQ(err("datasets: [n.jsonl]\n").substr(0, 63),
            "c.yaml:1: datasets: expected a mapping of names to datasets, e.");
  EXPECT_EQ(err("datasets:\n  nli: n.jsonl\n"),
            "c.yaml:2: datasets.nli: expected a mapping {train: FILE, columns: ..., loss: ...}, got n.jsonl");
  EXPECT_EQ(error_of([] { Config::from_yaml("", "c.yaml", {"datasets.nli.train=x.jsonl"}); }),
            "--set datasets.nli.train: the datasets section is read from the config file only; edit it there");
}

TEST(Config, RegistryDeclaresEveryKeyOnceWithHelp) {
  std::set<std::string> keys;
  for (const auto& o : option_registry()) {
    EXPECT_TRUE(keys.insert(o.key).second) << "declared twice: " << o.key;
    EXPECT_FALSE(o.help.empty()) << o.key;
    EXPECT_FALSE(is_option_section(o.key)) << o.key << " is both a key and a section";
  }
}

}  // namespace
}  // namespace disttune
