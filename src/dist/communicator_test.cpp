// Collective semantics, checked against values computed by hand for any world size.
// Runs alone (world size 1, LocalCommunicator) and under mpirun -np 2 / -np 4 (MPI).
#include "dist/communicator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "common/check.h"
#include "dist/dist.h"

namespace disttune {
namespace {

struct MpiCollectives : ::testing::Test {
  Dist& d = dist();
  Communicator& c = *d.comm;
  int W = d.world_size;
  int r = d.rank;
};

TEST_F(MpiCollectives, RankAndWorldMatchTheLauncher) {
  EXPECT_EQ(c.rank(), r);
  EXPECT_EQ(c.world_size(), W);
  EXPECT_GE(d.local_rank, 0);
  EXPECT_LT(d.local_rank, d.local_size);
  EXPECT_GE(d.threads, 1);
  EXPECT_EQ(c.all_reduce_int(1, ReduceOp::Sum), W);
}

TEST_F(MpiCollectives, AllReduceSumAvgMaxMin) {
  at::Tensor t = at::tensor({double(r + 1), 2.0 * (r + 1)}, at::kFloat);
  c.all_reduce(t, ReduceOp::Sum);
  const float s = W * (W + 1) / 2.0f;
  EXPECT_FLOAT_EQ(t[0].item<float>(), s);
  EXPECT_FLOAT_EQ(t[1].item<float>(), 2 * s);

  at::Tensor a = at::tensor({double(r + 1)}, at::kDouble);
  c.all_reduce(a, ReduceOp::Avg);
  EXPECT_DOUBLE_EQ(a.item<double>(), (W + 1) / 2.0);

  at::Tensor mx = at::tensor({int64_t(r), int64_t(-r)}, at::kLong);
  c.all_reduce(mx, ReduceOp::Max);
  EXPECT_EQ(mx[0].item<int64_t>(), W - 1);
  EXPECT_EQ(mx[1].item<int64_t>(), 0);
  at::Tensor mn = at::tensor({int64_t(r)}, at::kLong);
  c.all_reduce(mn, ReduceOp::Min);
  EXPECT_EQ(mn.item<int64_t>(), 0);

  EXPECT_DOUBLE_EQ(c.all_reduce_scalar(0.5 * r, ReduceOp::Sum), 0.5 * W * (W - 1) / 2);
}

TEST_F(MpiCollectives, AllReduceBf16AndNonContiguous) {
  at::Tensor b = at::full({4}, 1.0 + r, at::kBFloat16);
  c.all_reduce(b, ReduceOp::Sum);
  EXPECT_FLOAT_EQ(b[3].item<float>(), W * (W + 1) / 2.0f);
  // A strided view is reduced in place, through a contiguous copy.
  at::Tensor m = at::zeros({3, 4}, at::kFloat);
  at::Tensor col = m.select(1, 2);
  col.fill_(float(r));
  c.all_reduce(col, ReduceOp::Sum);
  EXPECT_FLOAT_EQ(m[1][2].item<float>(), W * (W - 1) / 2.0f);
  EXPECT_FLOAT_EQ(m[1][1].item<float>(), 0.0f);
}

TEST_F(MpiCollectives, AllGatherConcatenatesInRankOrder) {
  at::Tensor mine = at::tensor({float(r), float(10 * r)}).reshape({1, 2});
  at::Tensor all = c.all_gather(mine);
  ASSERT_EQ(all.sizes(), (std::vector<int64_t>{W, 2}));
  for (int k = 0; k < W; ++k) {
    EXPECT_FLOAT_EQ(all[k][0].item<float>(), float(k));
    EXPECT_FLOAT_EQ(all[k][1].item<float>(), float(10 * k));
  }
}

TEST_F(MpiCollectives, AllGathervTakesUnequalSlices) {
  at::Tensor mine = at::full({r + 1, 3}, float(r));  // rank r sends r+1 rows of r
  at::Tensor all = c.all_gatherv(mine);
  ASSERT_EQ(all.size(0), W * (W + 1) / 2);
  ASSERT_EQ(all.size(1), 3);
  int64_t row = 0;
  for (int k = 0; k < W; ++k)
    for (int j = 0; j <= k; ++j) EXPECT_FLOAT_EQ(all[row++][2].item<float>(), float(k));
  // A rank with nothing to send still takes part.
  at::Tensor empty_or_one = r == 0 ? at::zeros({0, 3}) : at::ones({1, 3});
  EXPECT_EQ(c.all_gatherv(empty_or_one).size(0), W - 1);
}

TEST_F(MpiCollectives, ReduceScatterGivesEachRankItsReducedRows) {
  // Every rank sends W*2 rows; row i holds (rank+1)*(i+1).
  at::Tensor rows = at::arange(1, 2 * W + 1, at::kFloat).reshape({2 * W, 1}) * float(r + 1);
  at::Tensor mine = c.reduce_scatter(rows, ReduceOp::Sum);
  ASSERT_EQ(mine.size(0), 2);
  const float s = W * (W + 1) / 2.0f;
  EXPECT_FLOAT_EQ(mine[0][0].item<float>(), s * (2 * r + 1));
  EXPECT_FLOAT_EQ(mine[1][0].item<float>(), s * (2 * r + 2));
}

TEST_F(MpiCollectives, BroadcastFromTheLastRank) {
  at::Tensor t = r == W - 1 ? at::tensor({7.0f, 8.0f}) : at::zeros({2});
  c.broadcast(t, W - 1);
  EXPECT_FLOAT_EQ(t[0].item<float>(), 7.0f);
  EXPECT_FLOAT_EQ(t[1].item<float>(), 8.0f);
}

TEST_F(MpiCollectives, GatherToRootWithUnequalSlices) {
  at::Tensor mine = at::full({r + 1, 2}, int64_t(r), at::kLong);
  std::vector<at::Tensor> got = c.gather(mine, 0);
  if (r == 0) {
    ASSERT_EQ(got.size(), size_t(W));
    for (int k = 0; k < W; ++k) {
      EXPECT_EQ(got[k].size(0), k + 1);
      EXPECT_EQ(got[k][0][1].item<int64_t>(), k);
    }
  } else {
    EXPECT_TRUE(got.empty());
  }
}

TEST_F(MpiCollectives, HostBytes) {
  std::string s = r == 0 ? std::string("config text\0with nul", 20) : std::string("stale");
  c.broadcast_bytes(s, 0);
  EXPECT_EQ(s, std::string("config text\0with nul", 20));
  std::vector<std::string> all = c.all_gather_bytes(std::string(size_t(r), 'x'));
  ASSERT_EQ(all.size(), size_t(W));
  for (int k = 0; k < W; ++k) EXPECT_EQ(all[k], std::string(size_t(k), 'x'));
  c.barrier();
}

// Fail-fast checks, run by tests/failfast_test.py under mpirun -np 4 (disabled in the normal
// suite because each ends the whole job on purpose). The failing rank records when the
// failure happened (wall clock, in $DISTTUNE_FAILFAST_STAMP) so that the script measures the
// time from the failure to the end of the job, not the job's start-up.
void stamp_failure() {
  if (const char* path = std::getenv("DISTTUNE_FAILFAST_STAMP")) {
    std::ofstream out(path);
    out.precision(17);
    out << std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
}

TEST(MpiFailFast, DISABLED_RankOneThrows) {
  Dist& d = dist();
  d.comm->barrier();  // every rank is up
  try {
    if (d.rank == 1) {
      stamp_failure();
      throw UserError("injected failure on rank 1");
    }
    d.comm->barrier();  // the other ranks would wait here forever without fail-fast
  } catch (const std::exception& e) {
    dist_fatal(e.what());
  }
}

TEST(MpiFailFast, DISABLED_StalledRankTimesOut) {
  Dist& d = dist();
  d.comm->barrier();  // every rank is up
  dist_set_timeout(2);
  if (d.rank == 1) {
    stamp_failure();
    pause();  // a stalled rank: alive, never joins the collective
  }
  d.comm->barrier();
}

}  // namespace
}  // namespace disttune
