// The evaluator core: hand-worked retrieval with ties and Matryoshka truncation, the same
// metrics at any world size (a SciFact-sized synthetic set), sharding errors, and the
// triplet evaluator.
#include "eval/ir_evaluator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "common/check.h"
#include "eval/ir_metrics.h"
#include "eval/normalize.h"
#include "eval/topk.h"
#include "eval/triplet_evaluator.h"
#include "test_util.h"

namespace disttune {
namespace {

IrSet make_set(int64_t queries, int64_t corpus, std::vector<std::vector<int64_t>> relevant) {
  IrSet s;
  for (int64_t q = 0; q < queries; ++q) {
    s.query_ids.push_back("q" + std::to_string(q));
    s.queries.push_back("query " + std::to_string(q));
  }
  for (int64_t c = 0; c < corpus; ++c) {
    s.corpus_ids.push_back("d" + std::to_string(c));
    s.corpus.push_back("doc " + std::to_string(c));
  }
  s.relevant = std::move(relevant);
  return s;
}

// A world of one, whatever the launcher: the single-process reference.
Dist& single() {
  static Dist* d = [] {
    auto* x = new Dist;
    x->comm = std::make_unique<LocalCommunicator>();
    return x;
  }();
  return *d;
}

at::Tensor mat(std::vector<float> v, int64_t cols) {
  return at::tensor(v).reshape({static_cast<int64_t>(v.size()) / cols, cols});
}

TEST(IrEvaluator, TiesAndMatryoshkaTruncationByHand) {
  // Query (1, 0); documents d0 = (-1, 0), d1 = (0.5, 9), d2 = (2, -1); relevant {2}.
  // Full dim: cos = -1, 0.5/sqrt(81.25) = 0.055, 2/sqrt(5) = 0.894 -> ranking d2, d1, d0:
  //   accuracy@1 = 1, mrr@3 = 1.
  // dim 1: (-1), (0.5), (2) renormalised to -1, 1, 1 -> d1 and d2 tie at 1, the lower index
  //   first: d1, d2, d0 -> accuracy@1 = 0, mrr@3 = 1/2, ndcg@3 = 1/log2(3).
  const IrSet set = make_set(1, 3, {{2}});
  IrEvalOptions opt;
  opt.k = {1, 3};  // accuracy/precision/recall @1, mrr/ndcg @1, map @3
  opt.cutoffs = IrCutoffs{{1}, {1}, {3}, {3}, {3}};
  opt.dims = {1};
  const auto m = evaluate_ir(single(), set, mat({1, 0}, 2), mat({-1, 0, 0.5, 9, 2, -1}, 2),
                             at::arange(3, at::kLong), opt);
  EXPECT_EQ(m.at("cosine_accuracy@1"), 1.0);
  EXPECT_EQ(m.at("cosine_mrr@3"), 1.0);
  EXPECT_EQ(m.at("dim_1_cosine_accuracy@1"), 0.0);
  EXPECT_EQ(m.at("dim_1_cosine_mrr@3"), 0.5);
  EXPECT_DOUBLE_EQ(m.at("dim_1_cosine_ndcg@3"), 1 / std::log2(3.0));
  EXPECT_EQ(m.size(), 2u * 6);
  EXPECT_EQ(ir_eval_metric_names(opt).size(), 12u);
}

TEST(IrEvaluator, DotProductsRankWithoutNormalisingAndNameDot) {
  // Query (1, 0); d0 = (10, 10), d1 = (1, 0); relevant {0}. Cosine: d1 (1) before d0 (0.707);
  // dot: d0 (10) before d1 (1). dim 1, truncated and not renormalised: 10 > 1 again, where
  // the cosine of one column ties them (both 1) and takes d0 by index.
  const IrSet set = make_set(1, 2, {{0}});
  IrEvalOptions opt;
  opt.cutoffs = IrCutoffs{{1}, {1}, {2}, {2}, {2}};
  opt.dims = {1};
  const at::Tensor q = mat({1, 0}, 2), docs = mat({10, 10, 1, 0}, 2), idx = at::arange(2, at::kLong);
  EXPECT_EQ(evaluate_ir(single(), set, q, docs, idx, opt).at("cosine_accuracy@1"), 0.0);
  opt.score = ScoreFunction::Dot;
  const auto m = evaluate_ir(single(), set, q, docs, idx, opt);
  EXPECT_EQ(m.at("dot_accuracy@1"), 1.0);
  EXPECT_EQ(m.at("dim_1_dot_accuracy@1"), 1.0);
  EXPECT_EQ(m.count("cosine_accuracy@1"), 0u);
  std::vector<std::string> names;
  for (const auto& [name, _] : m) names.push_back(name);
  EXPECT_EQ(names, ir_eval_metric_names(opt));
  // Scaling the query changes no cosine but all dot scores; the ranking stays.
  EXPECT_EQ(evaluate_ir(single(), set, q * 3, docs, idx, opt), m);
  EXPECT_THROW(parse_score_function("euclidean", "x"), UserError);
}

TEST(IrEvaluator, DefaultNamesAndSkippedQueries) {
  // 3 queries, the middle one without relevance: skipped, counted; names as
  // sentence-transformers' defaults, with the evaluator name in front.
  const IrSet set = make_set(3, 4, {{0}, {}, {3}});
  IrEvalOptions opt;
  opt.name = "val";
  IrEvalStats stats;
  const at::Tensor e = at::eye(4, at::kFloat);
  const auto m = evaluate_ir(single(), set, e.narrow(0, 0, 3), e, at::arange(4, at::kLong), opt, &stats);
  EXPECT_EQ(stats.queries, 2);
  EXPECT_EQ(stats.queries_without_relevant, 1);
  EXPECT_EQ(stats.corpus, 4);
  std::vector<std::string> names;
  for (const auto& [n, v] : m) names.push_back(n);
  EXPECT_EQ(names, ir_eval_metric_names(opt));
  EXPECT_EQ(names.size(), 15u);
  EXPECT_TRUE(m.count("val_cosine_ndcg@10"));
  EXPECT_TRUE(m.count("val_cosine_map@100"));
  // q0 = e0 retrieves d0 first (score 1). q2 = e2 scores d2 = 1 and d0, d1, d3 = 0; the
  // tie goes by index: d2, d0, d1, d3, so its relevant d3 is 4th.
  // accuracy@1 = 1/2, mrr@10 = (1 + 1/4) / 2.
  EXPECT_EQ(m.at("val_cosine_accuracy@1"), 0.5);
  EXPECT_EQ(m.at("val_cosine_mrr@10"), 0.625);
}

TEST(IrEvaluator, MatryoshkaEqualsEvaluatingTruncatedEmbeddings) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor q = at::randn({30, 16}, gen), docs = at::randn({200, 16}, gen);
  std::vector<std::vector<int64_t>> rel(30);
  for (int64_t i = 0; i < 30; ++i) rel[i] = {i * 3, i * 3 + 1};
  const IrSet set = make_set(30, 200, rel);
  IrEvalOptions opt;
  opt.dims = {16, 8, 4};
  const auto m = evaluate_ir(single(), set, q, docs, at::arange(200, at::kLong), opt);
  for (int64_t dim : {8, 4}) {
    IrEvalOptions plain;
    const auto t = evaluate_ir(single(), set, q.narrow(1, 0, dim), docs.narrow(1, 0, dim),
                               at::arange(200, at::kLong), plain);
    for (const auto& [name, v] : t) EXPECT_EQ(m.at(matryoshka_prefix(dim) + name), v) << dim << name;
  }
  // The full dimension listed as a Matryoshka dimension repeats the unprefixed metrics.
  EXPECT_EQ(m.at("dim_16_cosine_ndcg@10"), m.at("cosine_ndcg@10"));
  EXPECT_THROW(evaluate_ir(single(), set, q, docs, at::arange(200, at::kLong),
                           IrEvalOptions{{10}, std::nullopt, {32}, 100, ""}),
               UserError);
}

// --- sharded: run by ctest at 1, 2 and 4 ranks -------------------------------------------

struct MpiIrEvaluator : ::testing::Test {
  Dist& d = dist();
  int W = d.world_size, r = d.rank;
};

// Every rank's metrics equal rank 0's, bit for bit.
void expect_equal_on_every_rank(Dist& d, const std::map<std::string, double>& m) {
  nlohmann::json j = m;
  std::string s = j.dump(), root = s;
  d.comm->broadcast_bytes(root, 0);
  const auto theirs = nlohmann::json::parse(root).get<std::map<std::string, double>>();
  ASSERT_EQ(theirs.size(), m.size());
  for (const auto& [name, v] : m) EXPECT_EQ(theirs.at(name), v) << name << " on rank " << d.rank;
}

TEST_F(MpiIrEvaluator, SciFactScaleIdenticalForAnyWorldSize) {
  // SciFact's shape: 5183 documents, 300 queries, 384 dims. Synthetic embeddings: each
  // query is its first relevant document plus 4.5x as much noise (cosine ~0.22 against
  // ~0.2 for the best unrelated document), so the metrics are far from 0 and 1.
  const int64_t nd = 5183, nq = 300, dim = 384;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2024);
  const at::Tensor docs = at::randn({nd, dim}, gen);
  std::vector<std::vector<int64_t>> rel(nq);
  at::Tensor q = at::randn({nq, dim}, gen) * 4.5;
  for (int64_t i = 0; i < nq; ++i) {
    if (i % 37 == 5) continue;  // some queries without relevant documents
    const int64_t first = (i * 7919) % nd;
    rel[i] = {first};
    if (i % 3 == 0) rel[i].push_back((first + 1 + i) % nd);
    std::sort(rel[i].begin(), rel[i].end());
    rel[i].erase(std::unique(rel[i].begin(), rel[i].end()), rel[i].end());
    q[i] += docs[first];
  }
  const IrSet set = make_set(nq, nd, rel);
  IrEvalOptions opt;
  opt.dims = {128, 64};
  opt.chunk_rows = 700;

