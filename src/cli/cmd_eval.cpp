// disttune eval: retrieval evaluation of a model on a BEIR directory or on separate
// corpus/queries/qrels files, with sentence-transformers' InformationRetrievalEvaluator
// metrics and names. Every rank reads the set; the queries are embedded sharded and
// gathered, the corpus stays sharded, and the per-rank top-k lists are merged
// (eval/model_evaluator.h), so the metrics are the same for any number of ranks.
// --pairs FILE takes the retrieval set from (anchor, positive) rows as training builds its
// held-out set (data/ir_from_pairs.h). With --scored or --triplets instead, a file of scored
// pairs or triplets is evaluated as sentence-transformers' EmbeddingSimilarityEvaluator or
// TripletEvaluator would; --labeled FILE takes triplets from (text, label) rows as training
// builds them from held-out labeled texts (data/row_sets.h), with --seed for its draw.
// Rank 0 prints the table and writes --output (JSON: metric name -> value) atomically.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <tuple>

#include "cli/commands.h"
#include "cli/model_arg.h"
#include "cli/output_path.h"
#include "common/env.h"
#include "common/log.h"
#include "data/beir.h"
#include "data/ir_from_pairs.h"
#include "data/random.h"
#include "data/row_sets.h"
#include "data/text_dataset.h"
#include "dist/dist.h"
#include "embed/embedder.h"
#include "eval/ir_metrics.h"
#include "eval/model_evaluator.h"
#include "model/sentence_model.h"

