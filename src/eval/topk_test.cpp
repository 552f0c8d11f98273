// Scoring kernel and sharded top-k: every kernel gives the bits of the scalar definition;
// the running top-k equals a brute-force sort with the tie rule; the score buffer stays
// within chunk_rows x Q; sharded over any world size, the merged result is identical
// (indices, and scores bit for bit) to one process scoring everything.
#include "eval/topk.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "dist/dist.h"
#include "eval/dot_kernel.h"
#include "eval/normalize.h"

namespace disttune {
namespace {

at::Tensor randn(int64_t rows, int64_t cols, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, cols}, gen, at::kFloat);
}

// Embeddings drawn from a few distinct rows with small integer entries: many exactly
// equal scores, so the tie rule decides most of the order.
at::Tensor few_distinct(int64_t rows, int64_t cols, int64_t distinct, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor base = at::randint(-2, 3, {distinct, cols}, gen, at::kLong).to(at::kFloat);
  at::Tensor pick = at::randint(0, distinct, {rows}, gen, at::kLong);
  return base.index_select(0, pick).contiguous();
}

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && at::equal(a.contiguous().view(at::kInt), b.contiguous().view(at::kInt));
}

// Brute force: every score from the definition, a full sort by (score desc, index asc).
TopK brute_force(const at::Tensor& q, const at::Tensor& docs, const at::Tensor& idx, int64_t k) {
  const int64_t nq = q.size(0), n = docs.size(0), d = q.size(1), kk = std::min(k, n);
  TopK out{at::empty({nq, kk}, at::kFloat), at::empty({nq, kk}, at::kLong)};
  std::vector<std::pair<float, int64_t>> all(n);
  for (int64_t i = 0; i < nq; ++i) {
    for (int64_t j = 0; j < n; ++j)
      all[j] = {reference_dot(q.data_ptr<float>() + i * d, docs.data_ptr<float>() + j * d, d),
                idx[j].item<int64_t>()};
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (int64_t j = 0; j < kk; ++j) {
      out.scores[i][j] = all[j].first;
      out.indices[i][j] = all[j].second;
    }
  }
  return out;
}

TEST(DotKernel, EveryKernelGivesTheBitsOfTheDefinition) {
  // Shapes around every kernel's tile edges (6/8 queries, 16/32 documents), one thread and
  // all of them.
  const auto isas = cpu_isas_available();
  ASSERT_EQ(isas.front(), CpuIsa::Generic);
  const int threads = at::get_num_threads();
  int64_t checked = 0;
  for (int t : {1, threads}) {
    at::set_num_threads(t);
    for (int64_t dim : {1, 3, 17, 64, 384}) {
      for (int64_t nq : {1, 5, 6, 7, 8, 9, 13}) {
        const at::Tensor q = randn(nq, dim, 100 + dim * 31 + nq);
        for (int64_t n : {1, 15, 16, 17, 31, 32, 33, 300}) {
          const at::Tensor docs = randn(n, dim, 7 + n * 13 + dim);
          at::Tensor want = at::empty({nq, n}, at::kFloat);
          float* w = want.data_ptr<float>();
          for (int64_t i = 0; i < nq; ++i)
            for (int64_t j = 0; j < n; ++j)
              w[i * n + j] = reference_dot(q.data_ptr<float>() + i * dim, docs.data_ptr<float>() + j * dim, dim);
          for (CpuIsa isa : isas) {
            const at::Tensor got = DotScorer(q, isa).score(docs);
            EXPECT_TRUE(same_bits(got, want)) << cpu_isa_name(isa) << " Q=" << nq << " n=" << n
                                              << " D=" << dim << " threads=" << t;
            ++checked;
          }
        }
      }
    }
  }
  at::set_num_threads(threads);
  EXPECT_GT(checked, 500);
}

TEST(DotKernel, ScoreOfAPairDoesNotDependOnItsNeighbours) {
  // The same document scored alone, first, last, or in the middle of a chunk.
  const at::Tensor q = randn(11, 384, 1), docs = randn(77, 384, 2);
  const DotScorer s(q);
  const at::Tensor all = s.score(docs);
  for (int64_t j : {0, 31, 32, 50, 76}) {
    EXPECT_TRUE(same_bits(s.score(docs.narrow(0, j, 1)), all.narrow(1, j, 1).contiguous())) << j;
    EXPECT_TRUE(same_bits(s.score(docs.narrow(0, j, 77 - j)).narrow(1, 0, 1).contiguous(),
                          all.narrow(1, j, 1).contiguous()))
        << j;
  }
}