  // Rank r holds documents r, r+W, ... in reverse order.
  std::vector<int64_t> mine;
  for (int64_t g = nd - 1; g >= 0; --g)
    if (g % W == r) mine.push_back(g);
  const at::Tensor idx = at::tensor(mine, at::kLong);
  IrEvalStats stats;
  const auto sharded = evaluate_ir(d, set, q, docs.index_select(0, idx), idx, opt, &stats);
  const auto whole = evaluate_ir(single(), set, q, docs, at::arange(nd, at::kLong), opt);
  EXPECT_EQ(stats.queries_without_relevant, 8);  // i = 5, 42, ..., 264
  EXPECT_EQ(sharded.size(), 3u * 15);
  for (const auto& [name, v] : whole) EXPECT_EQ(sharded.at(name), v) << name;
  expect_equal_on_every_rank(d, sharded);
  // Non-trivial values: the set is neither solved nor hopeless.
  // (seen: ndcg@10 0.727 full, 0.213 at 128 dims, 0.068 at 64)
  EXPECT_GT(sharded.at("cosine_ndcg@10"), 0.3);
  EXPECT_LT(sharded.at("cosine_ndcg@10"), 0.95);
  EXPECT_LT(sharded.at("dim_128_cosine_ndcg@10"), sharded.at("cosine_ndcg@10"));
  EXPECT_LT(sharded.at("dim_64_cosine_ndcg@10"), sharded.at("dim_128_cosine_ndcg@10"));
}

