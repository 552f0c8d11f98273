#include "model/linear.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace disttune {
namespace {

// The same map and its gradients in float64: the reference both float32 paths round from.
struct Outputs {
  at::Tensor y, dx, dw, db;
};
Outputs run(const at::Tensor& x0, const at::Tensor& w0, const at::Tensor& b0, const at::Tensor& gy,
           bool reference) {
  auto leaf = [&](const at::Tensor& t) {
    if (!t.defined()) return t;
    return (reference ? t.to(at::kDouble) : t.clone()).requires_grad_(true);
  };
  at::Tensor x = leaf(x0), w = leaf(w0), b = leaf(b0);
  at::Tensor y = reference ? at::linear(x, w, b) : linear(x, w, b);
  y.backward(reference ? gy.to(at::kDouble) : gy);
  auto grad = [](const at::Tensor& t) { return t.defined() ? t.grad().to(at::kFloat) : t; };
  return {y.to(at::kFloat), grad(x), grad(w), grad(b)};
}

void expect_close(const at::Tensor& a, const at::Tensor& b, const char* what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double err = (a - b).abs().max().item<double>(), scale = b.abs().max().item<double>();
  EXPECT_LT(err, 1e-5 * (1 + scale)) << what << ": max |difference| " << err;
}

TEST(Linear, ValuesAndGradientsMatchTheFloat64Map) {
  at::manual_seed(7);
  struct Case {
    std::vector<int64_t> x_shape;
    int64_t out;
    bool bias;
  };
  for (const Case& c : {Case{{37, 24}, 40, true}, Case{{3, 5, 24}, 17, true}, Case{{9, 24}, 6, false},
                        Case{{1, 24}, 1, true}}) {
    const at::Tensor x = at::randn(c.x_shape);
    const at::Tensor w = at::randn({c.out, 24}) * 0.2;
    const at::Tensor b = c.bias ? at::randn({c.out}) : at::Tensor();
    std::vector<int64_t> y_shape = c.x_shape;
    y_shape.back() = c.out;
    const at::Tensor gy = at::randn(y_shape);
    const Outputs got = run(x, w, b, gy, false), want = run(x, w, b, gy, true);
    expect_close(got.y, want.y, "y");
    expect_close(got.dx, want.dx, "dx");
    expect_close(got.dw, want.dw, "dw");
    if (c.bias) expect_close(got.db, want.db, "db");
  }
}

TEST(Linear, TakesStridedInputsAndFrozenWeights) {
  at::manual_seed(8);
  // A transposed input and a transposed weight (views with non-unit strides).
  const at::Tensor x = at::randn({16, 11}).t(), w = at::randn({16, 13}).t(), b = at::randn({13});
  expect_close(linear(x, w, b), at::linear(x.to(at::kDouble), w.to(at::kDouble), b.to(at::kDouble)).to(at::kFloat),
               "strided y");
  // Only the input needs a gradient: the weight's and bias's are not computed or stored.
  at::Tensor xg = x.clone().requires_grad_(true);
  const at::Tensor wf = w.contiguous();
  linear(xg, wf, b).sum().backward();
  expect_close(xg.grad(), wf.sum(0).expand({11, 16}), "dx of a sum");
  EXPECT_FALSE(wf.grad().defined());
  // No graph under NoGradGuard, and an empty batch gives an empty result.
  at::NoGradGuard no_grad;
  const at::Tensor wr = w.clone().requires_grad_(true);
  EXPECT_FALSE(linear(x, wr, b).requires_grad());
  EXPECT_EQ(linear(at::randn({0, 16}), w, b).sizes(), (at::IntArrayRef{0, 13}));
}

TEST(Linear, ReportsItsBackend) {
#if DISTTUNE_HAVE_DNNL
  const char* off = std::getenv("DISTTUNE_ONEDNN");
  EXPECT_STREQ(linear_backend(), off && std::strcmp(off, "0") == 0 ? "ATen (DISTTUNE_ONEDNN=0)" : "oneDNN sgemm");
#else
  EXPECT_STREQ(linear_backend(), "ATen");
#endif
}

}  // namespace
}  // namespace disttune
