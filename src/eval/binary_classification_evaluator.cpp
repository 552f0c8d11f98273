#include "eval/binary_classification_evaluator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/check.h"
#include "eval/ir_metrics.h"
#include "eval/normalize.h"

namespace disttune {
namespace {

// Pair indices by decreasing similarity, ties in their given order (Python's stable sort
// with reverse=True, as the evaluator sorts).
std::vector<size_t> by_decreasing(const std::vector<float>& sim) {
  std::vector<size_t> order(sim.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sim[a] > sim[b]; });
  return order;
}

void check_sizes(const std::vector<float>& sim, const std::vector<int>& labels) {
  DT_CHECK(sim.size() == labels.size(), sim.size(), " similarities for ", labels.size(), " labels");
}

// The evaluator adds two float32 similarities in float32, then halves (exact).
float midpoint(float a, float b) { return static_cast<float>(a + b) / 2.0f; }

}  // namespace

bool binary_labels(const std::vector<float>& scores) {
  return !scores.empty() &&
         std::all_of(scores.begin(), scores.end(), [](float s) { return s == 0.0f || s == 1.0f; });
}

ThresholdSearch best_accuracy_threshold(const std::vector<float>& sim, const std::vector<int>& labels) {
  check_sizes(sim, labels);
  const std::vector<size_t> order = by_decreasing(sim);
  const double n = static_cast<double>(labels.size());
  int64_t positives_above = 0;
  int64_t negatives_below = std::count(labels.begin(), labels.end(), 0);
  ThresholdSearch out;
  out.threshold = -1;
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    if (labels[order[i]] == 1)
      ++positives_above;
    else
      --negatives_below;
    const double acc = static_cast<double>(positives_above + negatives_below) / n;
    if (acc > out.best) {
      out.best = acc;
      out.threshold = midpoint(sim[order[i]], sim[order[i + 1]]);
    }
  }
  return out;
}

ThresholdSearch best_f1_threshold(const std::vector<float>& sim, const std::vector<int>& labels) {
  check_sizes(sim, labels);
  const std::vector<size_t> order = by_decreasing(sim);
  const double positives = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  int64_t taken = 0, correct = 0;
  ThresholdSearch out;
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    ++taken;
    if (labels[order[i]] == 1) ++correct;
    if (correct == 0) continue;
    const double precision = static_cast<double>(correct) / static_cast<double>(taken);
    const double recall = static_cast<double>(correct) / positives;
    const double f1 = 2 * precision * recall / (precision + recall);
    if (f1 > out.best) {
      out.best = f1;
      out.precision = precision;
      out.recall = recall;
      out.threshold = midpoint(sim[order[i]], sim[order[i + 1]]);
    }
  }
  return out;
}

double average_precision(const std::vector<float>& sim, const std::vector<int>& labels) {
  check_sizes(sim, labels);
  const std::vector<size_t> order = by_decreasing(sim);
  const int64_t positives = std::count(labels.begin(), labels.end(), 1);
  if (positives == 0) return 0.0;  // sklearn warns and gives 0
  double ap = 0, recall_before = 0;
  int64_t tp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += labels[order[i]] == 1;
    // A threshold at each distinct similarity: the pairs tied with this one count together.
    if (i + 1 < order.size() && sim[order[i + 1]] == sim[order[i]]) continue;
    const double recall = static_cast<double>(tp) / static_cast<double>(positives);
    ap += (recall - recall_before) * (static_cast<double>(tp) / static_cast<double>(i + 1));
    recall_before = recall;
  }
  return ap;
}

double matthews_correlation(const std::vector<int>& labels, const std::vector<int>& predicted) {
  DT_CHECK(labels.size() == predicted.size(), labels.size(), " labels for ", predicted.size(), " predictions");
  double c[2][2] = {{0, 0}, {0, 0}};  // c[true][predicted]
  for (size_t i = 0; i < labels.size(); ++i) c[labels[i]][predicted[i]] += 1;
  const double n = static_cast<double>(labels.size());
  const double t0 = c[0][0] + c[0][1], t1 = c[1][0] + c[1][1];  // true counts
  const double p0 = c[0][0] + c[1][0], p1 = c[0][1] + c[1][1];  // predicted counts
  const double cov_tp = (c[0][0] + c[1][1]) * n - (t0 * p0 + t1 * p1);
  const double cov_pp = n * n - (p0 * p0 + p1 * p1);
  const double cov_tt = n * n - (t0 * t0 + t1 * t1);
  if (cov_pp * cov_tt == 0) return 0.0;
  return cov_tp / std::sqrt(cov_tt * cov_pp);
}

std::vector<std::string> binary_classification_metric_names(const BinaryClassificationOptions& opt) {
  std::vector<std::string> names;
  for (const char* m : {"accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap", "mcc"})
    names.push_back(score_function_name(opt.score) + "_" + m);
  return matryoshka_metric_names(names, opt.dims, opt.name);
}

std::string binary_classification_primary_metric(ScoreFunction score) {
  return score_function_name(score) + "_ap";
}

std::map<std::string, double> evaluate_binary_classification(const at::Tensor& first,
                                                             const at::Tensor& second,
                                                             const std::vector<float>& labels,
                                                             const BinaryClassificationOptions& opt) {
  const int64_t n = static_cast<int64_t>(labels.size());
  DT_REQUIRE(first.dim() == 2 && first.size(0) == n && second.sizes() == first.sizes(),
             "binary classification evaluation: expected two [", n, ", dim] embedding matrices for ",
             n, " labels, got ", first.sizes(), " and ", second.sizes());
  DT_REQUIRE(binary_labels(labels), "binary classification evaluation: every label must be 0 or 1");
  const std::vector<int> y(labels.begin(), labels.end());
  std::map<std::string, double> out;
  for (const auto& [dim, prefix] : matryoshka_variants("binary classification evaluation",
                                                        first.size(1), opt.dims, opt.name)) {
    const std::vector<float> sim = pairwise_scores(first, second, dim, opt.score);
    const std::string fn = prefix + score_function_name(opt.score);
    const ThresholdSearch acc = best_accuracy_threshold(sim, y);
    const ThresholdSearch f1 = best_f1_threshold(sim, y);
    std::vector<int> predicted(sim.size());
    for (size_t i = 0; i < sim.size(); ++i) predicted[i] = sim[i] >= f1.threshold;
    out[fn + "_accuracy"] = acc.best;
    out[fn + "_accuracy_threshold"] = acc.threshold;
    out[fn + "_f1"] = f1.best;
    out[fn + "_f1_threshold"] = f1.threshold;
    out[fn + "_precision"] = f1.precision;
    out[fn + "_recall"] = f1.recall;
    out[fn + "_ap"] = average_precision(sim, y);
    out[fn + "_mcc"] = matthews_correlation(y, predicted);
  }
  return out;
}

}  // namespace disttune
