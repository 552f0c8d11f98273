// Gradient reduction: the SUM over ranks, identical for any bucket layout, also for
// gradients accumulated over several backward passes, replaced behind the reducer's back,
// or missing on a rank.
#include "train/grad_reducer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "config/config.h"
#include "dist/dist.h"

namespace disttune {
namespace {

std::vector<at::Tensor> make_params() {
  std::vector<at::Tensor> ps;
  for (std::vector<int64_t> shape : {std::vector<int64_t>{7, 5}, {5}, {300}, {2, 3, 4}, {1}})
    ps.push_back(at::zeros(shape).requires_grad_(true));
  return ps;
}

// Integer-valued gradients: their sums are exact in float32, whatever order MPI adds in,
// so the expected values are exact too.
void backward_rank_gradients(std::vector<at::Tensor>& ps, int rank, int pass) {
  at::Tensor loss = at::zeros({});
  for (size_t i = 0; i < ps.size(); ++i) {
    at::Tensor w = (at::arange(ps[i].numel(), at::kFloat).reshape(ps[i].sizes()) + 1) * (rank + 1 + pass);
    loss = loss + (ps[i] * w).sum();
  }
  torch::autograd::backward({loss});
}

at::Tensor expected_sum(const at::Tensor& p, int world, int passes) {
  double coef = 0;
  for (int r = 0; r < world; ++r)
    for (int k = 0; k < passes; ++k) coef += r + 1 + k;
  return (at::arange(p.numel(), at::kFloat).reshape(p.sizes()) + 1) * coef;
}

TEST(MpiGradReducer, SumsOverRanksForEveryBucketLayout) {
  Dist& d = dist();
  for (int64_t bucket : {int64_t{4}, int64_t{64}, int64_t{1024}, int64_t{25} << 20}) {
    std::vector<at::Tensor> ps = make_params();
    GradReducer red(d, ps, bucket);
    if (bucket == 4) {
      EXPECT_EQ(red.num_buckets(), 5);  // one parameter each
    } else if (bucket == (int64_t{25} << 20)) {
      EXPECT_EQ(red.num_buckets(), 1);
    }
    // Gradient accumulation: two backward passes, one reduction.
    backward_rank_gradients(ps, d.rank, 0);
    backward_rank_gradients(ps, d.rank, 1);
    red.all_reduce();
    for (auto& p : ps) EXPECT_TRUE(at::equal(p.grad(), expected_sum(p, d.world_size, 2))) << "bucket " << bucket;
    // zero_grad starts the next step from zero, still inside the buckets.
    red.zero_grad();
    for (auto& p : ps) EXPECT_EQ(p.grad().abs().sum().item<float>(), 0.0f);
    backward_rank_gradients(ps, d.rank, 0);
    red.all_reduce();
    for (auto& p : ps) EXPECT_TRUE(at::equal(p.grad(), expected_sum(p, d.world_size, 1)));
  }
}

TEST(MpiGradReducer, ReplacedAndMissingGradientsAreStillReduced) {
  Dist& d = dist();
  std::vector<at::Tensor> ps = make_params();
  GradReducer red(d, ps, 1024);
  backward_rank_gradients(ps, d.rank, 0);
  // A gradient replaced by a fresh tensor, and one reset on odd ranks only.
  ps[0].mutable_grad() = ps[0].grad().clone();
  if (d.rank % 2 == 1) ps[3].mutable_grad() = at::Tensor();
  red.all_reduce();
  EXPECT_TRUE(at::equal(ps[0].grad(), expected_sum(ps[0], d.world_size, 1)));
  double coef = 0;
  for (int r = 0; r < d.world_size; r += 2) coef += r + 1;  // even ranks only
  EXPECT_TRUE(at::equal(ps[3].grad(), (at::arange(24, at::kFloat).reshape({2, 3, 4}) + 1) * coef));
  // Afterwards they are bucket views again: the next step accumulates in place.
  red.zero_grad();
  backward_rank_gradients(ps, d.rank, 0);
  red.all_reduce();
  for (auto& p : ps) EXPECT_TRUE(at::equal(p.grad(), expected_sum(p, d.world_size, 1)));
}

TEST(GradReducer, BucketSizeFromConfig) {
  EXPECT_EQ(bucket_bytes_from(Config()), int64_t{25} << 20);
  Config c = Config::from_yaml("distributed: {bucket_mb: 0.5}", "t.yaml");
  EXPECT_EQ(bucket_bytes_from(c), int64_t{1} << 19);
}

}  // namespace
}  // namespace disttune
