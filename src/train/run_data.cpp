#include "train/run_data.h"

#include <algorithm>

#include "common/check.h"
#include "common/env.h"
#include "common/log.h"
#include "config/config.h"
#include "data/config_dataset.h"
#include "data/ir_from_pairs.h"
#include "data/random.h"
#include "data/split.h"
#include "dist/dist.h"
#include "eval/binary_classification_evaluator.h"
#include "eval/ir_evaluator.h"
#include "eval/similarity_evaluator.h"
#include "eval/triplet_evaluator.h"
#include "model/json_file.h"
#include "train/loss.h"

namespace disttune {
namespace {

void report(const TextDataset& d, const std::string& context = "") {
  print0("data: ", d.source, context.empty() ? "" : " (" + context + ")", ": ", d.format_name(), ", ",
         d.report.summary());
}

}  // namespace

TextDataset read_train_file(const Config& cfg) {
  TextDataset t = read_config_dataset(cfg, "data.train");
  report(t, cfg.context());
  if (t.size() == 0) cfg.fail("data.train", "no usable rows");
  return t;
}

std::string RunData::describe() const {
  // Held-out scored pairs are pairs, not queries: nothing retrieves over them.
  if (triplet_eval)
    return str_cat("train ", train_rows.size(), " rows, val ", val_triplets.triplets(), " triplets of ", val_rows,
                   " texts, test ", test_triplets.triplets(), " triplets of ", test_rows, " texts");
  if (!retrieval_eval) {
    const char* unit = similarity_eval ? " scored pairs" : " rows";
    return str_cat("train ", train_rows.size(), " rows, val ", val_rows, unit, ", test ", test_rows, unit);
  }
  return str_cat("train ", train_rows.size(), " rows, val ", val_rows, " queries over ",
                 val_set.corpus.size(), " docs, test ", test_rows, " queries over ",
                 test_set.corpus.size(), " docs");
}

EvalPlan plan_evaluation(const Config& cfg, const TextDataset& train,
                         const std::vector<std::pair<std::string, const TextDataset*>>& held) {
  const TextDataset& first = held.empty() ? train : *held.front().second;
  for (const auto& [key, ds] : held)
    if (ds->format_name() != first.format_name() || ds->roles != first.roles)
      cfg.fail(key + "_columns", str_cat(key, " is ", ds->format_name(), " (", join(ds->roles, ", "), ") and ",
                                         held.front().first, " ", first.format_name(), " (", join(first.roles, ", "),
                                         "): the held-out files are evaluated alike; map them to one format"));
  EvalPlan p;
  p.format = first.format;
  p.roles = first.roles;
  p.retrieval = has_pairs(first);
  p.similarity = first.format == DataFormat::Scored;
  p.triplets = first.labeled();
  // Scores that are all 0 or 1 in every file are labels: binary classification too.
  p.binary_labels = p.similarity && (train.format != DataFormat::Scored || binary_labels(train.scores));
  for (const auto& [key, ds] : held) p.binary_labels = p.binary_labels && binary_labels(ds->scores);
  return p;
}

RunData load_run_data(Dist& d, const Config& cfg) {
  RunData r;
  r.train = read_train_file(cfg);
  const uint64_t triplet_seed = derive_seed(static_cast<uint64_t>(cfg.get_int("data.split.seed")), kTripletStream);
  // data.val / data.test, each read with its own mapping where given.
  std::vector<std::pair<std::string, TextDataset>> held;
  for (const char* key : {"data.val", "data.test"}) {
    if (cfg.get_string(key).empty()) continue;
    held.emplace_back(key, read_config_dataset(cfg, key));
    report(held.back().second);
  }
  std::vector<std::pair<std::string, const TextDataset*>> views;
  for (const auto& [key, ds] : held) views.emplace_back(key, &ds);
  const EvalPlan plan = plan_evaluation(cfg, r.train, views);
  r.retrieval_eval = plan.retrieval;
  r.similarity_eval = plan.similarity;
  r.triplet_eval = plan.triplets;
  r.binary_labels = plan.binary_labels;
  r.eval_format = plan.format;
  r.eval_roles = plan.roles;
  if (held.empty()) {
    const SplitIndices s = make_split(r.train.size(), cfg.get_float("data.split.train"),
                                      cfg.get_float("data.split.val"),
                                      cfg.get_float("data.split.test"),
                                      static_cast<uint64_t>(cfg.get_int("data.split.seed")));
    r.train_rows = s.train;
    r.val_rows = static_cast<int64_t>(s.val.size());
    r.test_rows = static_cast<int64_t>(s.test.size());
    if (r.retrieval_eval) {
      // eval.corpus: split keeps evaluation cheap where the full corpus would dominate the
      // run time (the quickstart); the recipes search every positive.
      const bool all = cfg.get_string("eval.corpus") == "all";
      const std::vector<int64_t> corpus = r.train.all_rows();
      if (!s.val.empty()) r.val_set = ir_set_from_pairs(r.train, s.val, all ? corpus : s.val);
      if (!s.test.empty()) r.test_set = ir_set_from_pairs(r.train, s.test, all ? corpus : s.test);
      if (r.train.format == DataFormat::Triplets) {
        r.val_triplets = triplet_set_from_rows(r.train, s.val);
        r.test_triplets = triplet_set_from_rows(r.train, s.test);
      }
    } else if (r.similarity_eval) {
      r.val_scored = scored_set_from_rows(r.train, s.val);
      r.test_scored = scored_set_from_rows(r.train, s.test);
    } else if (r.triplet_eval) {
      r.val_triplets = triplet_set_from_labeled(r.train, s.val, triplet_seed);
      r.test_triplets = triplet_set_from_labeled(r.train, s.test, triplet_seed);
    }
  } else {
    r.train_rows = r.train.all_rows();
    for (const auto& [key, ds] : held) {
      if (!r.evaluated()) continue;
      const bool val = key == "data.val";
      const std::vector<int64_t> rows = ds.all_rows();
      (val ? r.val_rows : r.test_rows) = ds.size();
      if (r.triplet_eval) {
        (val ? r.val_triplets : r.test_triplets) = triplet_set_from_labeled(ds, rows, triplet_seed);
      } else if (r.similarity_eval) {
        (val ? r.val_scored : r.test_scored) = scored_set_from_rows(ds, rows);
      } else {
        (val ? r.val_set : r.test_set) = ir_set_from_pairs(ds, rows, rows);
        if (ds.format == DataFormat::Triplets)
          (val ? r.val_triplets : r.test_triplets) = triplet_set_from_rows(ds, rows);
      }
    }
  }
  if (r.train_rows.empty()) cfg.fail("data.split.train", "the training split is empty");
  if (!r.evaluated() && cfg.get_string("eval.strategy") != "no")
    warn0(held.empty() ? "data.train" : held.front().first, " is ", data_format_name(r.eval_format),
          ": evaluation needs anchor/positive columns, scored pairs or labeled texts, so none is run");
  return r;
}

bool has_pairs(const TextDataset& d) {
  return d.role_index("anchor") >= 0 && d.role_index("positive") >= 0;
}

std::vector<std::string> run_metric_names(const Config& cfg, DataFormat format, bool binary_labels,
                                          ScoreFunction score) {
  if (format == DataFormat::Scored) {
    SimilarityEvalOptions o;
    o.dims = cfg.get_int_list("loss.matryoshka_dims");
    o.score = score;
    std::vector<std::string> names = similarity_metric_names(o);
    if (!binary_labels) return names;
    BinaryClassificationOptions b;
    b.dims = o.dims;
    b.score = score;
    for (auto& n : binary_classification_metric_names(b)) names.push_back(std::move(n));
    std::sort(names.begin(), names.end());
    return names;
  }
  if (format == DataFormat::Texts) {
    TripletEvalOptions t;
    t.dims = cfg.get_int_list("loss.matryoshka_dims");
    t.score = score;
    return triplet_metric_names(t);
  }
  IrEvalOptions o;
  o.k = cfg.get_int_list("eval.k");
  o.dims = cfg.get_int_list("loss.matryoshka_dims");
  o.score = score;
  std::vector<std::string> names = ir_eval_metric_names(o);
  if (format == DataFormat::Triplets) {
    TripletEvalOptions t;
    t.dims = o.dims;
    t.score = score;
    for (auto& n : triplet_metric_names(t)) names.push_back(std::move(n));
    std::sort(names.begin(), names.end());
  }
  return names;
}

std::string run_eval_metric(const Config& cfg, DataFormat format, ScoreFunction score) {
  if (cfg.is_set("eval.metric")) return cfg.get_string("eval.metric");
  if (format == DataFormat::Texts) return score_function_name(score) + "_accuracy";
  return format == DataFormat::Scored ? similarity_primary_metric(score) : score_function_name(score) + "_ndcg@10";
}

ScoreFunction run_score_function(const Config& cfg) {
  const std::string& want = cfg.get_string("eval.similarity");
  if (want != "auto") return parse_score_function(want, "eval.similarity");
  const std::string& path = cfg.get_string("model.path");
  if (path.empty()) return ScoreFunction::Cosine;
  // Only this file: validate checks stand-in model directories that hold no weights.
  const std::string st = path + "/config_sentence_transformers.json";
  std::string fn;
  if (Env::Default()->file_exists(st)) {
    const Json j = read_json_file(st);
    fn = JsonObject(j, st).get_string("similarity_fn_name", "");
  }
  if (fn.empty() || fn == "cosine") return ScoreFunction::Cosine;
  if (fn == "dot") return ScoreFunction::Dot;
  cfg.fail("eval.similarity", str_cat("auto takes the model's similarity_fn_name, '", fn, "' (", path,
                                      "/config_sentence_transformers.json), and disttune evaluates with cosine "
                                      "or dot similarity only; set eval.similarity: cosine or dot"));
}

void check_eval_metric(const Config& cfg, DataFormat format, bool binary_labels, ScoreFunction score) {
  const std::string metric = run_eval_metric(cfg, format, score);
  const std::vector<std::string> names = run_metric_names(cfg, format, binary_labels, score);
  auto listed = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), metric) != v.end(); };
  const std::string all = join(names, ", ");
  if (listed(names)) {
    // The evaluator reports where it would cut; a best model needs a score to maximise.
    if (metric.find("_threshold") == std::string::npos) return;
    cfg.fail("eval.metric", str_cat("'", metric, "' is a similarity threshold, not a score where higher "
                                    "is better; choose e.g. cosine_ap or cosine_f1"));
  }
  if (format == DataFormat::Scored && !binary_labels && listed(run_metric_names(cfg, format, true, score)))
    cfg.fail("eval.metric", str_cat("'", metric, "' is a binary classification metric, evaluated only when "
                                    "every score in the data is 0 or 1, and this data has other scores; "
                                    "the metrics evaluated are ", all));
  cfg.fail("eval.metric", str_cat("'", metric, "' is not among the metrics evaluated: ", all));
}

