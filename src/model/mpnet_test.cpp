// MPNet relative position buckets on hand-worked values of the T5 rule (32 buckets, max
// distance 128): exact buckets 0..7 per direction, then 8 + floor(8 log(d/8) / log 16),
// capped at 15; keys after the query use buckets 16..31.
#include "model/mpnet.h"

#include <gtest/gtest.h>

namespace disttune {
namespace {

TEST(MpnetBuckets, HandWorkedValues) {
  const std::vector<std::pair<int64_t, int64_t>> cases = {
      {0, 0},    {-1, 1},   {-7, 7},   {-8, 8},   {-11, 8},  {-12, 9},  {-15, 9},
      {-16, 10}, {-22, 10}, {-23, 11}, {-31, 11}, {-32, 12}, {-63, 13}, {-64, 14},
      {-90, 14}, {-91, 15}, {-127, 15}, {-128, 15}, {-5000, 15},
      {1, 17},   {7, 23},   {8, 24},   {16, 26},  {64, 30},  {128, 31}, {5000, 31}};
  for (const auto& [rel, bucket] : cases)
    EXPECT_EQ(relative_position_bucket(rel), bucket) << "relative position " << rel;
}

TEST(MpnetBuckets, MonotoneInDistanceAndSymmetricInDirection) {
  for (int64_t d = 1; d < 600; ++d) {
    EXPECT_GE(relative_position_bucket(-d), relative_position_bucket(-(d - 1)));
    EXPECT_EQ(relative_position_bucket(d), relative_position_bucket(-d) + 16);
  }
}

}  // namespace
}  // namespace disttune
