// Global-norm clipping as torch.nn.utils.clip_grad_norm_, on values worked by hand.
#include "train/clip.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace disttune {
namespace {

TEST(Clip, ScalesByMaxNormOverNormPlusEpsWhenAbove) {
  at::Tensor a = at::zeros({2}).requires_grad_(true), b = at::zeros({1}).requires_grad_(true),
             c = at::zeros({3}).requires_grad_(true);
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});
  // c has no gradient: skipped, as torch skips parameters whose grad is None.
  EXPECT_NEAR(grad_norm({a, b, c}), 5.0, 1e-6);
  EXPECT_NEAR(clip_grad_norm({a, b, c}, 1.0), 5.0, 1e-6);
  const double coef = 1.0 / (5.0 + 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 * coef, 1e-7);
  EXPECT_NEAR(b.grad()[0].item<double>(), 4.0 * coef, 1e-7);
  EXPECT_FALSE(c.grad().defined());
  // Below the threshold the coefficient is clamped to 1: nothing changes.
  EXPECT_NEAR(clip_grad_norm({a, b}, 10.0), 5.0 * coef, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 4.0 * coef, 1e-7);
}

// clip_coefficient: the same norm and the factor clip_grad_norm multiplies by, gradients
// untouched; 1 below the threshold.
TEST(Clip, CoefficientIsWhatClipMultipliesBy) {
  at::Tensor a = at::zeros({2}).requires_grad_(true), b = at::zeros({1}).requires_grad_(true);
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});
  const ClipCoefficient c = clip_coefficient({a, b}, 1.0);
  EXPECT_NEAR(c.norm, 5.0, 1e-6);
  EXPECT_EQ(c.coef, static_cast<float>(1.0 / (5.0 + 1e-6)));
  EXPECT_EQ(b.grad()[0].item<float>(), 4.0f);
  EXPECT_EQ(clip_coefficient({a, b}, 10.0).coef, 1.0f);
  clip_grad_norm({a, b}, 1.0);
  EXPECT_EQ(b.grad()[0].item<float>(), 4.0f * c.coef);
}

}  // namespace
}  // namespace disttune
