#include "cli/commands.h"

#include <cstdio>

#include "common/check.h"
#include "common/log.h"
#include "config/config.h"
#include "config/options.h"
#include "dist/dist.h"

namespace disttune {
namespace {

const FlagSpec kLogDir{"log-dir", "DIR", "directory for this run's per-rank glog files", ""};
const FlagSpec kNumLayers{"num-layers", "N",
                          "keep the model's first N transformer layers (0: the embeddings alone), as a model trained "
                          "with loss.adaptive_layer is cut; default: all (or the config's model.num_layers)", ""};
const FlagSpec kSet{"set", "KEY=VALUE", "override a config key, e.g. training.epochs=3", "",
                    false, true};

std::vector<Command> build_commands() {
  std::vector<Command> c;
  c.push_back({{"train", "CONFIG.yaml", 1, 1,
                "Train, evaluate, checkpoint and export as CONFIG.yaml says "
                "(also: disttune CONFIG.yaml).",
                {kSet, kLogDir}},
               run_train});
  c.push_back({{"validate", "CONFIG.yaml", 1, 1,
                "Check the config and the files it names; print the resolved config.",
                {kSet, kLogDir}},
               run_validate});
  c.push_back({{"encode", "", 0, 0,
                "Embed texts into an HDF5 file (dataset 'embeddings' [n, dim], 'ids' when the "
                "input has ids).",
                {{"model", "DIR", "sentence-transformers model directory", "", true},
                 {"input", "FILE", "texts (.jsonl/.json/.csv/.tsv, or .txt one per line)", "", true},
                 {"output", "FILE.h5", "output HDF5 file", "", true},
                 {"field", "NAME", "text field of the input rows", "text"},
                 {"batch-size", "N", "texts per forward pass", "64"},
                 {"max-length", "N", "truncate to N tokens (default: the model's)", ""},
                 {"id-field", "NAME", "id column (default: 'id', else '_id', else none; 'none': no ids)", ""},
                 {"prompt", "TEXT", "prepend TEXT to every input (e.g. 'query: ')", ""},
                 {"prompt-name", "NAME", "prepend the model's prompt NAME (e.g. query); default: "
                  "the model's default prompt, if any", ""},
                 kNumLayers, kLogDir}},
               run_encode});
  c.push_back({{"tokenize", "", 0, 0,
                "Read {\"text\": ...} lines on stdin, print one JSON array of token ids per line.",
                {{"model", "DIR", "model directory (vocab.txt or tokenizer.json)", "", true},
                 {"max-length", "N", "truncate to N tokens (default: the model's)", ""},
                 kLogDir}},
               run_tokenize});
  c.push_back({{"eval", "", 0, 0,
                "Retrieval evaluation (InformationRetrievalEvaluator metrics), sharded over ranks; "
                "or a file of scored pairs, triplets or labeled texts (EmbeddingSimilarityEvaluator, "
                "TripletEvaluator).",
                {{"model", "DIR", "model directory", "", true},
                 {"beir", "DIR", "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/)", ""},
                 {"split", "NAME", "qrels split with --beir", "test"},
                 {"corpus", "FILE", "corpus file (instead of --beir)", ""},
                 {"queries", "FILE", "queries file (instead of --beir)", ""},
                 {"qrels", "FILE", "qrels TSV (instead of --beir)", ""},
                 {"pairs", "FILE",
                  "anchor, positive rows: retrieval as training evaluates held-out pairs (each row's anchor a "
                  "query, relevant to its positive; each distinct positive a document)", ""},
                 {"scored", "FILE", "sentence1, sentence2, score rows: pearson/spearman_<similarity>", ""},
                 {"triplets", "FILE", "anchor, positive, negative rows: <similarity>_accuracy", ""},
                 {"labeled", "FILE",
                  "text, label rows: <similarity>_accuracy on the triplets training builds from held-out labeled "
                  "texts (an anchor, the next text of its class, a text of another class)", ""},
                 {"seed", "N", "with --labeled: the seed of the negatives' draw (a run's data.split.seed)", "42"},
                 {"on-bad-row", "POLICY", "with --pairs / --scored / --triplets / --labeled: error | skip", "error"},
                 {"k", "LIST", "cut-offs", "1,3,5,10,100"},
                 {"dims", "LIST", "Matryoshka dims to evaluate (truncated; cosine renormalises)", ""},
                 {"similarity", "NAME",
                  "auto | cosine | dot: the scores and the metric names (auto: the model's similarity_fn_name)",
                  "auto"},
                 {"batch-size", "N", "texts per forward pass", "64"},
                 {"query-prompt", "TEXT",
                  "prefix for queries (default: the model's query prompt) and triplet anchors "
                  "(default: its default prompt)", ""},
                 {"corpus-prompt", "TEXT",
                  "prefix for documents (default: the model's document, passage or corpus prompt) and "
                  "triplet positives and negatives (default: its default prompt)", ""},
                 {"output", "FILE", "write the metrics as JSON", ""},
                 kNumLayers, kLogDir}},
               run_eval});
  c.push_back({{"mine-negatives", "[CONFIG.yaml]", 0, 1,
                "Write a triplets file with hard negatives mined by BM25 or a model "
                "(CONFIG.yaml: data.train, data.columns, mining.*; or the flags).",
                {{"input", "FILE", "pairs file (.jsonl/.json/.csv/.tsv), instead of CONFIG.yaml", ""},
                 {"output", "FILE", "JSON-lines file to write", ""},
                 {"anchor", "COL", "anchor column of the input", "anchor"},
                 {"positive", "COL", "positive column of the input", "positive"},
                 {"on-bad-row", "POLICY", "error | skip", "error"},
                 {"corpus", "FILE", "extra candidate documents (JSON lines: text[, title])", ""},
                 {"method", "NAME", "bm25 | model", "bm25"},
                 {"num-negatives", "N", "negatives per row", "3"},
                 {"range-min", "N", "skip the N best candidates", "0"},
                 {"range-max", "N", "consider only the N best candidates (0: automatic)", "0"},
                 {"margin", "X", "drop candidates scoring above positive - X", ""},
                 {"relative-margin", "X", "drop candidates scoring above positive * (1 - X)", ""},
                 {"max-score", "X", "drop candidates scoring above X", ""},
                 {"min-score", "X", "drop candidates scoring below X", ""},
                 {"sampling", "top|random", "best candidates, or a seeded random draw", "top"},
                 {"format", "triplet|n-tuple|n-tuple-scores|labeled-pair",
                  "one row per negative; negative, negative_2, ...; the same with score: [positive's, "
                  "negatives'] scores; or (sentence1, sentence2, score 1/0)",
                  "triplet"},
                 {"seed", "N", "seed of random sampling", "42"},
                 {"model", "DIR", "--method model: model directory, or a config with a model section", ""},
                 {"batch-size", "N", "--method model: texts per forward pass", "64"},
                 kSet, kLogDir}},
               run_mine_negatives});
  c.push_back({{"export", "", 0, 0,
                "Write a sentence-transformers model directory from a checkpoint.",
                {{"checkpoint", "FILE.h5", "checkpoint file", "", true},
                 {"output", "DIR", "output model directory", "", true},
                 kLogDir}},
               run_export});
  c.push_back({{"help", "[TOPIC]", 0, 1,
                "Help on a command, or 'disttune help config' for the configuration reference "
                "(markdown, the source of docs/config.md).",
                {}},
               run_help});
  return c;
}

std::string main_usage() {
  std::string s =
      "usage: disttune CONFIG.yaml [--set key=value ...]\n"
      "       disttune <command> [options]\n\n"
      "Fine-tune and evaluate sentence-embedding models across many processes.\n"
      "Run any command under 'mpirun -np N' or 'srun' to shard it.\n\ncommands:\n";
  for (const auto& c : commands()) {
    std::string name = "  " + c.spec.name;
    s += name + std::string(name.size() < 18 ? 18 - name.size() : 1, ' ') + c.spec.summary + "\n";
  }
  s += "\n  --version         print the version\n  --help            this help\n";
  return s;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (c.spec.name == name) return &c;
  return nullptr;
}

bool looks_like_config(const std::string& a) {
  auto ends = [&](const char* suf) {
    const std::string s(suf);
    return a.size() >= s.size() && a.compare(a.size() - s.size(), s.size(), s) == 0;
  };
  return ends(".yaml") || ends(".yml");
}

}  // namespace

BadRowPolicy bad_row_policy_arg(const std::string& command, const Args& args) {
  const std::string policy = args.get("on-bad-row");
  if (policy != "error" && policy != "skip")
    DT_FAIL(command, ": --on-bad-row: expected error or skip, got '", policy, "'");
  return parse_bad_row_policy(policy);
}

const std::vector<Command>& commands() {
  static const std::vector<Command> cmds = build_commands();
  return cmds;
}

int run_help(Dist& d, const Args& args) {
  if (args.positional().empty()) {
    print0(main_usage());
    return 0;
  }
  const std::string topic = args.positional()[0];
  if (topic == "config") {
    if (d.is_root()) std::fputs(options_markdown().c_str(), stdout);
    return 0;
  }
  if (const Command* c = find_command(topic)) {
    print0(command_help(c->spec));
    return 0;
  }
  DT_FAIL("disttune help: no command or topic '", topic, "'");
}

int cli_main(Dist& d, const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    print0(main_usage());
    return argv.empty() ? 2 : 0;
  }
  if (argv[0] == "--version") {
    print0("disttune ", DISTTUNE_VERSION);
    return 0;
  }
  std::string name = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (!find_command(name) && looks_like_config(name)) {
    rest.insert(rest.begin(), name);
    name = "train";
  }
  const Command* cmd = find_command(name);
  if (!cmd) DT_FAIL("unknown command '", name, "' (see disttune --help)");
  Args args = Args::parse(cmd->spec, rest);
  if (args.help()) {
    print0(command_help(cmd->spec));
    return 0;
  }
  for (const auto& f : cmd->spec.flags)
    if (f.name == "log-dir" && args.has("log-dir")) log_init(d.rank, args.get("log-dir"));
  return cmd->run(d, args);
}

}  // namespace disttune