TEST_F(MpiIrEvaluator, EqualsTorchBruteForceGolden) {
  // tests/ref/gen_ir_metrics_golden.py: F.normalize, q @ d.T, a stable descending sort and
  // sentence-transformers' formulas in python3-torch, full dimension and Matryoshka 4 and 2.
  const auto& g = test::golden_json("eval/ir_metrics.json")["torch_case"];
  const at::Tensor q = test::float_matrix(g["queries"]), docs = test::float_matrix(g["corpus"]);
  const int64_t nd = docs.size(0);
  const IrSet set = make_set(q.size(0), nd, g["relevant"].get<std::vector<std::vector<int64_t>>>());
  IrEvalOptions opt;
  const auto& c = g["cutoffs"];
  opt.cutoffs = IrCutoffs{c["accuracy"], c["precision_recall"], c["mrr"], c["ndcg"], c["map"]};
  opt.dims = g["dims"].get<std::vector<int64_t>>();
  opt.chunk_rows = 17;
  std::vector<int64_t> mine;  // rank r: documents r, r + W, ...
  for (int64_t i = r; i < nd; i += W) mine.push_back(i);
  const at::Tensor idx = at::tensor(mine, at::kLong);
  IrEvalStats stats;
  const auto m = evaluate_ir(d, set, q, docs.index_select(0, idx), idx, opt, &stats);
  EXPECT_EQ(stats.queries_without_relevant, g["queries_without_relevant"].get<int64_t>());
  ASSERT_EQ(m.size(), g["metrics"].size());
  for (const auto& [name, want] : g["metrics"].items()) {
    ASSERT_TRUE(m.count(name)) << name;
    if (name.find("ndcg") != std::string::npos)
      EXPECT_NEAR(m.at(name), want.get<double>(), 1e-14) << name;
    else
      EXPECT_EQ(m.at(name), want.get<double>()) << name;
  }
}

