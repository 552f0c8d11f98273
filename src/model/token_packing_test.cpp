#include "model/token_packing.h"

#include <gtest/gtest.h>

namespace disttune {
namespace {

at::Tensor mask_of(const std::vector<int64_t>& lengths, int64_t T) {
  const at::Tensor len = at::tensor(lengths, at::kLong).unsqueeze(1);
  return (at::arange(T, at::kLong).unsqueeze(0) < len).to(at::kLong);
}

TEST(TokenPacking, PacksOnlyWhenEnoughIsPadding) {
  // 4 x 8 = 32 positions: 2 padded (1/16) packs, 1 padded does not, none does not.
  EXPECT_TRUE(TokenPacking::plan(mask_of({8, 8, 7, 7}, 8)).active());
  EXPECT_FALSE(TokenPacking::plan(mask_of({8, 8, 8, 7}, 8)).active());
  EXPECT_FALSE(TokenPacking::plan(mask_of({8, 8, 8, 8}, 8)).active());
  EXPECT_FALSE(TokenPacking::plan(mask_of({1, 2, 3, 4}, 8), /*enabled=*/false).active());

  const TokenPacking p = TokenPacking::plan(mask_of({3, 1, 0, 2}, 4));
  ASSERT_TRUE(p.active());
  ASSERT_EQ(p.index().size(0), 6);
  EXPECT_EQ(std::vector<int64_t>(p.index().data_ptr<int64_t>(), p.index().data_ptr<int64_t>() + 6),
            (std::vector<int64_t>{0, 1, 2, 4, 12, 13}));
  // Per-position values follow the same order (a mask with a hole in the middle, too).
  const at::Tensor ids = at::arange(16, at::kLong).view({4, 4});
  EXPECT_TRUE(at::equal(p.pack(ids), p.index()));
  const at::Tensor holed = at::tensor({1, 0, 1, 1}, at::kLong).view({1, 4});
  EXPECT_TRUE(at::equal(TokenPacking::plan(holed).index(), at::tensor({0, 2, 3}, at::kLong)));
}

TEST(TokenPacking, UnpackOfPackZeroesThePaddingAndGradientsFollowTheTokens) {
  const at::Tensor mask = mask_of({3, 1, 4}, 4);
  const TokenPacking p = TokenPacking::plan(mask);
  ASSERT_TRUE(p.active());
  at::Tensor x = at::randn({3, 4, 5}).requires_grad_(true);
  const at::Tensor packed = p.pack(x);
  ASSERT_EQ(packed.sizes(), (at::IntArrayRef{8, 5}));
  const at::Tensor keep = mask.unsqueeze(-1).to(at::kFloat);
  const at::Tensor round = p.unpack(packed);
  EXPECT_TRUE(at::equal(round, x.detach() * keep));
  // d(sum(unpack(pack(x)) * w))/dx = w at real tokens, 0 at padding.
  const at::Tensor w = at::randn({3, 4, 5});
  (round * w).sum().backward();
  EXPECT_TRUE(at::equal(x.grad(), w * keep));

  // Inactive: both are the identity.
  const TokenPacking none = TokenPacking::plan(mask_of({4, 4, 4}, 4));
  EXPECT_FALSE(none.active());
  EXPECT_TRUE(none.pack(x).is_same(x));
  EXPECT_TRUE(none.unpack(x).is_same(x));
}

TEST(TokenPacking, AttentionGroupsHoldRowsOfSimilarLengthInTheirOwnPositions) {
  // Longest first; a row starts a new group at 80% or less of the group's first row.
  EXPECT_EQ(TokenPacking::plan(mask_of({10, 9, 5, 9, 7, 5}, 12)).group_rows(), (std::vector<int64_t>{3, 1, 2}));
  // Empty rows take no part.
  EXPECT_EQ(TokenPacking::plan(mask_of({3, 1, 0, 2}, 4)).group_rows(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(TokenPacking::plan(mask_of({4, 4, 4}, 4)).group_rows(), (std::vector<int64_t>{3}));

  const at::Tensor mask = mask_of({10, 9, 5, 9, 7, 5, 1}, 12);
  TokenPacking p = TokenPacking::plan(mask);
  ASSERT_TRUE(p.active());
  std::vector<at::Tensor> group_masks;
  p.make_biases([&](const at::Tensor& m) {
    group_masks.push_back(m);
    return AttentionBias{m, {}, {}};
  });
  ASSERT_EQ(group_masks.size(), 4u);
  for (const auto& m : group_masks) EXPECT_EQ(m.size(1), m.sum(1).max().item<int64_t>());

  // A function of whole rows (each token gets its row's sum over the real tokens, read
  // through the group's mask) gives, in packed order, what it gives on the padded batch.
  const at::Tensor x = at::randn({7, 12, 3});
  const at::Tensor keep = mask.unsqueeze(-1).to(at::kFloat);
  const at::Tensor want = p.pack((x * keep).sum(1, true).expand_as(x).contiguous());
  const at::Tensor got = p.attend(p.pack(x), [](const at::Tensor& g, const AttentionBias& b) {
    return (g * b.padding.unsqueeze(-1).to(at::kFloat)).sum(1, true).expand_as(g);
  });
  EXPECT_TRUE(at::allclose(got, want, 1e-6, 1e-6));
  EXPECT_TRUE(at::equal(p.attend(p.pack(x), [](const at::Tensor& g, const AttentionBias&) { return g; }),
                        p.pack(x)));
}

}  // namespace
}  // namespace disttune