TEST(TopK, EqualsBruteForceWithManyTies) {
  const at::Tensor q = few_distinct(23, 12, 5, 11);
  const at::Tensor docs = few_distinct(150, 12, 6, 12);  // 6 distinct documents: ties everywhere
  // Global indices: a shuffled, non-contiguous subset of [0, 1000).
  auto gen = at::make_generator<at::CPUGeneratorImpl>(13);
  const at::Tensor idx = at::randperm(1000, gen, at::kLong).narrow(0, 0, 150).contiguous();
  for (int64_t k : {1, 4, 37, 150, 200}) {
    const TopK want = brute_force(q, docs, idx, k);
    for (int64_t chunk : {1, 7, 64, 150, 1000}) {
      const TopK got = local_topk(q, docs, idx, k, chunk);
      ASSERT_EQ(got.indices.size(1), std::min<int64_t>(k, 150));
      EXPECT_TRUE(at::equal(got.indices, want.indices)) << "k=" << k << " chunk=" << chunk;
      EXPECT_TRUE(same_bits(got.scores, want.scores)) << "k=" << k << " chunk=" << chunk;
    }
  }
}

TEST(TopK, TiesGoToTheLowerCorpusIndex) {
  // Four identical documents: all score the same, listed by index whatever order they came in.
  const at::Tensor q = at::tensor({1.f, 2.f}).reshape({1, 2});
  const at::Tensor docs = at::tensor({1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 5.f, 5.f}).reshape({5, 2});
  const at::Tensor idx = at::tensor(std::vector<int64_t>{40, 7, 19, 3, 90});
  const TopK t = local_topk(q, docs, idx, 3, 2);
  EXPECT_EQ(t.indices[0][0].item<int64_t>(), 90);  // the best score first
  EXPECT_EQ(t.indices[0][1].item<int64_t>(), 3);
  EXPECT_EQ(t.indices[0][2].item<int64_t>(), 7);
  EXPECT_FLOAT_EQ(t.scores[0][0].item<float>(), 15.f);
  EXPECT_FLOAT_EQ(t.scores[0][2].item<float>(), 3.f);
}

TEST(TopK, ScoreBufferIsBoundedByChunkRows) {
  const at::Tensor q = randn(40, 32, 3), docs = randn(1000, 32, 4);
  const at::Tensor idx = at::arange(1000, at::kLong);
  for (int64_t chunk : {1, 64, 333, 5000}) {
    TopKAccumulator acc(q, 10, chunk);
    acc.add(docs.narrow(0, 0, 600), idx.narrow(0, 0, 600));
    acc.add(docs.narrow(0, 600, 400), idx.narrow(0, 600, 400));
    EXPECT_EQ(acc.docs_added(), 1000);
    // Never the full 40 x 1000 matrix unless a chunk is that large.
    EXPECT_LE(acc.peak_score_floats(), chunk * 40);
    EXPECT_EQ(acc.peak_score_floats(), std::min<int64_t>(chunk, 600) * 40);
    EXPECT_TRUE(at::equal(acc.result().indices, local_topk(q, docs, idx, 10, 1000).indices));
  }
  // Many queries: a chunk is scored in cache-sized blocks (256 documents x 5000 queries
  // here), well below chunk_rows x Q, with the same result.
  const at::Tensor many = randn(5000, 8, 5), d8 = randn(1000, 8, 6);
  TopKAccumulator big(many, 3, 1000);
  big.add(d8, idx);
  EXPECT_EQ(big.peak_score_floats(), 256 * 5000);
  const TopK want = brute_force(many.narrow(0, 0, 50), d8, idx, 3);
  EXPECT_TRUE(at::equal(big.result().indices.narrow(0, 0, 50), want.indices));
}

