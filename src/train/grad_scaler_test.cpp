// Dynamic loss scaling (torch.cuda.amp.GradScaler semantics), on CPU with injected
// infinities: unscaling, overflow agreed across ranks, skipped steps, backoff and growth.
#include "train/grad_scaler.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

#include "dist/dist.h"
#include "train/optimizer.h"

namespace disttune {
namespace {

TEST(MpiGradScaler, OverflowOnOneRankSkipsTheStepEverywhere) {
  Dist& d = dist();
  GradScaler scaler;  // 65536, x2 every 2000, x0.5 on overflow
  EXPECT_DOUBLE_EQ(scaler.scale(), 65536.0);
  at::Tensor p = at::ones({4}).requires_grad_(true);
  AdamW opt({{"w", p}}, AdamWOptions{});

  // A clean step: gradients come back divided by the scale.
  p.mutable_grad() = at::full({4}, 3.0 * 65536);
  bool inf = scaler.unscale(d, {p});
  EXPECT_FALSE(inf);
  EXPECT_TRUE(at::equal(p.grad(), at::full({4}, 3.0)));
  if (!inf) opt.step(0.1);
  scaler.update(inf);
  EXPECT_EQ(scaler.growth_tracker(), 1);
  const at::Tensor after_clean = p.detach().clone();

  // An overflow on rank 0 only: every rank learns of it and skips the step.
  p.mutable_grad() = at::full({4}, 1.0);
  if (d.rank == 0) p.mutable_grad()[2] = std::numeric_limits<float>::infinity();
  inf = scaler.unscale(d, {p});
  EXPECT_TRUE(inf);
  if (!inf) opt.step(0.1);
  scaler.update(inf);
  EXPECT_TRUE(at::equal(p.detach(), after_clean));
  EXPECT_EQ(opt.state("w").step, 1);
  EXPECT_DOUBLE_EQ(scaler.scale(), 32768.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);

  // NaN counts as overflow too.
  p.mutable_grad() = at::full({4}, std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(scaler.unscale(d, {p}));
}

TEST(MpiGradScaler, GrowsAfterTheIntervalOfCleanSteps) {
  Dist& d = dist();
  GradScalerOptions o;
  o.growth_interval = 3;
  o.init_scale = 8;
  GradScaler s(o);
  at::Tensor p = at::ones({1}).requires_grad_(true);
  for (int i = 0; i < 3; ++i) {
    p.mutable_grad() = at::ones({1});
    s.update(s.unscale(d, {p}));
  }
  EXPECT_DOUBLE_EQ(s.scale(), 16.0);
  EXPECT_EQ(s.growth_tracker(), 0);
  s.update(true);
  EXPECT_DOUBLE_EQ(s.scale(), 8.0);
  s.load_state(1024, 2);
  s.update(false);
  EXPECT_DOUBLE_EQ(s.scale(), 2048.0);
}

TEST(MpiGradScaler, DisabledScalesByOneButStillDetectsNonFinite) {
  Dist& d = dist();
  GradScalerOptions o;
  o.enabled = false;
  GradScaler s(o);
  EXPECT_DOUBLE_EQ(s.scale(), 1.0);
  at::Tensor p = at::ones({2}).requires_grad_(true);
  p.mutable_grad() = at::full({2}, 5.0);
  EXPECT_FALSE(s.unscale(d, {p}));
  EXPECT_TRUE(at::equal(p.grad(), at::full({2}, 5.0)));
  p.mutable_grad()[0] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(s.unscale(d, {p}));
  s.update(true);
  EXPECT_DOUBLE_EQ(s.scale(), 1.0);
}

}  // namespace
}  // namespace disttune
