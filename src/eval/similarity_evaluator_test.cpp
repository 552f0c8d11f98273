// The similarity evaluator against scipy's pearsonr / spearmanr and an end-to-end torch
// computation of sentence-transformers' EmbeddingSimilarityEvaluator
// (tests/ref/gen_similarity_golden.py), plus the properties the trainer relies on.
#include "eval/similarity_evaluator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "common/check.h"
#include "test_util.h"

namespace disttune {
namespace {

const nlohmann::json& golden() { return test::golden_json("eval/similarity.json"); }

void expect_figure(double got, const nlohmann::json& want, double tol, const std::string& what) {
  if (want.is_null())
    EXPECT_TRUE(std::isnan(got)) << what << ": scipy gives NaN, got " << got;
  else
    EXPECT_NEAR(got, want.get<double>(), tol) << what;
}

TEST(SimilarityEvaluator, CorrelationsMatchScipy) {
  int i = 0;
  for (const auto& c : golden()["correlations"]) {
    const auto x = c["x"].get<std::vector<double>>(), y = c["y"].get<std::vector<double>>();
    const std::string what = "case " + std::to_string(i++);
    expect_figure(pearson_correlation(x, y), c["pearson"], 1e-12, what + " pearson");
    expect_figure(spearman_correlation(x, y), c["spearman"], 1e-12, what + " spearman");
  }
  EXPECT_EQ(i, 5);
  // Fewer than two values: undefined (scipy refuses).
  EXPECT_TRUE(std::isnan(pearson_correlation({1.0}, {2.0})));
}

TEST(SimilarityEvaluator, HandWorkedTiedRanks) {
  // x ranks: 10 -> 1, the two 20s share (2 + 3) / 2 = 2.5, 30 -> 4; y is already ranked
  // 1, 2, 3, 4. Pearson of (1, 2.5, 2.5, 4) and (1, 2, 3, 4): sxy = 4.5, sxx = 4.5, syy = 5.
  EXPECT_NEAR(spearman_correlation({10, 20, 20, 30}, {0.1, 0.2, 0.3, 0.4}), 4.5 / std::sqrt(4.5 * 5), 1e-15);
  // A monotone but nonlinear relation: Spearman 1, Pearson below it.
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {1, 4, 9, 16, 250};
  EXPECT_DOUBLE_EQ(spearman_correlation(x, y), 1.0);
  EXPECT_LT(pearson_correlation(x, y), 0.9);
}

TEST(SimilarityEvaluator, DotProductsNameDot) {
  // Pairs (1, 0).(2, 0) = 2, (1, 0).(0, 1) = 0, (3, 0).(3, 0) = 9 against scores 0.5, 0, 1:
  // the cosines would be 1, 0, 1.
  const at::Tensor a = at::tensor({1.f, 0.f, 1.f, 0.f, 3.f, 0.f}).reshape({3, 2});
  const at::Tensor b = at::tensor({2.f, 0.f, 0.f, 1.f, 3.f, 0.f}).reshape({3, 2});
  SimilarityEvalOptions opt;
  opt.score = ScoreFunction::Dot;
  const auto m = evaluate_similarity(a, b, {0.5f, 0.f, 1.f}, opt);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_DOUBLE_EQ(m.at("pearson_dot"), pearson_correlation({0.5, 0, 1}, {2, 0, 9}));
  EXPECT_DOUBLE_EQ(m.at("spearman_dot"), 1.0);
  EXPECT_LT(evaluate_similarity(a, b, {0.5f, 0.f, 1.f}).at("spearman_cosine"), 1.0);
  EXPECT_EQ(similarity_primary_metric(ScoreFunction::Dot), "spearman_dot");
}

TEST(SimilarityEvaluator, EmbeddingsMatchTorchAndScipy) {
  const auto& g = golden()["embedding_case"];
  const at::Tensor a = test::float_matrix(g["a"]), b = test::float_matrix(g["b"]);
  SimilarityEvalOptions opt;
  opt.dims = g["dims"].get<std::vector<int64_t>>();
  const auto scores = g["scores"].get<std::vector<float>>();
  const auto m = evaluate_similarity(a, b, scores, opt);
  // The similarities are float32 sums in another order than torch's: ~1e-7 apart.
  EXPECT_EQ(similarity_metric_names(opt), test::expect_metrics_near(m, g["metrics"], 1e-6));

  // The order of the pairs does not matter (but for the order of the sums); the scale of an
  // embedding and its type do not either (but for float32 rounding of the unit vectors).
  const at::Tensor perm = at::flip(at::arange(a.size(0)), {0});
  std::vector<float> rscores(scores.rbegin(), scores.rend());
  const auto r = evaluate_similarity(a.index_select(0, perm), b.index_select(0, perm), rscores, opt);
  for (const auto& [name, v] : m) EXPECT_NEAR(r.at(name), v, 1e-14) << name;
  const auto s = evaluate_similarity(a * 3.0, b.to(at::kDouble), scores, opt);
  for (const auto& [name, v] : m) EXPECT_NEAR(s.at(name), v, 1e-6) << name;

  // Named as an evaluator named "sts-dev" would name them.
  opt.name = "sts-dev";
  EXPECT_EQ(evaluate_similarity(a, b, scores, opt).count("sts-dev_dim_3_spearman_cosine"), 1u);
}

TEST(SimilarityEvaluator, RejectsMismatchedInput) {
  const at::Tensor a = at::randn({4, 8});
  const std::vector<float> four = {1, 2, 3, 4};
  EXPECT_THROW(evaluate_similarity(a, at::randn({4, 6}), four), UserError);
  EXPECT_THROW(evaluate_similarity(a, a, {1, 2, 3}), UserError);
  SimilarityEvalOptions opt;
  opt.dims = {16};
  EXPECT_THROW(evaluate_similarity(a, a, four, opt), UserError);
  // A model that embeds every sentence alike (a collapsed one) gives one similarity for
  // every pair: the correlation is undefined, NaN, which never becomes a best model.
  const at::Tensor same = at::ones({4, 8});
  EXPECT_TRUE(std::isnan(evaluate_similarity(same, same, four).at("spearman_cosine")));
}

}  // namespace
}  // namespace disttune
