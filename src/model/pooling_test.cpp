// Pooling and Normalize on hand-worked examples (sentence-transformers semantics).
#include "model/pooling.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/check.h"

namespace disttune {
namespace {

// Rows: two tokens of three; three of three; left-padded (tokens 1..2); no tokens at all.
struct Example {
  at::Tensor states = at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f,     //
                                  -1.f, 0.f, 2.f, -2.f, 0.f, 7.f,   //
                                  9.f, 9.f, 1.f, -5.f, 2.f, 3.f,    //
                                  4.f, 4.f, 4.f, 4.f, 4.f, 4.f})
                          .view({4, 3, 2});
  at::Tensor mask = at::tensor({1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0}, at::kLong).view({4, 3});
};

void expect_rows(const at::Tensor& got, std::vector<std::vector<float>> want) {
  ASSERT_EQ(got.size(0), static_cast<int64_t>(want.size()));
  for (size_t r = 0; r < want.size(); ++r)
    for (size_t c = 0; c < want[r].size(); ++c)
      EXPECT_NEAR(got[r][c].item<float>(), want[r][c], 1e-6) << "row " << r << " col " << c;
}

TEST(Pooling, MeanAndMeanSqrtLenIgnorePadding) {
  Example e;
  expect_rows(pool(e.states, e.mask, PoolingMode::kMean),
              {{2, 3}, {1.f / 3, 5.f / 3}, {1.5f, -1}, {0, 0}});
  const float s2 = std::sqrt(2.f), s3 = std::sqrt(3.f);
  expect_rows(pool(e.states, e.mask, PoolingMode::kMeanSqrtLen),
              {{4 / s2, 6 / s2}, {1 / s3, 5 / s3}, {3 / s2, -2 / s2}, {0, 0}});
}

TEST(Pooling, ClsTakesTheFirstPosition) {
  Example e;
  expect_rows(pool(e.states, e.mask, PoolingMode::kCls), {{1, 2}, {-1, 0}, {9, 9}, {4, 4}});
}

TEST(Pooling, MaxSetsPaddingToMinusOneBillion) {
  Example e;
  expect_rows(pool(e.states, e.mask, PoolingMode::kMax), {{3, 4}, {2, 7}, {2, 3}, {-1e9f, -1e9f}});
}

TEST(Pooling, LastTokenIsTheLastUnmaskedPosition) {
  Example e;
  expect_rows(pool(e.states, e.mask, PoolingMode::kLastToken), {{3, 4}, {0, 7}, {2, 3}, {0, 0}});
}

TEST(Pooling, NormalizeIsL2WithEpsilon) {
  expect_rows(l2_normalize(at::tensor({3.f, 4.f, 0.f, 0.f, 1e-20f, 0.f}).view({3, 2})),
              {{0.6f, 0.8f}, {0, 0}, {1e-8f, 0}});
}

TEST(Pooling, NamesRoundTripAndUnknownIsAnError) {
  for (const char* n : {"mean", "cls", "max", "lasttoken", "mean_sqrt_len"})
    EXPECT_EQ(pooling_mode_name(parse_pooling_mode(n)), n);
  try {
    parse_pooling_mode("weightedmean");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("weightedmean"), std::string::npos);
  }
}

TEST(Pooling, GradientsReachOnlyUnmaskedTokens) {
  Example e;
  at::Tensor x = e.states.clone().set_requires_grad(true);
  pool(x, e.mask, PoolingMode::kMean).sum().backward();
  at::Tensor g = x.grad().sum(-1);  // [4, 3]
  EXPECT_TRUE(at::equal(g.ne(0), e.mask.to(at::kBool)));
}

}  // namespace
}  // namespace disttune