namespace disttune {
namespace {

constexpr const char* kEvalCmd = "disttune eval";

// Which evaluation the flags ask for; the flags of another are refused.
enum class EvalKind { Retrieval, Scored, Triplets };

EvalKind eval_kind(const Args& args) {
  const bool beir = args.has("beir");
  const bool files = args.has("corpus") || args.has("queries") || args.has("qrels");
  if (beir && files)
    DT_FAIL(kEvalCmd, ": give --beir DIR, or --corpus, --queries and --qrels, not both");
  const int kinds =
      (beir || files) + args.has("pairs") + args.has("scored") + args.has("triplets") + args.has("labeled");
  if (kinds > 1)
    DT_FAIL(kEvalCmd, ": give one of --beir DIR (or --corpus, --queries and --qrels), "
                      "--pairs FILE, --scored FILE, --triplets FILE and --labeled FILE");
  if (args.has("seed") && !args.has("labeled")) DT_FAIL(kEvalCmd, ": --seed applies to --labeled only");
  if (kinds == 0 || beir || files) {
    if (args.has("on-bad-row"))
      DT_FAIL(kEvalCmd, ": --on-bad-row applies to --pairs, --scored, --triplets and --labeled only");
    return EvalKind::Retrieval;
  }
  if (args.has("pairs")) {
    if (args.has("split")) DT_FAIL(kEvalCmd, ": --split applies to --beir only");
    return EvalKind::Retrieval;
  }
  for (const char* f : {"k", "split"})
    if (args.has(f)) DT_FAIL(kEvalCmd, ": --", f, " applies to retrieval evaluation only");
  if (args.has("scored"))
    for (const char* f : {"query-prompt", "corpus-prompt"})
      if (args.has(f)) DT_FAIL(kEvalCmd, ": --", f, " applies to retrieval and triplet evaluation only");
  return args.has("scored") ? EvalKind::Scored : EvalKind::Triplets;
}

// Every row of the --pairs, --scored, --triplets or --labeled file, its columns named as the roles.
TextDataset read_rows(const Args& args, const char* flag, const std::map<std::string, std::string>& columns) {
  TextDataset ds = read_text_dataset(args.get(flag), columns, bad_row_policy_arg(kEvalCmd, args));
  print0("data: ", ds.source, ": ", ds.format_name(), ", ", ds.report.summary());
  if (ds.size() == 0) DT_FAIL(kEvalCmd, ": ", ds.source, ": no rows to evaluate");
  return ds;
}

IrSet read_set(const Args& args, IrReadReport* report) {
  if (args.has("pairs")) {
    const TextDataset ds = read_rows(args, "pairs", {{"anchor", "anchor"}, {"positive", "positive"}});
    return ir_set_from_pairs(ds, ds.all_rows(), ds.all_rows());
  }
  const bool beir = args.has("beir");
  const bool files = args.has("corpus") || args.has("queries") || args.has("qrels");
  if (beir) return read_beir(args.get("beir"), args.get("split"), report);
  if (args.has("split") && !beir) DT_FAIL(kEvalCmd, ": --split applies to --beir only");
  for (const char* f : {"corpus", "queries", "qrels"})
    if (!args.has(f))
      DT_FAIL(kEvalCmd, ": --", f, " FILE is required (or give --beir DIR)",
              files ? "" : "; see disttune eval --help");
  return read_ir_files(args.get("corpus"), args.get("queries"), args.get("qrels"), report);
}


// Order of the table: full dimension first, then each Matryoshka dim as given; within one,
// sentence-transformers' order of metrics (the retrieval ones by k ascending; the binary
// classification ones as its evaluator logs them, then the correlations).
std::tuple<int64_t, int, int64_t, std::string> table_key(const std::string& name,
                                                          const std::vector<int64_t>& dims,
                                                          const std::string& score) {
  const auto [d, rest] = split_matryoshka_prefix(name);
  const int64_t group = d > 0 ? 1 + (std::find(dims.begin(), dims.end(), d) - dims.begin()) : 0;
  static const std::vector<std::string> kOrder = {
      "accuracy", "precision", "recall", "ndcg", "mrr", "map",                   // @k
      "accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap", "mcc"};
  const size_t at = rest.find('@');
  const std::string metric = rest.substr(0, at);
  const size_t first = at == std::string::npos ? 6 : 0, last = at == std::string::npos ? kOrder.size() : 6;
  int kind = static_cast<int>(kOrder.size());
  for (size_t i = first; i < last; ++i)
    if (metric == score + "_" + kOrder[i]) kind = static_cast<int>(i);
  const int64_t k = at == std::string::npos ? 0 : std::stoll(rest.substr(at + 1));
  return {group, kind, k, name};
}

}  // namespace

int run_eval(Dist& d, const Args& args) {
  const std::string output = args.get("output");
  ModelEvalOptions opt;
  opt.batch_size = args.get_int("batch-size");
  if (opt.batch_size < 1) DT_FAIL(kEvalCmd, ": --batch-size: expected an integer >= 1, got ", opt.batch_size);
  opt.ir.k = args.get_int_list("k");
  ir_cutoffs_from_k(opt.ir.k, "--k");  // checks the list before any work
  if (args.has("dims")) opt.ir.dims = args.get_int_list("dims");
  opt.similarity.dims = opt.triplet.dims = opt.ir.dims;
  const EvalKind kind = eval_kind(args);
  // --similarity is checked before any work; auto waits for the model.
  const bool model_similarity = args.get("similarity") == "auto";
  const ScoreFunction asked = model_similarity ? ScoreFunction::Cosine
                                               : parse_score_function(args.get("similarity"),
                                                                      str_cat(kEvalCmd, ": --similarity"));
  if (!output.empty()) prepare_output_path(d, kEvalCmd, "--output", output, {});

  IrReadReport report;
  IrSet set;
  ScoredSet scored;
  TripletSet triplets;
  if (kind == EvalKind::Retrieval) {
    set = read_set(args, &report);
    if (!args.has("pairs")) print0("data: ", report.summary());
    if (set.queries.empty()) DT_FAIL(kEvalCmd, ": no query to evaluate (", report.summary(), ")");
    if (!report.clean())
      warn0("some qrels rows could not be used (see above); queries without a relevant document "
            "are skipped, as sentence-transformers skips them");
  } else if (args.has("labeled")) {
    const int64_t seed = args.get_int("seed");
    if (seed < 0) DT_FAIL(kEvalCmd, ": --seed: expected an integer >= 0, got ", seed);
    const TextDataset ds = read_rows(args, "labeled", {{"text", "text"}, {"label", "label"}});
    triplets = triplet_set_from_labeled(ds, ds.all_rows(), derive_seed(static_cast<uint64_t>(seed), kTripletStream));
    if (triplets.empty())
      DT_FAIL(kEvalCmd, ": ", ds.source, ": no triplet (no class has 2 texts, or there is one class only)");
  } else {
    const TextDataset ds =
        kind == EvalKind::Scored
            ? read_rows(args, "scored", {{"sentence1", "sentence1"}, {"sentence2", "sentence2"}, {"score", "score"}})
            : read_rows(args, "triplets", {{"anchor", "anchor"}, {"positive", "positive"}, {"negative", "negative"}});
    if (kind == EvalKind::Scored) {
      scored = scored_set_from_rows(ds, ds.all_rows());
      // Labels rather than graded scores: evaluated as binary classification too.
      opt.classify = binary_labels(scored.scores);
    } else {
      triplets = triplet_set_from_rows(ds, ds.all_rows());
    }
  }

  ModelArg loaded = load_model_arg(kEvalCmd, "--model", args.get("model"), num_layers_arg(kEvalCmd, args));
  SentenceModel& model = loaded.model;
  for (int64_t dim : opt.ir.dims)
    if (dim < 1 || dim > model.dim())
      DT_FAIL(kEvalCmd, ": --dims: ", dim, " is not in [1, ", model.dim(), "] (the model's dimension)");
  // sentence-transformers' evaluators score with the model's similarity function.
  const ScoreFunction score =
      model_similarity ? parse_score_function(model.similarity_fn_name(),
                                              str_cat(kEvalCmd, ": the model's similarity_fn_name (give --similarity "
                                                                "cosine or dot)"))
                       : asked;
  opt.ir.score = opt.similarity.score = opt.triplet.score = score;
  if (score != ScoreFunction::Cosine) print0("similarity: ", score_function_name(score));
  // The prompts sentence-transformers' evaluators give: InformationRetrievalEvaluator embeds
  // with encode_query / encode_document, the similarity, binary classification and triplet
  // evaluators with encode (the default prompt). The flags override queries and triplet
  // anchors / documents and triplet positives and negatives.
  const std::string plain = model.default_prompt();
  const bool retrieval = kind == EvalKind::Retrieval;
  opt.query_prompt = args.has("query-prompt") ? args.get("query-prompt") : retrieval ? loaded.query_prompt : plain;
  opt.corpus_prompt =
      args.has("corpus-prompt") ? args.get("corpus-prompt") : retrieval ? model.document_prompt() : plain;
  opt.anchor_prompt = opt.query_prompt;
  opt.positive_prompt = opt.corpus_prompt;
  opt.negative_prompts.assign(triplets.negatives.size(), opt.corpus_prompt);
  opt.sentence1_prompt = opt.sentence2_prompt = plain;
  if (kind == EvalKind::Scored) {
    if (!plain.empty()) print0("prompt: \"", plain, "\"");
  } else {
    if (!opt.query_prompt.empty()) print0(retrieval ? "query" : "anchor", " prompt: \"", opt.query_prompt, "\"");
    if (!opt.corpus_prompt.empty())
      print0(retrieval ? "corpus" : "positive and negative", " prompt: \"", opt.corpus_prompt, "\"");
  }
  Embedder embedder(model, Embedder::tokenizer_for(model));
  opt.progress = "eval";
  IrEvalStats stats;
  std::map<std::string, double> metrics;
  std::string header;
  if (kind == EvalKind::Scored) {
    metrics = evaluate_model_similarity(d, embedder, scored, opt);
    header = str_cat(scored.scores.size(), " scored pairs\n");
  } else if (kind == EvalKind::Triplets) {
    metrics = evaluate_model_triplets(d, embedder, triplets, opt);
    header = str_cat(triplets.triplets(), " triplets\n");
  } else {
    metrics = evaluate_model(d, embedder, set, opt, &stats);
    header = str_cat(stats.queries, " queries over ", stats.corpus, " documents",
                     stats.queries_without_relevant
                         ? str_cat(" (", stats.queries_without_relevant,
                                   " without a relevant document skipped)")
                         : std::string(),
                     "\n");
  }

  std::vector<std::string> names;
  for (const auto& [name, value] : metrics) names.push_back(name);
  const std::string fn = score_function_name(score);
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return table_key(a, opt.ir.dims, fn) < table_key(b, opt.ir.dims, fn);
  });
  size_t width = 0;
  for (const auto& n : names) width = std::max(width, n.size());
  std::string table = header;
  for (const auto& n : names) {
    char value[32];
    std::snprintf(value, sizeof value, "%.4f", metrics.at(n));
    table += str_cat("  ", n, std::string(width + 2 - n.size(), ' '), value, "\n");
  }
  print0(table);

  if (!output.empty()) {
    std::string error;
    if (d.is_root()) {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [name, value] : metrics) j[name] = value;
      const Status st = Env::Default()->write_file_atomic(output, j.dump(2) + "\n");
      if (!st.ok()) error = str_cat(kEvalCmd, ": --output: ", st.message());
    }
    d.comm->broadcast_bytes(error, 0);
    if (!error.empty()) throw UserError(error);
    print0("wrote ", metrics.size(), " metrics to ", output);
  }
  return 0;
}

}  // namespace disttune
