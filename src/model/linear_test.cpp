#include "model/linear.h"

#include "model/cpu_gemm.h"

#include <ATen/core/grad_mode.h>
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
                        Case{{1, 24}, 1, true}, Case{{2, 300, 24}, 9, true}}) {
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

// The training path: .grad allocated before backward (GradReducer's bucket views), the weight
// used twice (anchors and positives), and a weight that is not a leaf (the concatenated
// Q/K/V projection) beside one that is. The gradient lands in the same .grad tensors, added
// to what they held, equal to at::linear's.
TEST(Linear, AddsWeightGradientsIntoAllocatedGrads) {
  at::manual_seed(9);
  const at::Tensor x1 = at::randn({2, 7, 24}), x2 = at::randn({517, 24});  // 517: three 256-row slices
  const at::Tensor w0 = at::randn({12, 24}) * 0.2, u0 = at::randn({6, 24}) * 0.2, b0 = at::randn({12});
  const at::Tensor held_w = at::randn({12, 24}), held_b = at::randn({12}), held_u = at::randn({6, 24});
  auto step = [&](bool reference) {
    at::Tensor w = w0.clone().requires_grad_(true), u = u0.clone().requires_grad_(true),
               b = b0.clone().requires_grad_(true);
    w.mutable_grad() = held_w.clone();
    b.mutable_grad() = held_b.clone();
    u.mutable_grad() = held_u.clone();
    const void* where = w.grad().data_ptr();
    const void* where_b = b.grad().data_ptr();
    auto f = [&](const at::Tensor& x, const at::Tensor& wt, const at::Tensor& bt) {
      return reference ? at::linear(x, wt, bt) : linear(x, wt, bt);
    };
    const at::Tensor y = f(x1, w, b).sum() * 2 + f(x2, w, b).pow(2).sum() + f(x2, at::cat({w, u}), at::Tensor()).sum();
    y.backward();
    EXPECT_EQ(w.grad().data_ptr(), where) << "the allocated .grad is written in place";
    EXPECT_EQ(b.grad().data_ptr(), where_b) << "the allocated bias .grad is written in place";
    return std::vector<at::Tensor>{w.grad(), b.grad(), u.grad()};
  };
  const auto got = step(false), want = step(true);
  expect_close(got[0], want[0], "dw of the twice-used leaf");
  expect_close(got[1], want[1], "db");
  expect_close(got[2], want[2], "dw through the concatenation");
  EXPECT_GT((got[0] - held_w).abs().max().item<double>(), 1.0) << "a gradient was added";
}

// With oneDNN the weight and bias gradients go straight into their allocated .grad: their
// autograd accumulators (where a hook would see them) get nothing. A bias whose .grad is not
// allocated gets its gradient through autograd, also beside a frozen weight.
TEST(Linear, FusedAccumulationBypassesAutograd) {
  if (!cpu_gemm_enabled()) GTEST_SKIP() << "the products are on ATen (" << linear_backend() << ")";
  at::Tensor w = at::randn({3, 4}).requires_grad_(true), b = at::zeros({3}).requires_grad_(true);
  w.mutable_grad() = at::zeros({3, 4});
  b.mutable_grad() = at::zeros({3});
  int seen = 0;
  auto count = [&](const at::Tensor& g) {
    if (g.defined()) ++seen;  // libtorch 2 also calls it with an undefined gradient
    return g;
  };
  w.register_hook(count);
  b.register_hook(count);
  const at::Tensor x = at::randn({6, 4});
  linear(x, w, b).sum().backward();
  EXPECT_EQ(seen, 0);
  expect_close(w.grad(), at::ones({6, 3}).t().mm(x), "dw");
  expect_close(b.grad(), at::full({3}, 6.0), "db");

  // 600 rows: the bias gradient sums them in three slices, without the weight's product.
  const at::Tensor frozen = at::randn({3, 4}), xs = at::randn({600, 4}), gy = at::randn({600, 3});
  at::Tensor b2 = at::zeros({3}).requires_grad_(true);
  b2.register_hook(count);
  linear(xs, frozen, b2).backward(gy);
  EXPECT_EQ(seen, 1);
  EXPECT_FALSE(frozen.grad().defined());
  expect_close(b2.grad(), gy.to(at::kDouble).sum(0).to(at::kFloat), "db beside a frozen weight");
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
