#include "train/report.h"

#include <gtest/gtest.h>

namespace disttune {
namespace {

ReportInput matryoshka_report() {
  ReportInput in;
  in.metrics = {"cosine_ndcg@10", "dim_64_cosine_ndcg@10", "dim_64_cosine_ndcg@5"};
  in.base = {{"cosine_ndcg@10", 0.2}, {"dim_64_cosine_ndcg@10", 0.1}, {"dim_64_cosine_ndcg@5", 0.05}};
  in.tuned = {{"cosine_ndcg@10", 0.3}, {"dim_64_cosine_ndcg@10", 0.25}};
  in.bm25 = {{"cosine_ndcg@10", 0.7}};
  in.split_description = "test split: 3 queries over 5 documents";
  return in;
}

// BM25 has no embedding dimension: a Matryoshka row shows BM25's figure for the metric it
// truncates, not a missing value; a figure no side has reads n/a, never "nan".
TEST(Report, MatryoshkaRowsShowBm25sFigureOfTheirMetric) {
  const std::string md = report_markdown(matryoshka_report());
  EXPECT_NE(md.find("| cosine_ndcg@10 | 0.2000 | 0.3000 | +50.0% | 0.7000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| dim_64_cosine_ndcg@10 | 0.1000 | 0.2500 | +150.0% | 0.7000 |"), std::string::npos) << md;
  // BM25 was not computed at @5 (and the fine-tuned figure is missing too).
  EXPECT_NE(md.find("| dim_64_cosine_ndcg@5 | 0.0500 | n/a | n/a | n/a |"), std::string::npos) << md;
  EXPECT_EQ(md.find("nan"), std::string::npos) << md;

  const nlohmann::json j = report_json(matryoshka_report());
  EXPECT_DOUBLE_EQ(j["metrics"]["dim_64_cosine_ndcg@10"]["bm25"].get<double>(), 0.7);
  EXPECT_TRUE(j["metrics"]["dim_64_cosine_ndcg@5"]["bm25"].is_null());
}

TEST(Report, NoBm25ColumnWithoutBm25) {
  ReportInput in = matryoshka_report();
  in.bm25.clear();
  const std::string md = report_markdown(in);
  EXPECT_EQ(md.find("BM25"), std::string::npos);
  EXPECT_NE(md.find("| dim_64_cosine_ndcg@10 | 0.1000 | 0.2500 | +150.0% |\n"), std::string::npos) << md;
  EXPECT_FALSE(report_json(in)["metrics"]["cosine_ndcg@10"].contains("bm25"));
}

// A threshold of the binary classification evaluator has no relative change: it is where
// the classifier cuts, and a lower one is not worse.
TEST(Report, ThresholdsHaveNoChange) {
  ReportInput in;
  in.metrics = {"cosine_ap", "cosine_f1_threshold", "dim_8_cosine_accuracy_threshold"};
  in.base = {{"cosine_ap", 0.5}, {"cosine_f1_threshold", 0.8}, {"dim_8_cosine_accuracy_threshold", 0.6}};
  in.tuned = {{"cosine_ap", 0.75}, {"cosine_f1_threshold", 0.4}, {"dim_8_cosine_accuracy_threshold", 0.3}};
  const std::string md = report_markdown(in);
  EXPECT_NE(md.find("| cosine_ap | 0.5000 | 0.7500 | +50.0% |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| cosine_f1_threshold | 0.8000 | 0.4000 |  |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| dim_8_cosine_accuracy_threshold | 0.6000 | 0.3000 |  |\n"), std::string::npos) << md;
  const nlohmann::json j = report_json(in);
  EXPECT_TRUE(j["metrics"]["cosine_f1_threshold"]["relative_change"].is_null());
  EXPECT_DOUBLE_EQ(j["metrics"]["cosine_ap"]["relative_change"].get<double>(), 0.5);
}

}  // namespace
}  // namespace disttune
