// Retrieval metrics: hand-worked cases (arithmetic in the comments), the cut-off and naming
// rule, and goldens from a transcription of sentence-transformers' formulas and from
// sklearn's ndcg_score (tests/ref/gen_ir_metrics_golden.py).
#include "eval/ir_metrics.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "common/check.h"
#include "test_util.h"

namespace disttune {
namespace {

using Lists = std::vector<std::vector<int64_t>>;

IrCutoffs cut(std::vector<int64_t> acc, std::vector<int64_t> pr, std::vector<int64_t> mrr,
              std::vector<int64_t> ndcg, std::vector<int64_t> map) {
  IrCutoffs c;
  c.accuracy = acc;
  c.precision_recall = pr;
  c.mrr = mrr;
  c.ndcg = ndcg;
  c.map = map;
  return c;
}

const double L3 = std::log2(3.0), L5 = std::log2(5.0), L6 = std::log2(6.0);

TEST(IrMetrics, HandWorkedSingleQuery) {
  // Ranking 3,1,4,0,2 with relevant {1, 2}: hits at ranks 2 and 5.
  const auto v = compute_ir_metrics({{3, 1, 4, 0, 2}}, {{1, 2}},
                                    cut({1, 3}, {1, 3, 5}, {1, 5}, {1, 3, 5}, {3, 5}));
  EXPECT_EQ(v.queries, 1);
  EXPECT_EQ(v.accuracy.at(1), 0.0);  // top 1 = {3}
  EXPECT_EQ(v.accuracy.at(3), 1.0);  // top 3 = {3,1,4} holds 1
  EXPECT_EQ(v.precision.at(1), 0.0);
  EXPECT_EQ(v.recall.at(1), 0.0);
  EXPECT_EQ(v.precision.at(3), 1.0 / 3);  // 1 of 3
  EXPECT_EQ(v.recall.at(3), 0.5);         // 1 of 2 relevant
  EXPECT_EQ(v.precision.at(5), 0.4);      // 2 of 5
  EXPECT_EQ(v.recall.at(5), 1.0);
  EXPECT_EQ(v.mrr.at(1), 0.0);
  EXPECT_EQ(v.mrr.at(5), 0.5);  // first hit at rank 2
  EXPECT_EQ(v.ndcg.at(1), 0.0);
  // ndcg@3 = (1/log2 3) / (1/log2 2 + 1/log2 3) = 0.6309 / 1.6309 = 0.38685
  EXPECT_DOUBLE_EQ(v.ndcg.at(3), (1 / L3) / (1 + 1 / L3));
  EXPECT_NEAR(v.ndcg.at(3), 0.386853, 1e-6);
  // ndcg@5 = (1/log2 3 + 1/log2 6) / (1 + 1/log2 3) = 1.01778 / 1.63093 = 0.62405
  EXPECT_DOUBLE_EQ(v.ndcg.at(5), (1 / L3 + 1 / L6) / (1 + 1 / L3));
  EXPECT_NEAR(v.ndcg.at(5), 0.624050, 1e-6);
  // map@3 = (1/2) / min(3, 2) = 0.25; map@5 = (1/2 + 2/5) / 2 = 0.45
  EXPECT_EQ(v.map.at(3), 0.25);
  EXPECT_DOUBLE_EQ(v.map.at(5), 0.45);
}

TEST(IrMetrics, NoRelevantDocumentRetrievedScoresZero) {
  // Relevant {7} never retrieved: every metric 0 (the query still counts).
  const auto v = compute_ir_metrics({{0, 1, 2}}, {{7}}, cut({1, 3}, {3}, {3}, {3}, {3}));
  EXPECT_EQ(v.queries, 1);
  EXPECT_EQ(v.accuracy.at(3), 0.0);
  EXPECT_EQ(v.precision.at(3), 0.0);
  EXPECT_EQ(v.recall.at(3), 0.0);
  EXPECT_EQ(v.mrr.at(3), 0.0);
  EXPECT_EQ(v.ndcg.at(3), 0.0);
  EXPECT_EQ(v.map.at(3), 0.0);
}

TEST(IrMetrics, QueriesWithoutRelevantDocumentsAreSkippedAndCounted) {
  // q0: relevant {0}, hit at rank 1. q1: no relevant document (skipped). q2: relevant {1},
  // hit at rank 2. Averages over 2 queries: accuracy@1 = 1/2 (1/3 had q1 counted),
  // mrr@2 = (1 + 1/2) / 2 = 0.75, recall@1 = (1 + 0) / 2.
  const auto v = compute_ir_metrics({{0, 1}, {0, 1}, {0, 1}}, {{0}, {}, {1}},
                                    cut({1}, {1}, {2}, {2}, {2}));
  EXPECT_EQ(v.queries, 2);
  EXPECT_EQ(v.queries_without_relevant, 1);
  EXPECT_EQ(v.accuracy.at(1), 0.5);
  EXPECT_EQ(v.mrr.at(2), 0.75);
  EXPECT_EQ(v.recall.at(1), 0.5);
  // ndcg@2: q0 = 1/1; q2 = (1/log2 3) / 1 -> mean (1 + 0.63093) / 2
  EXPECT_DOUBLE_EQ(v.ndcg.at(2), (1 + 1 / L3) / 2);
  // A ranking of a skipped query is never looked at (it may even be empty).
  const auto w = compute_ir_metrics({{0, 1}, {}, {0, 1}}, {{0}, {}, {1}}, cut({1}, {1}, {2}, {2}, {2}));
  EXPECT_EQ(w.mrr.at(2), 0.75);
}

TEST(IrMetrics, KLargerThanTheCorpus) {
  // A corpus of 3, ranked 2,0,1, relevant {0, 1} (ranks 2 and 3), k = 10:
  // precision@10 = 2/10 (sentence-transformers divides by k, not by what was retrieved),
  // recall@10 = 1, map@10 = (1/2 + 2/3) / min(10, 2) = 7/12,
  // ndcg@10 = (1/log2 3 + 1/log2 4) / (1 + 1/log2 3) = 1.13093 / 1.63093 = 0.69343.
  const auto v = compute_ir_metrics({{2, 0, 1}}, {{0, 1}}, cut({10}, {10}, {10}, {10}, {10}));
  EXPECT_EQ(v.precision.at(10), 0.2);
  EXPECT_EQ(v.recall.at(10), 1.0);
  EXPECT_DOUBLE_EQ(v.map.at(10), 7.0 / 12);
  EXPECT_DOUBLE_EQ(v.ndcg.at(10), (1 / L3 + 0.5) / (1 + 1 / L3));
  EXPECT_NEAR(v.ndcg.at(10), 0.693426, 1e-6);
  EXPECT_EQ(v.mrr.at(10), 0.5);
}

TEST(IrMetrics, MoreRelevantDocumentsThanK) {
  // Relevant {0..5} (6 documents), ranked 0,1,9,2,3: at k = 3 two hits.
  // precision@3 = 2/3, recall@3 = 2/6, map@3 = (1/1 + 2/2) / min(3, 6) = 2/3,
  // ndcg@3 = (1 + 1/log2 3) / (1 + 1/log2 3 + 1/log2 4) = 1.63093 / 2.13093 = 0.76536.
  // At k = 5: hits at 1, 2, 4, 5: map@5 = (1 + 1 + 3/4 + 4/5) / 5 = 0.71,
  // ndcg@5 = (1 + 1/log2 3 + 1/log2 5 + 1/log2 6) / (1 + 1/log2 3 + 1/2 + 1/log2 5 + 1/log2 6).
  const auto v = compute_ir_metrics({{0, 1, 9, 2, 3}}, {{0, 1, 2, 3, 4, 5}},
                                    cut({1}, {3}, {3}, {3, 5}, {3, 5}));
  EXPECT_EQ(v.precision.at(3), 2.0 / 3);
  EXPECT_EQ(v.recall.at(3), 2.0 / 6);
  EXPECT_DOUBLE_EQ(v.map.at(3), 2.0 / 3);
  EXPECT_DOUBLE_EQ(v.ndcg.at(3), (1 + 1 / L3) / (1 + 1 / L3 + 0.5));
  EXPECT_NEAR(v.ndcg.at(3), 0.765361, 1e-6);
  EXPECT_DOUBLE_EQ(v.map.at(5), 0.71);
  EXPECT_DOUBLE_EQ(v.ndcg.at(5), (1 + 1 / L3 + 1 / L5 + 1 / L6) / (1 + 1 / L3 + 0.5 + 1 / L5 + 1 / L6));
}

TEST(IrMetrics, NoQueryWithRelevanceIsAnError) {
  EXPECT_THROW(compute_ir_metrics({{0}, {1}}, {{}, {}}, IrCutoffs{}), UserError);
}

TEST(IrMetrics, CutoffRuleGivesSentenceTransformersDefaults) {
  const IrCutoffs c = ir_cutoffs_from_k({1, 3, 5, 10, 100});
  const IrCutoffs st;  // sentence-transformers' constructor defaults
  EXPECT_EQ(c.accuracy, st.accuracy);
  EXPECT_EQ(c.precision_recall, st.precision_recall);
  EXPECT_EQ(c.mrr, st.mrr);
  EXPECT_EQ(c.ndcg, st.ndcg);
  EXPECT_EQ(c.map, st.map);
  EXPECT_EQ(c.max_k(), 100);
  const std::vector<std::string> names = {
      "cosine_accuracy@1",   "cosine_accuracy@10",  "cosine_accuracy@3",  "cosine_accuracy@5",
      "cosine_map@100",      "cosine_mrr@10",       "cosine_ndcg@10",     "cosine_precision@1",
      "cosine_precision@10", "cosine_precision@3",  "cosine_precision@5", "cosine_recall@1",
      "cosine_recall@10",    "cosine_recall@3",     "cosine_recall@5"};
  EXPECT_EQ(ir_metric_names(c), names);
  EXPECT_EQ(ir_metric_names(c, matryoshka_prefix(128))[6], "dim_128_cosine_ndcg@10");
  EXPECT_EQ(split_matryoshka_prefix("dim_128_cosine_ndcg@10"), std::make_pair(int64_t{128}, std::string("cosine_ndcg@10")));
  EXPECT_EQ(split_matryoshka_prefix("cosine_ndcg@10"), std::make_pair(int64_t{0}, std::string("cosine_ndcg@10")));
  EXPECT_EQ(split_matryoshka_prefix("dim__x"), std::make_pair(int64_t{0}, std::string("dim__x")));

  // Order and duplicates do not matter; one k gives every metric at that k.
  const IrCutoffs u = ir_cutoffs_from_k({100, 10, 1, 10, 5, 3});
  EXPECT_EQ(u.accuracy, st.accuracy);
  EXPECT_EQ(u.map, st.map);
  const IrCutoffs one = ir_cutoffs_from_k({20});
  EXPECT_EQ(one.mrr, std::vector<int64_t>{20});
  EXPECT_EQ(one.map, std::vector<int64_t>{20});
  EXPECT_EQ(one.accuracy, std::vector<int64_t>{20});
  const IrCutoffs two = ir_cutoffs_from_k({10, 50});
  EXPECT_EQ(two.ndcg, std::vector<int64_t>{10});
  EXPECT_EQ(two.map, std::vector<int64_t>{50});
  EXPECT_EQ(two.precision_recall, std::vector<int64_t>{10});

  try {
    ir_cutoffs_from_k({1, 0}, "--k");
    FAIL() << "k = 0 accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("--k"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ir_cutoffs_from_k({}), UserError);
}

TEST(IrMetrics, NumpyMeanSummationOrder) {
  // Values whose sum depends on the order: a sequential sum of 1 + 1e-16 x 16 stays 1,
  // numpy's pairwise sum adds the small values to each other first.
  std::vector<double> x(17, 1e-16);
  x[0] = 1.0;
  double seq = 0;
  for (double v : x) seq += v;
  EXPECT_EQ(seq, 1.0);
  // Eight accumulators: r0 = 1 + 1e-16 (=1), r1..r7 = 2e-16; then one more 1e-16.
  double r = ((1.0 + 2e-16) + (2e-16 + 2e-16)) + ((2e-16 + 2e-16) + (2e-16 + 2e-16));
  EXPECT_EQ(numpy_mean(x), (r + 1e-16) / 17);
  EXPECT_NE(numpy_mean(x), seq / 17);
}

const nlohmann::json& load_golden() { return test::golden_json("eval/ir_metrics.json"); }

TEST(IrMetrics, EqualsSentenceTransformersTranscriptionGolden) {
  const auto& g = load_golden();
  ASSERT_GE(g["st_cases"].size(), 4u);
  for (const auto& c : g["st_cases"]) {
    IrCutoffs cu = cut(c["cutoffs"]["accuracy"], c["cutoffs"]["precision_recall"],
                       c["cutoffs"]["mrr"], c["cutoffs"]["ndcg"], c["cutoffs"]["map"]);
    const Lists ranked = c["ranked"], relevant = c["relevant"];
    const auto v = compute_ir_metrics(ranked, relevant, cu);
    EXPECT_EQ(v.queries, c["queries"].get<int64_t>());
    EXPECT_EQ(v.queries_without_relevant, c["queries_without_relevant"].get<int64_t>());
    const auto m = ir_metric_map(v);
    EXPECT_EQ(m.size(), c["metrics"].size());
    for (const auto& [name, want] : c["metrics"].items()) {
      ASSERT_TRUE(m.count(name)) << name;
      // Bit-exact: same operations, numpy's summation order. ndcg only up to log2, whose
      // numpy SIMD implementation may differ from libm in the last bit.
      if (name.find("ndcg") != std::string::npos)
        EXPECT_NEAR(m.at(name), want.get<double>(), 1e-14) << name;
      else
        EXPECT_EQ(m.at(name), want.get<double>()) << name;
    }
  }
}

TEST(IrMetrics, NdcgEqualsSklearnGolden) {
  const auto& g = load_golden();
  ASSERT_GE(g["sklearn_cases"].size(), 2u);
  for (const auto& c : g["sklearn_cases"]) {
    const std::vector<int64_t> ks = c["ks"];
    IrCutoffs cu = cut({1}, {1}, {1}, ks, {1});
    const auto v = compute_ir_metrics(c["ranked"].get<Lists>(), c["relevant"].get<Lists>(), cu);
    for (int64_t k : ks)
      EXPECT_NEAR(v.ndcg.at(k), c["ndcg"][std::to_string(k)].get<double>(), 1e-12) << "ndcg@" << k;
  }
}

}  // namespace
}  // namespace disttune