TEST_F(MpiIrEvaluator, TiesBrokenByCorpusIndexAcrossRanks) {
  // Eight identical documents, relevant {5}: every rank size ranks them 0..7, so the
  // relevant one is 6th: mrr@10 = 1/6, accuracy@5 = 0.
  const IrSet set = make_set(1, 8, {{5}});
  std::vector<int64_t> mine;
  for (int64_t g = 7; g >= 0; --g)
    if (g % W == (r + 1) % W) mine.push_back(g);
  const at::Tensor idx = at::tensor(mine, at::kLong);
  const at::Tensor docs = at::ones({idx.size(0), 3});
  const auto m = evaluate_ir(d, set, at::ones({1, 3}), docs, idx, IrEvalOptions{});
  EXPECT_DOUBLE_EQ(m.at("cosine_mrr@10"), 1.0 / 6);
  EXPECT_EQ(m.at("cosine_accuracy@5"), 0.0);
  EXPECT_EQ(m.at("cosine_accuracy@10"), 1.0);
}

TEST_F(MpiIrEvaluator, ShardingMustCoverTheCorpusOnce) {
  const IrSet set = make_set(1, 6, {{1}});
  const at::Tensor q = at::ones({1, 2});
  // Every rank holds documents 0..4: 5 is missing (and with W > 1, the rest repeated).
  const at::Tensor idx = at::arange(5, at::kLong);
  try {
    evaluate_ir(d, set, q, at::ones({5, 2}), idx, IrEvalOptions{});
    FAIL() << "a missing document was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("1 are held by no rank"), std::string::npos) << e.what();
  }
  // An index outside the corpus.
  const at::Tensor bad = at::tensor(std::vector<int64_t>{r == 0 ? 6 : 0});
  EXPECT_THROW(evaluate_ir(d, set, q, at::ones({1, 2}), bad, IrEvalOptions{}), UserError);
}

TEST_F(MpiIrEvaluator, TripletAccuracy) {
  // (a, p, n): cos(a,p) = 0.707 > cos(a,n) = 0 correct; 0 > 1 wrong; tie 0.707 = 0.707
  // wrong (strict). One of three: float32(1/3) as sentence-transformers' float mean.
  // dim 1: a = 1, p = 1 vs n = 0 -> 1 > 0; p = 0 (zero vector: cos 0) vs n = 1 -> wrong;
  // p = n -> tie, wrong: again 1/3.
  // Rank r holds triplet t when t % W == r.
  const std::vector<std::vector<float>> A = {{1, 0}, {1, 0}, {1, 0}};
  const std::vector<std::vector<float>> P = {{1, 1}, {0, 1}, {1, 1}};
  const std::vector<std::vector<float>> N = {{0, 1}, {1, 0}, {1, 1}};
  std::vector<float> a, p, n;
  for (int t = 0; t < 3; ++t)
    if (t % W == r) {
      a.insert(a.end(), A[t].begin(), A[t].end());
      p.insert(p.end(), P[t].begin(), P[t].end());
      n.insert(n.end(), N[t].begin(), N[t].end());
    }
  const auto to = [](const std::vector<float>& v) {
    return v.empty() ? at::zeros({0, 2}) : mat(v, 2);
  };
  TripletEvalOptions opt;
  opt.dims = {1};
  const auto m = evaluate_triplets(d, to(a), to(p), to(n), opt);
  EXPECT_EQ(m.at("cosine_accuracy"), static_cast<double>(1.0f / 3.0f));
  EXPECT_EQ(m.at("dim_1_cosine_accuracy"), static_cast<double>(1.0f / 3.0f));
  // A margin of 0.8 makes the first triplet wrong too.
  opt.margin = 0.8;
  opt.name = "dev";
  EXPECT_EQ(evaluate_triplets(d, to(a), to(p), to(n), opt).at("dev_cosine_accuracy"), 0.0);
  // Dot products: a.p = 1 > a.n = 0 + 0.8 right; 0 > 1 wrong; 1 > 1 wrong; the same 1/3
  // by margin 0.8; at margin 1 none. dim 1 (not renormalised): 1 > 0, 0 > 1, 1 > 1 -> 1/3.
  opt.score = ScoreFunction::Dot;
  const auto dot = evaluate_triplets(d, to(a), to(p), to(n), opt);
  EXPECT_EQ(dot.at("dev_dot_accuracy"), static_cast<double>(1.0f / 3.0f));
  EXPECT_EQ(dot.at("dev_dim_1_dot_accuracy"), static_cast<double>(1.0f / 3.0f));
  EXPECT_EQ(dot.size(), 2u);
  opt.margin = 1.0;
  EXPECT_EQ(evaluate_triplets(d, to(a), to(p), to(n), opt).at("dev_dot_accuracy"), 0.0);
}

}  // namespace
}  // namespace disttune
