#include "data/split.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/check.h"

namespace disttune {
namespace {

void expect_partition(const SplitIndices& s, int64_t n) {
  std::vector<int64_t> all;
  for (const auto* part : {&s.train, &s.val, &s.test}) all.insert(all.end(), part->begin(), part->end());
  ASSERT_EQ(static_cast<int64_t>(all.size()), n);
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(all[static_cast<size_t>(i)], i) << "row " << i;
}

TEST(DataSplit, GoldenFromThePythonModel) {
  // tests/ref/data_random.py: make_split(20, .7, .15, .15, 42)
  const SplitIndices s = make_split(20, 0.7, 0.15, 0.15, 42);
  EXPECT_EQ(s.val, (std::vector<int64_t>{3, 8, 12}));
  EXPECT_EQ(s.test, (std::vector<int64_t>{0, 5, 7}));
  EXPECT_EQ(s.train, (std::vector<int64_t>{1, 2, 13, 11, 19, 17, 9, 14, 10, 15, 4, 6, 16, 18}));
}

TEST(DataSplit, CountsAreRoundedFractionsAndEveryRowLandsOnce) {
  const SplitIndices s = make_split(7000, 0.81, 0.09, 0.10, 42);
  EXPECT_EQ(s.test.size(), 700u);
  EXPECT_EQ(s.val.size(), 630u);
  EXPECT_EQ(s.train.size(), 5670u);
  expect_partition(s, 7000);
  EXPECT_TRUE(std::is_sorted(s.val.begin(), s.val.end()));
  EXPECT_TRUE(std::is_sorted(s.test.begin(), s.test.end()));
  EXPECT_FALSE(std::is_sorted(s.train.begin(), s.train.end()));  // permuted order kept

  // round(0.25 * 10) = 3 (half away from zero), round(0.25 * 10) = 3, train gets the rest.
  const SplitIndices r = make_split(10, 0.5, 0.25, 0.25, 1);
  EXPECT_EQ(r.test.size(), 3u);
  EXPECT_EQ(r.val.size(), 3u);
  EXPECT_EQ(r.train.size(), 4u);
  expect_partition(r, 10);
  // val is capped so that the counts never exceed n.
  const SplitIndices tiny = make_split(1, 0, 0.5, 0.5, 1);
  EXPECT_EQ(tiny.test.size(), 1u);
  EXPECT_EQ(tiny.val.size(), 0u);
  expect_partition(tiny, 1);
  expect_partition(make_split(0, 0.8, 0.1, 0.1, 1), 0);
  const SplitIndices all_train = make_split(5, 1, 0, 0, 3);
  EXPECT_EQ(all_train.train.size(), 5u);
}

TEST(DataSplit, DeterministicPerSeedAndTestStableUnderTrainValChanges) {
  EXPECT_EQ(make_split(1000, 0.8, 0.1, 0.1, 7).train, make_split(1000, 0.8, 0.1, 0.1, 7).train);
  EXPECT_NE(make_split(1000, 0.8, 0.1, 0.1, 7).test, make_split(1000, 0.8, 0.1, 0.1, 8).test);
  // The test rows are cut first: moving rows between train and val leaves them alone.
  EXPECT_EQ(make_split(1000, 0.8, 0.1, 0.1, 7).test, make_split(1000, 0.6, 0.3, 0.1, 7).test);
}

TEST(DataSplit, RejectsFractionsThatDoNotSumToOne) {
  try {
    make_split(10, 0.8, 0.1, 0.2, 1);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "data.split: train + val + test must be 1; got 0.8 + 0.1 + 0.2");
  }
  EXPECT_THROW(make_split(10, 1.2, -0.1, -0.1, 1), UserError);
}

}  // namespace
}  // namespace disttune
