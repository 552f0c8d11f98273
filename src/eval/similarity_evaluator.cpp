#include "eval/similarity_evaluator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/check.h"
#include "eval/ir_metrics.h"
#include "eval/normalize.h"

namespace disttune {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// 1-based ranks; a run of equal values shares the mean of the ranks it spans.
std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1 .. j
    for (size_t k = i; k < j; ++k) rank[order[k]] = r;
    i = j;
  }
  return rank;
}

}  // namespace

double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  DT_CHECK(x.size() == y.size(), "pearson_correlation: ", x.size(), " and ", y.size(), " values");
  if (x.size() < 2) return kNaN;
  const double mx = mean(x), my = mean(y);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return kNaN;
  // Rounding can take a perfect correlation just past 1; scipy clips it too.
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  DT_CHECK(x.size() == y.size(), "spearman_correlation: ", x.size(), " and ", y.size(), " values");
  return pearson_correlation(average_ranks(x), average_ranks(y));
}

std::vector<std::string> similarity_metric_names(const SimilarityEvalOptions& opt) {
  const std::string fn = score_function_name(opt.score);
  return matryoshka_metric_names({"pearson_" + fn, "spearman_" + fn}, opt.dims, opt.name);
}

std::string similarity_primary_metric(ScoreFunction score) { return "spearman_" + score_function_name(score); }

std::map<std::string, double> evaluate_similarity(const at::Tensor& first, const at::Tensor& second,
                                                  const std::vector<float>& scores,
                                                  const SimilarityEvalOptions& opt) {
  const int64_t n = static_cast<int64_t>(scores.size());
  DT_REQUIRE(first.dim() == 2 && first.size(0) == n && second.sizes() == first.sizes(),
             "similarity evaluation: expected two [", n, ", dim] embedding matrices for ", n,
             " scores, got ", first.sizes(), " and ", second.sizes());
  const std::vector<double> gold(scores.begin(), scores.end());
  std::map<std::string, double> out;
  const auto variants = matryoshka_variants("similarity evaluation", first.size(1), opt.dims, opt.name);
  for (const auto& [dim, prefix] : variants) {
    const std::vector<float> sim = pairwise_scores(first, second, dim, opt.score);
    const std::vector<double> predicted(sim.begin(), sim.end());
    const std::string fn = score_function_name(opt.score);
    out[prefix + "pearson_" + fn] = pearson_correlation(gold, predicted);
    out[prefix + "spearman_" + fn] = spearman_correlation(gold, predicted);
  }
  return out;
}

}  // namespace disttune
