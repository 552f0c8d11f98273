// The differentiable all-gather against values worked out by hand, at any world size,
// with equal and unequal row counts.
#include "train/all_gather.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "dist/dist.h"

namespace disttune {
namespace {

// Rank r holds rows_of(r) rows; row i of rank r is filled with 100 * r + i.
at::Tensor rank_rows(int r, int64_t rows, int64_t dim) {
  return (at::arange(rows, at::kFloat) + 100.0 * r).unsqueeze(1).repeat({1, dim});
}

void check_gather(int64_t (*rows_of)(int)) {
  Dist& d = dist();
  const int64_t dim = 3;
  at::Tensor mine = rank_rows(d.rank, rows_of(d.rank), dim).requires_grad_(true);
  GatheredRows g = all_gather_rows(d, mine);

  int64_t offset = 0, total = 0;
  for (int r = 0; r < d.world_size; ++r) {
    EXPECT_EQ(g.counts[r], rows_of(r));
    if (r < d.rank) offset += rows_of(r);
    total += rows_of(r);
  }
  EXPECT_EQ(g.offset, offset);
  EXPECT_EQ(g.total(), total);
  ASSERT_EQ(g.all.size(0), total);
  for (int r = 0, row = 0; r < d.world_size; ++r)
    for (int64_t i = 0; i < rows_of(r); ++i, ++row)
      EXPECT_EQ(g.all[row][1].item<float>(), 100.0f * r + i) << "row " << row;

  // Rank q's loss: sum over gathered rows j of (q + 1) * (j + 1) * x_j. The gradient of the
  // sum over ranks w.r.t. global row j is (j + 1) * sum_q (q + 1) on every element.
  at::Tensor weights = (at::arange(total, at::kFloat) + 1).unsqueeze(1) * (d.rank + 1);
  at::Tensor loss = (g.all * weights).sum();
  torch::autograd::backward({loss});
  const double sum_q = d.world_size * (d.world_size + 1) / 2.0;
  ASSERT_TRUE(mine.grad().defined());
  for (int64_t i = 0; i < rows_of(d.rank); ++i)
    for (int64_t c = 0; c < dim; ++c)
      EXPECT_DOUBLE_EQ(mine.grad()[i][c].item<double>(), (offset + i + 1) * sum_q);
}

TEST(MpiAllGather, EqualRowsForwardAndBackward) {
  check_gather([](int) -> int64_t { return 3; });
}

TEST(MpiAllGather, UnequalRowsIncludingAnEmptyRank) {
  // 2, 3, 0, 5, ... rows: the all-reduce + narrow path, and a rank that holds nothing.
  check_gather([](int r) -> int64_t { return r == 2 ? 0 : 2 + r; });
}

TEST(MpiAllGather, ValuesAndWorldSizeOneIsTheIdentity) {
  Dist& d = dist();
  at::Tensor labels = at::full({d.rank + 1}, static_cast<float>(d.rank));
  std::vector<int64_t> counts = gather_row_counts(d, labels.size(0));
  at::Tensor all = all_gather_values(d, labels, counts);
  ASSERT_EQ(all.size(0), d.world_size * (d.world_size + 1) / 2);
  for (int r = 0, row = 0; r < d.world_size; ++r)
    for (int i = 0; i <= r; ++i, ++row) EXPECT_EQ(all[row].item<float>(), r);
  if (d.world_size == 1) {
    at::Tensor x = at::ones({2, 2}).requires_grad_(true);
    EXPECT_TRUE(all_gather_rows(d, x).all.is_same(x));
  }
}

}  // namespace
}  // namespace disttune
