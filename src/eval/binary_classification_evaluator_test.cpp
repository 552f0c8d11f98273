// The binary classification evaluator against sklearn and sentence-transformers' threshold
// searches (tests/ref/gen_binary_classification_golden.py), and the properties the trainer
// relies on.
#include "eval/binary_classification_evaluator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "test_util.h"

namespace disttune {
namespace {

const nlohmann::json& binary_golden() { return test::golden_json("eval/binary_classification.json"); }

std::map<std::string, double> figures(const std::vector<float>& sim, const std::vector<int>& y) {
  const ThresholdSearch acc = best_accuracy_threshold(sim, y), f1 = best_f1_threshold(sim, y);
  std::vector<int> predicted;
  for (float s : sim) predicted.push_back(s >= f1.threshold);
  return {{"cosine_accuracy", acc.best},       {"cosine_accuracy_threshold", acc.threshold},
          {"cosine_f1", f1.best},              {"cosine_f1_threshold", f1.threshold},
          {"cosine_precision", f1.precision},  {"cosine_recall", f1.recall},
          {"cosine_ap", average_precision(sim, y)},
          {"cosine_mcc", matthews_correlation(y, predicted)}};
}

TEST(BinaryClassificationEvaluator, ThresholdsApAndMccMatchReference) {
  int i = 0;
  for (const auto& c : binary_golden()["cases"]) {
    const auto sim = c["similarity"].get<std::vector<float>>();
    const auto y = c["labels"].get<std::vector<int>>();
    const auto got = figures(sim, y);
    ASSERT_EQ(got.size(), c["metrics"].size());
    for (const auto& [name, want] : c["metrics"].items()) {
      const std::string what = "case " + std::to_string(i) + " " + name;
      if (name.find("threshold") != std::string::npos)  // float32 midpoints: exact
        EXPECT_EQ(static_cast<float>(got.at(name)), want.get<float>()) << what;
      else
        EXPECT_NEAR(got.at(name), want.get<double>(), 1e-12) << what;
    }
    ++i;
  }
  EXPECT_EQ(i, 7);
}

TEST(BinaryClassificationEvaluator, HandWorked) {
  // Sorted: 0.9 (1), 0.8 (0), 0.4 (1), 0.1 (0). Splits: after 0.9 -> 3/4 right; after 0.8
  // -> 2/4; after 0.4 -> 3/4 (not better: the first best stays), threshold (0.9 + 0.8) / 2.
  const std::vector<float> sim = {0.1f, 0.9f, 0.4f, 0.8f};
  const std::vector<int> y = {0, 1, 1, 0};
  const ThresholdSearch acc = best_accuracy_threshold(sim, y);
  EXPECT_DOUBLE_EQ(acc.best, 0.75);
  EXPECT_EQ(acc.threshold, static_cast<float>(0.9f + 0.8f) / 2);
  // F1: after 0.9 p 1 r 0.5 -> 2/3; after 0.4 p 2/3 r 1 -> 0.8.
  const ThresholdSearch f1 = best_f1_threshold(sim, y);
  EXPECT_DOUBLE_EQ(f1.best, 0.8);
  EXPECT_DOUBLE_EQ(f1.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(f1.recall, 1.0);
  // AP: the positives come at ranks 1 and 3: (1/1 + 2/3) / 2.
  EXPECT_DOUBLE_EQ(average_precision(sim, y), (1.0 + 2.0 / 3) / 2);
  // Tied similarities count together: both pairs at one threshold, precision 1/2 whichever
  // comes first.
  EXPECT_DOUBLE_EQ(average_precision({0.5f, 0.5f}, {1, 0}), 0.5);
  // MCC of a perfect, an inverted and a constant prediction.
  EXPECT_DOUBLE_EQ(matthews_correlation({1, 0, 1, 0}, {1, 0, 1, 0}), 1.0);
  EXPECT_DOUBLE_EQ(matthews_correlation({1, 0, 1, 0}, {0, 1, 0, 1}), -1.0);
  EXPECT_DOUBLE_EQ(matthews_correlation({1, 0, 1, 0}, {1, 1, 1, 1}), 0.0);
}

TEST(BinaryClassificationEvaluator, DotProductsNameDot) {
  // Dot products 2, 0, 9 with labels 0, 0, 1: 9 alone above the cut, halfway to 2 (5.5).
  const at::Tensor a = at::tensor({1.f, 0.f, 1.f, 0.f, 3.f, 0.f}).reshape({3, 2});
  const at::Tensor b = at::tensor({2.f, 0.f, 0.f, 1.f, 3.f, 0.f}).reshape({3, 2});
  BinaryClassificationOptions opt;
  opt.score = ScoreFunction::Dot;
  const auto m = evaluate_binary_classification(a, b, {0.f, 0.f, 1.f}, opt);
  EXPECT_EQ(m.size(), 8u);
  EXPECT_EQ(m.at("dot_accuracy"), 1.0);
  EXPECT_EQ(m.at("dot_accuracy_threshold"), 5.5f);
  EXPECT_EQ(m.at("dot_f1_threshold"), 5.5f);
  EXPECT_EQ(m.at("dot_ap"), 1.0);
  EXPECT_EQ(binary_classification_primary_metric(ScoreFunction::Dot), "dot_ap");
  // The cosines (1, 0, 1) cannot separate the label: accuracy 2/3.
  EXPECT_LT(evaluate_binary_classification(a, b, {0.f, 0.f, 1.f}).at("cosine_accuracy"), 1.0);
}

TEST(BinaryClassificationEvaluator, EmbeddingsMatchTorchAndSklearn) {
  const auto& g = binary_golden()["embedding_case"];
  const at::Tensor a = test::float_matrix(g["a"]), b = test::float_matrix(g["b"]);
  BinaryClassificationOptions opt;
  opt.dims = g["dims"].get<std::vector<int64_t>>();
  const auto labels = g["labels"].get<std::vector<float>>();
  const auto m = evaluate_binary_classification(a, b, labels, opt);
  // The similarities are float32 sums in another order than torch's: ~1e-7 apart.
  EXPECT_EQ(binary_classification_metric_names(opt), test::expect_metrics_near(m, g["metrics"], 1e-6));

  // Scale and type of the embeddings do not matter (but for float32 rounding).
  const auto s = evaluate_binary_classification(a * 3.0, b.to(at::kDouble), labels, opt);
  for (const auto& [name, v] : m) EXPECT_NEAR(s.at(name), v, 1e-6) << name;
  opt.name = "quora-dev";
  EXPECT_EQ(evaluate_binary_classification(a, b, labels, opt).count("quora-dev_dim_3_cosine_ap"), 1u);
}

TEST(BinaryClassificationEvaluator, LabelsAndErrors) {
  EXPECT_TRUE(binary_labels({0, 1, 1, 0}));
  EXPECT_TRUE(binary_labels({1, 1}));
  EXPECT_FALSE(binary_labels({0, 1, 0.5f}));
  EXPECT_FALSE(binary_labels({0, 2}));
  EXPECT_FALSE(binary_labels({}));
  const at::Tensor a = at::randn({3, 8});
  EXPECT_NE(test::error_of([&] { evaluate_binary_classification(a, a, {0, 1, 0.5f}); })
                .find("every label must be 0 or 1"),
            std::string::npos);
  EXPECT_THROW(evaluate_binary_classification(a, at::randn({3, 4}), {0, 1, 1}), UserError);
  EXPECT_THROW(evaluate_binary_classification(a, a, {0, 1}), UserError);
  BinaryClassificationOptions opt;
  opt.dims = {9};
  EXPECT_THROW(evaluate_binary_classification(a, a, {0, 1, 1}, opt), UserError);
}

}  // namespace
}  // namespace disttune
