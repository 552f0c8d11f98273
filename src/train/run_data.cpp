#include "train/run_data.h"

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "common/log.h"
#include "config/config.h"
#include "data/config_dataset.h"
#include "data/ir_from_pairs.h"
#include "data/split.h"
#include "dist/dist.h"
#include "eval/ir_evaluator.h"

namespace disttune {
namespace {

std::vector<int64_t> all_rows(const TextDataset& d) {
  std::vector<int64_t> r(static_cast<size_t>(d.size()));
  std::iota(r.begin(), r.end(), 0);
  return r;
}

void report(const TextDataset& d) {
  print0("data: ", d.source, ": ", data_format_name(d.format), ", ", d.report.summary());
}

}  // namespace

std::string RunData::describe() const {
  // Held-out scored pairs are rows, not queries: nothing retrieves over them.
  if (!retrieval_eval)
    return str_cat("train ", train_rows.size(), " rows, val ", val_rows, " rows, test ", test_rows, " rows");
  return str_cat("train ", train_rows.size(), " rows, val ", val_rows, " queries over ",
                 val_set.corpus.size(), " docs, test ", test_rows, " queries over ",
                 test_set.corpus.size(), " docs");
}

RunData load_run_data(Dist& d, const Config& cfg) {
  RunData r;
  r.train = read_config_dataset(cfg, "data.train");
  report(r.train);
  if (r.train.size() == 0) cfg.fail("data.train", "no usable rows");
  r.retrieval_eval = has_pairs(r.train);
  const bool separate = !cfg.get_string("data.val").empty() || !cfg.get_string("data.test").empty();
  if (!separate) {
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
      const std::vector<int64_t> corpus = all_rows(r.train);
      if (!s.val.empty()) r.val_set = ir_set_from_pairs(r.train, s.val, all ? corpus : s.val);
      if (!s.test.empty()) r.test_set = ir_set_from_pairs(r.train, s.test, all ? corpus : s.test);
    }
  } else {
    r.train_rows = all_rows(r.train);
    for (const char* key : {"data.val", "data.test"}) {
      if (cfg.get_string(key).empty()) continue;
      TextDataset held = read_config_dataset(cfg, key);
      report(held);
      if (!has_pairs(held)) continue;
      const std::vector<int64_t> rows = all_rows(held);
      IrSet set = ir_set_from_pairs(held, rows, rows);
      if (std::string(key) == "data.val") {
        r.val_rows = held.size();
        r.val_set = std::move(set);
      } else {
        r.test_rows = held.size();
        r.test_set = std::move(set);
      }
    }
  }
  if (r.train_rows.empty()) cfg.fail("data.split.train", "the training split is empty");
  if (!r.retrieval_eval && cfg.get_string("eval.strategy") != "no")
    warn0("data.train is ", data_format_name(r.train.format),
          ": retrieval evaluation needs anchor/positive columns, so none is run");
  return r;
}

bool has_pairs(const TextDataset& d) {
  return d.role_index("anchor") >= 0 && d.role_index("positive") >= 0;
}

std::vector<std::string> run_metric_names(const Config& cfg) {
  IrEvalOptions o;
  o.k = cfg.get_int_list("eval.k");
  o.dims = cfg.get_int_list("loss.matryoshka_dims");
  return ir_eval_metric_names(o);
}

void check_eval_metric(const Config& cfg) {
  const std::string& metric = cfg.get_string("eval.metric");
  const std::vector<std::string> names = run_metric_names(cfg);
  if (std::find(names.begin(), names.end(), metric) != names.end()) return;
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  cfg.fail("eval.metric", str_cat("'", metric, "' is not among the metrics evaluated: ", all));
}

}  // namespace disttune
