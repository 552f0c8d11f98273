// The training core end to end with the tiny model of tests/ref/gen_train_golden.py:
// losses, clipping, AdamW and the schedule over several steps against torch
// (torch.optim.AdamW, clip_grad_norm_, LambdaLR), and the distributed equivalences:
// N ranks x B/N rows == 1 rank x B rows (also for uneven splits), cached_mnrl with
// mini-batch 2 == mnrl, gradient accumulation 2 at half the batch == accumulation 1 (for
// losses whose gradient is a sum over rows), any bucket size == one bucket.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "train/train_test_util.h"

namespace disttune {
namespace {

using namespace train_test;

constexpr double kTol = 1e-5;

void expect_same_run(const RunResult& got, const RunResult& ref, const std::string& what) {
  ASSERT_EQ(got.losses.size(), ref.losses.size());
  for (size_t s = 0; s < ref.losses.size(); ++s) {
    EXPECT_NEAR(got.losses[s], ref.losses[s], kTol * std::max(1.0, std::abs(ref.losses[s])))
        << what << " loss at step " << s;
    EXPECT_NEAR(got.grad_norms[s], ref.grad_norms[s], kTol * std::max(1.0, ref.grad_norms[s]))
        << what << " grad norm at step " << s;
  }
  for (size_t i = 0; i < ref.model.params.size(); ++i)
    EXPECT_LT(rel_error(got.model.p(i), ref.model.p(i)), kTol) << what << " " << ref.model.params[i].first;
}

TEST(MpiTraining, MatchesTorchAdamWClippingAndSchedule) {
  Dist& d = dist();
  json g = load_golden("training.json");
  ASSERT_GE(g.at("runs").size(), 6u);
  for (const json& run : g.at("runs")) {
    const std::string name = run.at("name").get<std::string>();
    ASSERT_GE(run.at("steps").get<int>(), 5) << name;
    RunResult r = run_training(d, run);
    const auto losses = run.at("losses").get<std::vector<double>>();
    const auto norms = run.at("grad_norms").get<std::vector<double>>();
    for (size_t s = 0; s < losses.size(); ++s) {
      EXPECT_NEAR(r.losses[s], losses[s], kTol * std::max(1.0, std::abs(losses[s]))) << name << " step " << s;
      EXPECT_NEAR(r.grad_norms[s], norms[s], kTol * std::max(1.0, norms[s])) << name << " step " << s;
    }
    for (size_t i = 0; i < r.model.params.size(); ++i) {
      const std::string& pname = r.model.params[i].first;
      EXPECT_LT(rel_error(r.model.p(i), tensor_from(run.at("final").at(pname))), kTol) << name << " " << pname;
    }
  }
}

TEST(MpiTraining, RanksTimesSliceEqualsOneRankWithTheWholeBatch) {
  Dist& d = dist();
  json g = load_golden("training.json");
  for (const json& run : g.at("runs")) {
    const std::string name = run.at("name").get<std::string>();
    expect_same_run(run_training(d, run), run_training(local_dist(), run), name);
  }
}

TEST(MpiTraining, GradCacheAtMiniBatchTwoEqualsMnrl) {
  Dist& d = dist();
  json g = load_golden("training.json");
  int checked = 0;
  for (const json& run : g.at("runs")) {
    if (run.at("loss").at("name") != "mnrl") continue;
    RunOptions cached;
    cached.overrides = {"loss.name=cached_mnrl", "training.mini_batch_size=2"};
    expect_same_run(run_training(d, run, cached), run_training(local_dist(), run),
                    run.at("name").get<std::string>() + " cached");
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

// In-batch negatives make MNRL (and CoSENT) depend on which rows share a micro-batch, so
// accumulation is compared where the gradient is a sum over rows: triplet and contrastive.
TEST(MpiTraining, AccumulationTwoAtHalfTheBatchEqualsAccumulationOne) {
  Dist& d = dist();
  json g = load_golden("training.json");
  int checked = 0;
  for (const json& run : g.at("runs")) {
    const std::string loss = run.at("loss").at("name").get<std::string>();
    if (loss != "triplet" && loss != "contrastive") continue;
    RunOptions accum;
    accum.accum = 2;
    expect_same_run(run_training(d, run, accum), run_training(local_dist(), run), run.at("name").get<std::string>() + " accum 2");
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(MpiTraining, BucketLayoutDoesNotChangeTheResult) {
  Dist& d = dist();
  json g = load_golden("training.json");
  RunOptions tiny_buckets;
  tiny_buckets.bucket_bytes = 64;
  const json& run = g.at("runs")[0];
  expect_same_run(run_training(d, run, tiny_buckets), run_training(d, run), "64-byte buckets");
}

}  // namespace
}  // namespace disttune
