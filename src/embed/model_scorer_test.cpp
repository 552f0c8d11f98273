#include "embed/model_scorer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "dist/dist.h"
#include "eval/dot_kernel.h"
#include "eval/normalize.h"
#include "model/sentence_model.h"
#include "test_util.h"

namespace disttune {
namespace {

std::vector<std::string> scorer_texts(int n, int salt) {
  const char* words[] = {"cash", "flow", "bond", "yield", "equity", "risk", "margin", "debt",
                         "revenue", "growth", "tax", "asset", "quarter", "dividend", "loss"};
  std::vector<std::string> t;
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int w = 0; w < 2 + (i * 5 + salt) % 9; ++w) s += std::string(words[(i * 3 + w * 7 + salt) % 15]) + " ";
    t.push_back(s + std::to_string(i));
  }
  return t;
}

SentenceModel scorer_model() {
  InitOptions init;
  init.vocab = test::source_dir() + "/datasets/vocab/bert-base-uncased.txt";
  init.hidden_size = 32;
  init.num_layers = 1;
  init.num_heads = 2;
  init.intermediate_size = 64;
  init.seed = 11;
  ModelOptions o;
  o.normalize = "false";  // the scorer must normalise itself (cosine, as sentence-transformers)
  return SentenceModel::init(init, o);
}

// Brute force on one process: every score by the definition, sorted by score then index.
TEST(MpiModelScorer, TopKAndPairScoresEqualBruteForceCosine) {
  Dist& d = dist();
  SentenceModel model = scorer_model();
  Embedder emb(model, Embedder::tokenizer_for(model));
  const std::vector<std::string> queries = scorer_texts(13, 1), corpus = scorer_texts(41, 4);
  ModelScorerOptions so;
  so.query.batch_size = 4;
  so.query.prefix = "query: ";
  so.corpus.batch_size = 5;
  so.chunk_rows = 7;  // several chunks per rank
  ModelScorer scorer(emb, so);
  scorer.prepare(d, queries, corpus);

  EncodeOptions qo = so.query, co = so.corpus;
  const at::Tensor q = truncate_normalize(emb.encode(queries, qo));
  const at::Tensor c = truncate_normalize(emb.encode(corpus, co));
  const int64_t dim = q.size(1);
  ASSERT_GT(c.norm(2, 1).min().item<float>(), 0.999f);
  auto score = [&](int64_t i, int64_t j) {
    return reference_dot(q.data_ptr<float>() + i * dim, c.data_ptr<float>() + j * dim, dim);
  };

  const int64_t k = 6;
  const auto hits = scorer.top_k(d, 3, 11, k);  // a block of queries not starting at 0
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t i = 0; i < 13; ++i) pairs.emplace_back(i, (i * 17) % 41);
  const std::vector<float> ps = scorer.score_pairs(d, pairs);
  if (!d.is_root()) {
    EXPECT_TRUE(hits.empty());
    return;
  }
  ASSERT_EQ(hits.size(), 8u);
  for (int64_t i = 3; i < 11; ++i) {
    std::vector<ScoredDoc> all;
    for (int64_t j = 0; j < 41; ++j) all.push_back({j, score(i, j)});
    std::sort(all.begin(), all.end(), [](const ScoredDoc& a, const ScoredDoc& b) {
      return a.score > b.score || (a.score == b.score && a.doc < b.doc);
    });
    const auto& got = hits[static_cast<size_t>(i - 3)];
    ASSERT_EQ(got.size(), static_cast<size_t>(k));
    for (int64_t r = 0; r < k; ++r) {
      EXPECT_EQ(got[r].doc, all[r].doc) << "query " << i << " rank " << r;
      EXPECT_EQ(got[r].score, all[r].score);
    }
  }
  ASSERT_EQ(ps.size(), pairs.size());
  for (size_t p = 0; p < pairs.size(); ++p) EXPECT_EQ(ps[p], score(pairs[p].first, pairs[p].second));
  // Cosine of different texts of a random model: not all equal, within [-1, 1].
  EXPECT_LE(*std::max_element(ps.begin(), ps.end()), 1.0f + 1e-6f);
  EXPECT_NE(*std::max_element(ps.begin(), ps.end()), *std::min_element(ps.begin(), ps.end()));
}

// More anchors than documents per rank, k above the corpus size: every document, best first.
TEST(MpiModelScorer, KBeyondTheCorpusReturnsEveryDocument) {
  Dist& d = dist();
  SentenceModel model = scorer_model();
  Embedder emb(model, Embedder::tokenizer_for(model));
  ModelScorer scorer(emb, {});
  const std::vector<std::string> queries = scorer_texts(5, 2), corpus = scorer_texts(3, 9);
  scorer.prepare(d, queries, corpus);
  const auto hits = scorer.top_k(d, 0, 5, 10);
  if (!d.is_root()) return;
  ASSERT_EQ(hits.size(), 5u);
  for (const auto& h : hits) {
    ASSERT_EQ(h.size(), 3u);
    EXPECT_GE(h[0].score, h[1].score);
    EXPECT_GE(h[1].score, h[2].score);
  }
}

}  // namespace
}  // namespace disttune
