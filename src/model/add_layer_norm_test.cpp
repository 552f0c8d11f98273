#include "model/add_layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "model/autocast.h"

namespace disttune {
namespace {

struct Grads {
  at::Tensor out, dy, dx, dw, db;
};

// LayerNorm(y + x) by ATen's own ops in float64, from the same values, and its gradients for
// upstream gradients g_out (of the result) and g_low (of its bf16 copy; they add).
Grads reference(const at::Tensor& y, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps,
                const at::Tensor& g_out, const at::Tensor& g_low) {
  const at::Tensor y64 = y.to(at::kDouble).requires_grad_(true), x64 = x.to(at::kDouble).requires_grad_(true);
  const at::Tensor w64 = w.to(at::kDouble).requires_grad_(true), b64 = b.to(at::kDouble).requires_grad_(true);
  const at::Tensor out = at::layer_norm(y64 + x64, {x.size(-1)}, w64, b64, eps);
  at::Tensor g = g_out.to(at::kDouble);
  if (g_low.defined()) g = g + g_low.to(at::kDouble);
  out.backward(g);
  return {out.detach(), y64.grad(), x64.grad(), w64.grad(), b64.grad()};
}

void expect_close(const at::Tensor& got, const at::Tensor& want, double rel, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << ": undefined";
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = 1 + want.abs().max().item<double>();
  const double err = (got.to(at::kDouble) - want).abs().max().item<double>();
  EXPECT_LT(err, rel * scale) << what << ": max |difference| " << err;
}

// Within one bf16 rounding of the float64 value (2^-8 relative bounds half a step), plus the
// float32 arithmetic's own error.
void expect_rounded_once(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.scalar_type(), at::kBFloat16) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const at::Tensor excess = (got.to(at::kDouble) - want).abs() - want.abs() * std::ldexp(1.0, -8);
  EXPECT_LT(excess.max().item<double>(), 1e-5 * (1 + want.abs().max().item<double>())) << what;
}

// A float32 product (no autocast): ATen's in-place sum and LayerNorm, no bf16 copy. 300 rows
// of 37 and of 384 (MiniLM's width), with a large mean.
TEST(AddLayerNorm, Float32ProductMatchesFloat64) {
  at::manual_seed(21);
  for (int64_t H : {37, 384}) {
    const at::Tensor y = at::randn({3, 100, H}), x = at::randn({3, 100, H}) * 3 + 40;
    const at::Tensor w = at::randn({H}), b = at::randn({H});
    const at::Tensor g = at::randn({3, 100, H});
    const Grads want = reference(y, x, w, b, 1e-12, g, at::Tensor());
    const at::Tensor yv = y.clone().requires_grad_(true), xv = x.clone().requires_grad_(true);
    const at::Tensor wv = w.clone().requires_grad_(true), bv = b.clone().requires_grad_(true);
    const MixedStates got = add_layer_norm(yv * 1, xv, wv, bv, 1e-12);
    EXPECT_FALSE(got.low.defined()) << "a bf16 copy without autocast";
    ASSERT_EQ(got.full.scalar_type(), at::kFloat);
    got.full.backward(g);
    const std::string what = "H " + std::to_string(H) + ": ";
    expect_close(got.full, want.out, 1e-5, what + "out");
    expect_close(yv.grad(), want.dy, 1e-4, what + "d y");
    expect_close(xv.grad(), want.dx, 1e-4, what + "d x");
    expect_close(wv.grad(), want.dw, 1e-5, what + "d w");
    expect_close(bv.grad(), want.db, 1e-5, what + "d b");
  }
}

// Under bf16 autocast: y is a bf16 product. The result is float32 and its bf16 copy is that
// result rounded (what autocast's cast would give the next product); the gradients of both
// join, y's gradient comes back in bf16 rounded once, the stream's and the parameters' in
// float32. Also with the copy unused (the last layer's): only the result's gradient. 300
// rows (several parallel tasks, so the column sums of dw and db combine across threads, and
// more than one 32-row float32 block per task) of 37 (a tail after the vector loops) and of
// 384; a large mean, where a one-pass variance would cancel.
TEST(AddLayerNorm, Bf16ProductUnderAutocast) {
  at::manual_seed(22);
  for (int64_t H : {37, 384}) {
  for (bool copy_used : {true, false}) {
    const at::Tensor y = at::randn({300, H}).to(at::kBFloat16), x = at::randn({300, H}) * 3 + 40;
    const at::Tensor w = at::randn({H}), b = at::randn({H});
    const at::Tensor g_out = at::randn({300, H});
    const at::Tensor g_low = copy_used ? at::randn({300, H}).to(at::kBFloat16) : at::Tensor();
    const Grads want = reference(y, x, w, b, 1e-12, g_out, g_low);
    const at::Tensor yv = y.clone().requires_grad_(true), xv = x.clone().requires_grad_(true);
    const at::Tensor wv = w.clone().requires_grad_(true), bv = b.clone().requires_grad_(true);
    MixedStates got;
    {
      AutocastScope autocast(true, at::kBFloat16, at::kCPU);
      got = add_layer_norm(yv * 1, xv, wv, bv, 1e-12);
    }
    ASSERT_TRUE(got.low.defined()) << "no bf16 copy under autocast";
    ASSERT_EQ(got.full.scalar_type(), at::kFloat);
    EXPECT_TRUE(at::equal(got.low, got.full.to(at::kBFloat16))) << "the copy is not the result rounded";
    at::Tensor loss = (got.full * g_out).sum();
    if (copy_used) loss = loss + (got.low * g_low).sum();
    loss.backward();
    const std::string what = "H " + std::to_string(H) + (copy_used ? ", copy used: " : ", copy unused: ");
    expect_close(got.full, want.out, 1e-5, what + "out");
    expect_rounded_once(yv.grad(), want.dy, what + "d y");
    expect_close(xv.grad(), want.dx, 1e-4, what + "d x");
    expect_close(wv.grad(), want.dw, 1e-5, what + "d w");
    expect_close(bv.grad(), want.db, 1e-5, what + "d b");
  }
  }
}

// Tensors the kernel does not take (a non-contiguous y) give the same values through ATen
// (which may sum into y's buffer: it gets a copy of the same strides).
TEST(AddLayerNorm, OtherLayoutsRunATen) {
  at::manual_seed(23);
  const at::Tensor y = at::randn({40, 16}).t(), x = at::randn({16, 40});
  const at::Tensor w = at::randn({40}), b = at::randn({40});
  const at::Tensor y_copy = y.clone();
  ASSERT_FALSE(y_copy.is_contiguous());
  const MixedStates got = add_layer_norm(y_copy, x, w, b, 1e-5);
  const Grads want = reference(y, x, w, b, 1e-5, at::zeros({16, 40}), at::Tensor());
  expect_close(got.full, want.out, 1e-5, "out");
  EXPECT_FALSE(got.low.defined());
}

}  // namespace
}  // namespace disttune
