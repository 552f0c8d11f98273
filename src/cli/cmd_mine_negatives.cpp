// disttune mine-negatives: hard negatives for (anchor, positive) pairs, written as JSON lines
// that read back as triplets (data/mining.h has the semantics). Driven by CONFIG.yaml
// (data.train, data.columns, data.on_bad_row, mining.*) or by flags. Every rank reads the
// input and takes part in the scoring; rank 0 filters, writes the file atomically and prints
// the summary. The output does not depend on the number of ranks.
//
// --method model scores candidates by the cosine similarity of a model's embeddings
// (embed/model_scorer.h): the model of the config's model section (model.path or model.init),
// or of --model (a directory or such a config). Anchors get the model's query prompt
// (model.query_prompt, else SentenceModel::query_prompt) and candidates its document prompt
// (SentenceModel::document_prompt), as sentence-transformers' mine_hard_negatives embeds
// them with encode_query / encode_document.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "cli/commands.h"
#include "cli/model_arg.h"
#include "common/env.h"
#include "common/log.h"
#include "config/config.h"
#include "data/beir.h"
#include "data/bm25_scorer.h"
#include "data/mining.h"
#include "data/text_dataset.h"
#include "dist/dist.h"
#include "embed/model_scorer.h"
#include "model/sentence_model.h"
#include "train/model_setup.h"