TEST(TopK, RejectsBadInput) {
  const at::Tensor q = randn(3, 8, 5);
  EXPECT_THROW(local_topk(q, randn(4, 7, 6), at::arange(4, at::kLong), 2, 10), UserError);
  EXPECT_THROW(local_topk(q, randn(4, 8, 6), at::arange(3, at::kLong), 2, 10), UserError);
  EXPECT_THROW(local_topk(q, randn(4, 8, 6), at::arange(4, at::kLong), 0, 10), UserError);
  EXPECT_THROW(local_topk(q, randn(4, 8, 6), at::arange(4, at::kLong), 2, 0), UserError);
  at::Tensor nan_docs = randn(4, 8, 6);
  nan_docs[2][3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(local_topk(q, nan_docs, at::arange(4, at::kLong), 2, 10), UserError);
}

// --- sharded: run by ctest at 1, 2 and 4 ranks -------------------------------------------

struct MpiTopK : ::testing::Test {
  Dist& d = dist();
  int W = d.world_size, r = d.rank;
};

// This rank's share of `n` documents under a scattered assignment (a multiplicative hash),
// in a scrambled order; with 4 ranks the last rank gets nothing.
at::Tensor my_share(int64_t n, int rank, int world) {
  const int used = world > 2 ? world - 1 : world;
  std::vector<int64_t> mine;
  for (int64_t g = 0; g < n; ++g)
    if (static_cast<int>((g * 2654435761u) % 1000003 % used) == rank) mine.push_back(g);
  std::reverse(mine.begin(), mine.end());
  if (mine.size() > 2) std::swap(mine[0], mine[mine.size() / 2]);
  return at::tensor(mine, at::kLong);
}

void expect_same_as_one_process(Dist& d, const at::Tensor& q, const at::Tensor& docs, int64_t k) {
  const int64_t n = docs.size(0);
  const TopK whole = local_topk(q, docs, at::arange(n, at::kLong), k, 997);
  const at::Tensor mine = my_share(n, d.rank, d.world_size);
  // Chunk sizes differ by rank, so the same pair is scored at different positions.
  const TopK local = local_topk(q, docs.index_select(0, mine), mine, k, 5 + 13 * d.rank);
  const TopK merged = merge_topk(*d.comm, local, k);
  ASSERT_EQ(merged.indices.sizes(), whole.indices.sizes());
  EXPECT_TRUE(at::equal(merged.indices, whole.indices));
  EXPECT_TRUE(same_bits(merged.scores, whole.scores));
}

TEST_F(MpiTopK, MergedEqualsOneProcessWithTies) {
  expect_same_as_one_process(d, few_distinct(17, 9, 4, 21), few_distinct(333, 9, 7, 22), 25);
}

TEST_F(MpiTopK, MergedEqualsOneProcessRandom) {
  expect_same_as_one_process(d, randn(31, 64, 23), randn(500, 64, 24), 50);
}

TEST_F(MpiTopK, KLargerThanTheCorpus) {
  // 20 documents, k = 100: everyone gets all 20, sorted; ranks holding none still take part.
  expect_same_as_one_process(d, randn(5, 8, 25), randn(20, 8, 26), 100);
}

TEST_F(MpiTopK, SciFactScale) {
  // SciFact's shape: 5183 documents, 300 queries, 384 dims (MiniLM), k = 100; unit vectors.
  const at::Tensor q = truncate_normalize(randn(300, 384, 27));
  const at::Tensor docs = truncate_normalize(randn(5183, 384, 28));
  expect_same_as_one_process(d, q, docs, 100);
}

TEST_F(MpiTopK, EveryRankGetsTheSameResult) {
  const at::Tensor q = randn(9, 16, 29), docs = randn(101, 16, 30);
  const at::Tensor mine = my_share(101, r, W);
  const TopK merged = merge_topk(*d.comm, local_topk(q, docs.index_select(0, mine), mine, 10, 8), 10);
  at::Tensor s0 = merged.scores.clone(), i0 = merged.indices.clone();
  d.comm->broadcast(s0, 0);
  d.comm->broadcast(i0, 0);
  EXPECT_TRUE(same_bits(merged.scores, s0));
  EXPECT_TRUE(at::equal(merged.indices, i0));
}

TEST_F(MpiTopK, DifferentQueryCountsAreAnErrorOnEveryRank) {
  const int64_t nq = W > 1 ? 3 + r : 3;
  const TopK local = local_topk(randn(nq, 4, 31), randn(6, 4, 32), at::arange(6, at::kLong), 2, 4);
  if (W > 1)
    EXPECT_THROW(merge_topk(*d.comm, local, 2), UserError);
  else
    EXPECT_NO_THROW(merge_topk(*d.comm, local, 2));
}

}  // namespace
}  // namespace disttune