void check_loss_takes_data(const Config& cfg, const Loss& loss, const TextDataset& train) {
  // Labeled texts: classes, which only the batch triplet losses and the sampler that groups
  // them read.
  if (loss.takes_class_labels() != train.labeled())
    cfg.fail(loss.takes_class_labels() ? "loss.name" : "data.columns",
             loss.takes_class_labels()
                 ? str_cat(loss.name(), " needs labeled texts (data.columns text and label: a class per text); ",
                           train.source, " holds ", train.format_name())
                 : str_cat("maps a label beside the texts, which ", loss.name(),
                           " does not read (the batch triplet losses do)"));
  if (cfg.get_string("training.batch_sampler") == "group_by_label") {
    if (!train.labeled())
      cfg.fail("training.batch_sampler", str_cat("group_by_label needs labeled texts (data.columns text and label); ",
                                                 train.source, " holds ", train.format_name()));
    const int64_t batch = cfg.get_int("training.global_batch_size");
    if (batch % 2 != 0 || batch < 4)
      cfg.fail("training.batch_sampler",
               str_cat("group_by_label needs an even training.global_batch_size of 4 or more, got ", batch));
  }
  const int cols = static_cast<int>(train.roles.size());
  const int max_cols = loss.max_columns();
  if (cols < loss.min_columns() || (max_cols >= 0 && cols > max_cols))
    cfg.fail("loss.name", str_cat(loss.name(), " takes ", loss.min_columns(),
                                  max_cols < 0                      ? " or more"
                                  : max_cols == loss.min_columns() ? ""
                                                                    : str_cat(" to ", max_cols),
                                  " text columns; data.columns maps ", cols, " (",
                                  data_format_name(train.format), ")"));
  if (loss.takes_class_labels()) return;
  // A tuple's score is the distillation losses' label: nothing else reads it, and a mapped
  // column that no loss reads is a mistake in data.columns.
  const bool tuple_scores = train.format == DataFormat::Triplets && !train.scores.empty();
  if (loss.needs_labels() && train.format != DataFormat::Scored && !tuple_scores)
    cfg.fail("loss.name", loss.name() + (cols > 2 ? " needs a score column beside the texts (data.columns score: "
                                                    "the teacher's scores)"
                                                  : " needs scored pairs (sentence1, sentence2, score)"));
  // The distillation losses' label shapes: MarginMSELoss takes a margin per negative or the
  // teacher's scores of the positive and each negative, DistillKLDivLoss the scores only.
  const int negatives = cols - 2;
  if (tuple_scores && loss.needs_labels() && !loss.takes_label_width(train.score_width, cols)) {
    const std::string margins = !loss.takes_label_width(negatives, cols) ? ""
                                : str_cat(negatives, negatives == 1 ? " margin or " : " margins or ");
    cfg.fail("data.columns", str_cat(loss.name(), " on ", negatives, negatives == 1 ? " negative" : " negatives",
                                     " takes ", margins, negatives + 1, " scores (positive first) per row; the score "
                                     "column of ", train.source, " holds ", train.score_width));
  }
  if (tuple_scores && !loss.needs_labels())
    cfg.fail("data.columns", str_cat("maps a score beside anchor, positive and negatives, which ", loss.name(),
                                     " does not read (margin_mse and distill_kl_div do)"));
}

}  // namespace disttune
