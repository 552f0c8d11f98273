#include "embed/embedder.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "dist/dist.h"
#include "model/sentence_model.h"
#include "test_util.h"

namespace disttune {
namespace {

std::vector<std::string> sample_texts(int n) {
  std::vector<std::string> t;
  const char* words[] = {"retrieval", "of", "the", "embedding", "model", "graphics", "revenue",
                         "quarterly", "and", "a", "neural", "dense", "sparse", "index"};
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int w = 0; w < 1 + (i * 7) % 23; ++w) s += std::string(words[(i + w * 3) % 14]) + " ";
    t.push_back(s);
  }
  return t;
}

SentenceModel tiny_model() {
  InitOptions init;
  init.vocab = test::source_dir() + "/datasets/vocab/bert-base-uncased.txt";
  init.hidden_size = 32;
  init.num_layers = 2;
  init.num_heads = 2;
  init.intermediate_size = 64;
  init.seed = 7;
  return SentenceModel::init(init);
}

TEST(BatchGrid, LengthSortedBatchesSplitOverRanks) {
  std::vector<std::string> texts = {"aa", "a", "aaaa", "aaa", "", "aaaa"};
  BatchGrid g = make_batch_grid(texts, 4, 1);
  // Longest first; equal lengths keep input order.
  EXPECT_EQ(g.order, (std::vector<int64_t>{2, 5, 3, 0, 1, 4}));
  EXPECT_EQ(g.batch_begin, (std::vector<int64_t>{0, 4, 6}));
  EXPECT_EQ(g.rank_batches, (std::vector<int64_t>{0, 2}));
  // Every world size sees the same batches; ranks own contiguous runs that cover them all.
  std::vector<std::string> many = sample_texts(100);
  BatchGrid g1 = make_batch_grid(many, 8, 1);
  for (int w : {2, 3, 4, 16}) {
    BatchGrid gw = make_batch_grid(many, 8, w);
    EXPECT_EQ(gw.order, g1.order);
    EXPECT_EQ(gw.batch_begin, g1.batch_begin);
    ASSERT_EQ(gw.rank_batches.size(), size_t(w + 1));
    EXPECT_EQ(gw.rank_batches.front(), 0);
    EXPECT_EQ(gw.rank_batches.back(), g1.num_batches());
    for (int r = 0; r < w; ++r) EXPECT_LE(gw.rank_batches[r], gw.rank_batches[r + 1]);
  }
}

TEST(BatchGrid, RanksSplitTheTruncatedTokensWhenGiven) {
  // One batch of texts far beyond max_length (1000 characters, 16 tokens once truncated) and
  // seven of short ones (40 characters, 10 tokens), 8 per batch, over 2 ranks.
  std::vector<std::string> texts(8, std::string(1000, 'a'));
  for (int i = 0; i < 56; ++i) texts.push_back(std::string(40, 'b'));
  const auto tokens = [&](int64_t i) { return std::min<int64_t>(16, static_cast<int64_t>(texts[i].size()) / 4); };
  // By characters the long batch alone is over half the work: rank 0 would get it and idle.
  EXPECT_EQ(make_batch_grid(texts, 8, 2).rank_batches, (std::vector<int64_t>{0, 1, 8}));
  // By tokens it is 8 x (4 + 16) against 8 x (4 + 10) per short batch: 4 batches each.
  const BatchGrid g = make_batch_grid(texts, 8, 2, tokens);
  EXPECT_EQ(g.rank_batches, (std::vector<int64_t>{0, 4, 8}));
  // Only the split moves: the order and the batches are those of the characters.
  EXPECT_EQ(g.order, make_batch_grid(texts, 8, 2).order);
  EXPECT_EQ(g.batch_begin, make_batch_grid(texts, 8, 2).batch_begin);
}

TEST(MpiEmbedder, ShardedEncodingEqualsLocalEncodingBitForBit) {
  Dist& d = dist();
  SentenceModel model = tiny_model();
  Embedder emb(model, Embedder::tokenizer_for(model));
  const std::vector<std::string> texts = sample_texts(37);
  EncodeOptions opt;
  opt.batch_size = 4;
  at::Tensor local = emb.encode(texts, opt);
  ASSERT_EQ(local.sizes(), (std::vector<int64_t>{37, 32}));
  // Normalised embeddings, one per text, in input order.
  EXPECT_NEAR(local.norm(2, 1).mean().item<float>(), 1.0f, 1e-5);
  at::Tensor all = emb.encode_all(d, texts, opt);
  EXPECT_TRUE(at::equal(all, local));
  EncodedShard s = emb.encode_shard(d, texts, opt);
  EXPECT_EQ(d.comm->all_reduce_int(s.indices.size(0), ReduceOp::Sum), 37);
  EXPECT_TRUE(at::equal(s.embeddings, local.index_select(0, s.indices)));
  // A prefix changes the inputs, and so the embeddings.
  opt.prefix = "query: ";
  EXPECT_FALSE(at::equal(emb.encode(texts, opt), local));
  EXPECT_FALSE(model.training());
}

}  // namespace
}  // namespace disttune
