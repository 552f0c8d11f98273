// The portable generator against goldens from tests/ref/data_random.py (a pure-Python model
// of the published algorithms) and the splitmix64 reference vector.
#include "data/random.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace disttune {
namespace {

TEST(DataRandom, SplitMix64MatchesTheReferenceVector) {
  // Seed 1234567: the test vector of Vigna's splitmix64.c (also Java's SplittableRandom).
  SplitMix64 r(1234567);
  EXPECT_EQ(r.next(), 6457827717110365317ull);
  EXPECT_EQ(r.next(), 3203168211198807973ull);
  EXPECT_EQ(r.next(), 9817491932198370423ull);
}

TEST(DataRandom, GoldensFromThePythonModel) {
  SplitMix64 r(42);
  std::vector<uint64_t> below;
  for (int i = 0; i < 10; ++i) below.push_back(r.below(10));
  EXPECT_EQ(below, (std::vector<uint64_t>{7, 1, 2, 3, 0, 8, 2, 8, 3, 6}));
  EXPECT_EQ(derive_seed(42, kSplitStream), 0xf6a9b41723438bc4ull);
  EXPECT_EQ(random_permutation(10, 7), (std::vector<int64_t>{9, 5, 8, 6, 1, 2, 4, 7, 0, 3}));
}

TEST(DataRandom, BelowStaysInRangeAndCoversIt) {
  SplitMix64 r(1);
  std::vector<int> hits(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t v = r.below(7);
    ASSERT_LT(v, 7u);
    hits[v]++;
  }
  for (int h : hits) EXPECT_GT(h, 850);  // ~1000 each
  const uint64_t big = (1ull << 63) + 12345;
  for (int i = 0; i < 1000; ++i) ASSERT_LT(r.below(big), big);
  EXPECT_EQ(r.below(1), 0u);
}

TEST(DataRandom, PermutationIsAPermutation) {
  std::vector<int64_t> p = random_permutation(1000, 99);
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(p[static_cast<size_t>(i)], i);
  EXPECT_TRUE(random_permutation(0, 1).empty());
  EXPECT_NE(random_permutation(50, 1), random_permutation(50, 2));
}

}  // namespace
}  // namespace disttune