namespace disttune {
namespace {

constexpr const char* kCmd = "disttune mine-negatives";

struct MiningJob {
  std::string input, output, corpus, method;
  std::map<std::string, std::string> columns;  // anchor and positive only
  BadRowPolicy policy = BadRowPolicy::Error;
  MiningOptions opt;
  // --method model only:
  std::unique_ptr<SentenceModel> model;
  std::string query_prompt, document_prompt;
  int64_t batch_size = 64;
};

// Flags of the flag mode, with the config key each corresponds to.
const std::vector<std::pair<const char*, const char*>> kFlagKeys = {
    {"input", "data.train"},          {"output", "mining.output"},
    {"anchor", "data.columns"},       {"positive", "data.columns"},
    {"on-bad-row", "data.on_bad_row"}, {"corpus", "mining.corpus"},
    {"method", "mining.method"},      {"num-negatives", "mining.num_negatives"},
    {"range-min", "mining.range_min"}, {"range-max", "mining.range_max"},
    {"margin", "mining.margin"},      {"relative-margin", "mining.relative_margin"},
    {"max-score", "mining.max_score"}, {"min-score", "mining.min_score"},
    {"sampling", "mining.sampling"},  {"format", "mining.format"},
    {"seed", "mining.seed"},          {"model", "model.path"},
    {"batch-size", "mining.batch_size"}};

// A finite number, the whole text; nullopt otherwise.
std::optional<double> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool has_jsonl_extension(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".jsonl" || ext == ".ndjson" || ext == ".json";
}

// The checks shared by both modes; `fail(what, msg)` names the key or the flag.
template <typename Fail>
void check_job(const MiningJob& j, Fail fail) {
  if (!has_jsonl_extension(j.output))
    fail("output", "'" + j.output + "': expected a .jsonl file (the rows are written as JSON lines)");
  std::error_code e1, e2;
  if (std::filesystem::weakly_canonical(j.output, e1) == std::filesystem::weakly_canonical(j.input, e2))
    fail("output", "'" + j.output + "' is the input file; write the mined rows elsewhere");
  if (j.opt.range_max > 0 && j.opt.range_max <= j.opt.range_min)
    fail("range_max", str_cat(j.opt.range_max, " must be greater than range_min (", j.opt.range_min,
                              "), or 0 for the automatic range"));
  if (j.opt.relative_margin && (*j.opt.relative_margin < 0 || *j.opt.relative_margin >= 1))
    fail("relative_margin", str_cat(*j.opt.relative_margin, " is outside [0, 1)"));
  if (j.opt.max_score && j.opt.min_score && *j.opt.min_score > *j.opt.max_score)
    fail("min_score", str_cat(*j.opt.min_score, " is above max_score (", *j.opt.max_score,
                              "): no candidate could pass"));
}

MiningJob job_from_config(Dist& d, const Args& args) {
  for (const auto& [flag, key] : kFlagKeys)
    if (args.has(flag))
      DT_FAIL(kCmd, ": --", flag, " cannot be combined with CONFIG.yaml (set ", key,
              " in the file or with --set)");
  const Config cfg = load_config(d, args);
  MiningJob j;
  j.input = cfg.get_string("data.train");
  if (j.input.empty()) cfg.fail("data.train", "is required: the pairs to mine negatives for");
  if (!Env::Default()->file_exists(j.input))
    cfg.fail("data.train", "'" + j.input + "' is not a readable file");
  const auto& cols = cfg.get_string_map("data.columns");
  for (const char* role : {"anchor", "positive"}) {
    const auto it = cols.find(role);
    if (it == cols.end() || it->second.empty())
      cfg.fail("data.columns", str_cat("mine-negatives needs the role '", role, "' mapped to a column"));
    j.columns[role] = it->second;
  }
  j.policy = parse_bad_row_policy(cfg.get_string("data.on_bad_row"));
  j.output = cfg.get_string("mining.output");
  if (j.output.empty()) cfg.fail("mining.output", "is required: the file to write the mined rows to");
  j.corpus = cfg.get_string("mining.corpus");
  j.method = cfg.get_string("mining.method");
  if (j.method == "model") {
    if (cfg.get_string("model.path").empty() && cfg.get_string("model.init.vocab").empty())
      cfg.fail("mining.method", "model needs a model: set model.path (a model directory) or model.init");
    if (!cfg.get_string("model.path").empty() && !cfg.get_string("model.init.vocab").empty())
      cfg.fail("model.init.vocab", "set either model.path or model.init, not both");
    j.model = std::make_unique<SentenceModel>(model_from_config(cfg));
    j.query_prompt = query_prompt(cfg, *j.model);
    j.document_prompt = j.model->document_prompt();
    j.batch_size = cfg.get_int("mining.batch_size");
  }
  j.opt.num_negatives = cfg.get_int("mining.num_negatives");
  j.opt.range_min = cfg.get_int("mining.range_min");
  j.opt.range_max = cfg.get_int("mining.range_max");
  j.opt.seed = static_cast<uint64_t>(cfg.get_int("mining.seed"));
  j.opt.sampling = parse_mining_sampling(cfg.get_string("mining.sampling"));
  j.opt.format = parse_mining_format(cfg.get_string("mining.format"));
  auto number = [&](const std::string& key) -> std::optional<double> {
    const std::string& v = cfg.get_string(key);
    if (v == "none" || v == "null" || v == "~") return std::nullopt;
    const auto x = parse_number(v);
    if (!x) cfg.fail(key, "expected a number or none, got '" + v + "'");
    return x;
  };
  j.opt.absolute_margin = number("mining.margin");
  j.opt.relative_margin = number("mining.relative_margin");
  j.opt.max_score = number("mining.max_score");
  j.opt.min_score = number("mining.min_score");
  check_job(j, [&](const std::string& what, const std::string& msg) {
    cfg.fail(what == "output" ? "mining.output" : "mining." + what, msg);
  });
  return j;
}

MiningJob job_from_flags(const Args& args) {
  if (!args.has("input") && !args.has("output"))
    DT_FAIL(kCmd, ": give CONFIG.yaml, or --input FILE --output FILE (see ", kCmd, " --help)");
  if (!args.has("input")) DT_FAIL(kCmd, ": --input FILE is required (or give CONFIG.yaml)");
  if (!args.has("output")) DT_FAIL(kCmd, ": --output FILE is required");
  if (args.has("set")) DT_FAIL(kCmd, ": --set needs CONFIG.yaml; without one, use the flags");
  MiningJob j;
  j.input = args.get("input");
  j.output = args.get("output");
  j.corpus = args.get("corpus");
  j.columns = {{"anchor", args.get("anchor")}, {"positive", args.get("positive")}};
  j.policy = bad_row_policy_arg(kCmd, args);
  j.method = args.get("method");
  if (j.method != "bm25" && j.method != "model")
    DT_FAIL(kCmd, ": --method: expected bm25 or model, got '", j.method, "'");
  if (j.method == "model" && !args.has("model"))
    DT_FAIL(kCmd, ": --method model needs --model DIR (a model directory or a config with a model section)");
  if (j.method != "model" && (args.has("model") || args.has("batch-size")))
    DT_FAIL(kCmd, ": --", args.has("model") ? "model" : "batch-size", " applies to --method model only");
  auto integer = [&](const char* flag, int64_t lo) {
    const int64_t v = args.get_int(flag);
    if (v < lo) DT_FAIL(kCmd, ": --", flag, ": expected an integer >= ", lo, ", got ", v);
    return v;
  };
  j.opt.num_negatives = integer("num-negatives", 1);
  j.opt.range_min = integer("range-min", 0);
  j.opt.range_max = integer("range-max", 0);
  j.opt.seed = static_cast<uint64_t>(integer("seed", 0));
  j.batch_size = integer("batch-size", 1);
  const std::string sampling = args.get("sampling"), format = args.get("format");
  if (sampling != "top" && sampling != "random")
    DT_FAIL(kCmd, ": --sampling: expected top or random, got '", sampling, "'");
  j.opt.sampling = parse_mining_sampling(sampling);
  if (format != "triplet" && format != "triplets" && format != "n-tuple" && format != "n-tuple-scores" &&
      format != "labeled-pair")
    DT_FAIL(kCmd, ": --format: expected triplet, n-tuple, n-tuple-scores or labeled-pair, got '", format, "'");
  j.opt.format = parse_mining_format(format);
  auto number = [&](const char* flag) -> std::optional<double> {
    if (!args.has(flag)) return std::nullopt;
    const auto x = parse_number(args.get(flag));
    if (!x) DT_FAIL(kCmd, ": --", flag, ": expected a number, got '", args.get(flag), "'");
    return x;
  };
  j.opt.absolute_margin = number("margin");
  j.opt.relative_margin = number("relative-margin");
  j.opt.max_score = number("max-score");
  j.opt.min_score = number("min-score");
  check_job(j, [&](std::string what, const std::string& msg) {
    std::replace(what.begin(), what.end(), '_', '-');
    DT_FAIL(kCmd, ": --", what, ": ", msg);
  });
  if (j.method == "model") {
    ModelArg loaded = load_model_arg(kCmd, "--model", args.get("model"));
    j.model = std::make_unique<SentenceModel>(std::move(loaded.model));
    j.query_prompt = loaded.query_prompt;
    j.document_prompt = j.model->document_prompt();
  }
  return j;
}

}  // namespace

int run_mine_negatives(Dist& d, const Args& args) {
  const MiningJob job = args.positional().empty() ? job_from_flags(args) : job_from_config(d, args);
  const TextDataset data = read_text_dataset(job.input, job.columns, job.policy);
  print0("input: ", job.input, ": ", data.report.summary());
  const std::vector<std::string> corpus =
      job.corpus.empty() ? std::vector<std::string>{} : read_corpus_texts(job.corpus);
  if (!job.corpus.empty()) print0("corpus: ", job.corpus, ": ", corpus.size(), " documents");

  std::unique_ptr<NegativeScorer> scorer;
  std::unique_ptr<Embedder> embedder;
  if (job.method == "model") {
    embedder = std::make_unique<Embedder>(*job.model, Embedder::tokenizer_for(*job.model));
    ModelScorerOptions so;
    so.query.batch_size = so.corpus.batch_size = job.batch_size;
    // As sentence-transformers' mine_hard_negatives embeds them (encode_query / encode_document).
    so.query.prefix = job.query_prompt;
    so.corpus.prefix = job.document_prompt;
    if (!job.query_prompt.empty()) print0("anchor prompt: \"", job.query_prompt, "\"");
    if (!job.document_prompt.empty()) print0("document prompt: \"", job.document_prompt, "\"");
    scorer = std::make_unique<ModelScorer>(*embedder, so);
  } else {
    scorer = std::make_unique<Bm25Scorer>();
  }
  const MiningResult res = mine_hard_negatives(d, data.column("anchor"), data.column("positive"),
                                               corpus, *scorer, job.opt);
  std::string error;
  int64_t written = 0;
  if (d.is_root()) {
    try {
      const std::string dir = std::filesystem::path(job.output).parent_path().string();
      if (!dir.empty()) Env::Default()->make_dirs(dir).throw_if_error();
      written = write_mined_jsonl(job.output, data.column("anchor"), data.column("positive"), res, job.opt);
    } catch (const UserError& e) {
      error = e.what();
    }
  }
  d.comm->broadcast_bytes(error, 0);
  if (!error.empty()) throw UserError(error);
  print0(res.stats.summary(job.opt));
  print0("wrote ", written, " rows to ", job.output);
  return 0;
}

}  // namespace disttune
