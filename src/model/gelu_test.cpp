#include "model/gelu.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>

namespace disttune {
namespace {

// x Phi(x) and its derivative Phi(x) + x phi(x), in double from the (bf16) inputs.
at::Tensor exact_gelu(const at::Tensor& x) {
  const at::Tensor d = x.to(at::kDouble);
  return d * 0.5 * at::erfc(-d * M_SQRT1_2);
}
at::Tensor exact_slope(const at::Tensor& x) {
  const at::Tensor d = x.to(at::kDouble);
  return 0.5 * at::erfc(-d * M_SQRT1_2) + d * at::exp(-0.5 * d * d) / std::sqrt(2 * M_PI);
}

// |got - want| over bf16's rounding of want (2^-8 of it) plus `abs`; the largest ratio.
double worst(const at::Tensor& got, const at::Tensor& want, double abs) {
  const at::Tensor err = (got.to(at::kDouble) - want).abs();
  return (err / (want.abs() * std::ldexp(1.0, -8) + abs)).max().item<double>();
}

// The forward (in place, no gradient) and the backward (autograd) of gelu_erf() on bf16 x.
struct GeluRun {
  at::Tensor y, dx;
};
GeluRun run(const at::Tensor& x, const at::Tensor& dy) {
  at::Tensor leaf = x.clone().requires_grad_(true);
  at::Tensor y = gelu_erf(leaf);
  y.backward(dy);
  at::Tensor y_no_grad = gelu_erf(x.clone());
  EXPECT_TRUE(at::equal(y.detach(), y_no_grad)) << "the in-place form differs from the autograd one";
  return {y_no_grad, leaf.grad()};
}

// Every bf16 value in [-10, 10] (a count that leaves a tail after the kernel's 16-lane groups):
// within bf16 rounding of the exact function, forward and backward; and where the erf
// form cancels (x < -5, Phi below float's resolution near 1) still within a few percent,
// which ATen's (1 + erf) / 2 is not: this checks the kernel ran where the CPU has it.
TEST(Gelu, Bf16IsTheExactFunctionToBf16Rounding) {
  const at::Tensor all = at::arange(0, 1 << 16, at::kInt).to(at::kShort).view(at::kBFloat16);
  const at::Tensor x = all.masked_select(all.to(at::kFloat).abs().le(10));  // NaN and infinities out
  ASSERT_NE(x.numel() % 16, 0);
  at::manual_seed(7);
  const at::Tensor dy = at::randn(x.sizes()).to(at::kBFloat16);
  const GeluRun r = run(x, dy);
  ASSERT_EQ(r.y.scalar_type(), at::kBFloat16);
  ASSERT_EQ(r.dx.scalar_type(), at::kBFloat16);
  const at::Tensor y = exact_gelu(x), dx = exact_slope(x) * dy.to(at::kDouble);
  // Absolute terms: A&S's erf error (1.5e-7) times |x| / 2 and |dy|.
  const at::Tensor body = x.ge(-4);
  EXPECT_LE(worst(r.y.masked_select(body), y.masked_select(body), 1e-7 * 5), 1.1);
  EXPECT_LE(worst(r.dx.masked_select(body), dx.masked_select(body), 1e-6), 1.1);
  if (gelu_bf16_kernel_available()) {
    const at::Tensor tail = x.lt(-4).logical_and(x.ge(-9));
    const double rel_y = ((r.y.masked_select(tail).to(at::kDouble) / y.masked_select(tail)) - 1).abs().max().item<double>();
    EXPECT_LT(rel_y, 0.03) << "GELU's tail below x = -4";
    const at::Tensor big = tail.logical_and(dy.abs().gt(0.1));
    const double rel_dx =
        ((r.dx.masked_select(big).to(at::kDouble) / dx.masked_select(big)) - 1).abs().max().item<double>();
    EXPECT_LT(rel_dx, 0.03) << "GELU's slope below x = -4";
  } else {
    std::cout << "no AVX-512F: gelu_erf() ran at::gelu; the kernel's tail check skipped";
  }
}

// Where the erf form does not cancel, the same bf16 results as ATen's bf16 gelu and
// gelu_backward (what autocast's graph ran before): all within one bf16 step, nearly all equal.
TEST(Gelu, Bf16AgreesWithATen) {
  at::manual_seed(8);
  const at::Tensor x = (at::randn({97, 211}) * 2).clamp(-4, 4).to(at::kBFloat16);
  const at::Tensor dy = at::randn(x.sizes()).to(at::kBFloat16);
  const GeluRun r = run(x, dy);
  const at::Tensor want_y = at::gelu(x), want_dx = at::gelu_backward(dy, x);
  auto compare = [](const at::Tensor& got, const at::Tensor& want, const char* what) {
    const at::Tensor d = (got.to(at::kDouble) - want.to(at::kDouble)).abs();
    const at::Tensor step = want.to(at::kDouble).abs() * std::ldexp(1.0, -7) + 1e-30;
    EXPECT_TRUE(d.le(step).all().item<bool>()) << what << ": a difference above one bf16 step";
    EXPECT_GT(got.eq(want).to(at::kDouble).mean().item<double>(), 0.99) << what;
  };
  compare(r.y, want_y, "forward");
  compare(r.dx, want_dx, "backward");
}

// Infinities, NaN and signed zero as ATen: gelu(+inf) = +inf, gelu(-inf) and gelu(NaN) NaN.
TEST(Gelu, Bf16SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const at::Tensor x = at::tensor({inf, -inf, std::nanf(""), 0.0f, -0.0f, 30.0f, -30.0f}).to(at::kBFloat16);
  const at::Tensor y = gelu_erf(x.clone()).to(at::kFloat);
  EXPECT_EQ(y[0].item<float>(), inf);
  EXPECT_TRUE(std::isnan(y[1].item<float>()));
  EXPECT_TRUE(std::isnan(y[2].item<float>()));
  EXPECT_EQ(y[3].item<float>(), 0.0f);
  EXPECT_EQ(y[4].item<float>(), 0.0f);
  EXPECT_EQ(y[5].item<float>(), 30.0f);
  EXPECT_EQ(y[6].item<float>(), 0.0f);
}

// Other dtypes and layouts are at::gelu's, gradients included.
TEST(Gelu, OtherTensorsRunATen) {
  at::manual_seed(9);
  const at::Tensor x = at::randn({33, 40});
  for (const at::Tensor& t : {x, x.to(at::kBFloat16).t()}) {
    at::Tensor leaf = t.clone().requires_grad_(true);
    at::Tensor want_leaf = t.clone().requires_grad_(true);
    const at::Tensor y = gelu_erf(leaf.t().t().transpose(0, 1).transpose(0, 1));
    const at::Tensor want = at::gelu(want_leaf);
    EXPECT_TRUE(at::equal(y.detach(), want.detach()));
    y.sum().backward();
    want.sum().backward();
    EXPECT_TRUE(at::equal(leaf.grad(), want_leaf.grad()));
  }
}

}  // namespace
}  // namespace disttune
