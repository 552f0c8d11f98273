#include "model/dropout.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace disttune {
namespace {

// Random123's known-answer vectors (kat_vectors, "philox4x32 10": counter, key, result).
TEST(Dropout, PhiloxMatchesKnownAnswers) {
  using C = std::array<uint32_t, 4>;
  using K = std::array<uint32_t, 2>;
  EXPECT_EQ(philox4x32_10(C{0, 0, 0, 0}, K{0, 0}), (C{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10(C{~0u, ~0u, ~0u, ~0u}, K{~0u, ~0u}), (C{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32_10(C{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, K{0xa4093822, 0x299f31d0}),
            (C{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// The vector kernel's mask is the documented function of (key, index): element i keeps its
// value when word (i mod 64) / 16 of the counter (i / 64) * 16 + i mod 16 is below
// round((1 - p) 2^32), for every kernel this CPU runs. 1000 elements: whole blocks and a
// tail; a key with both halves set.
TEST(Dropout, MaskIsPhiloxOfTheElementIndex) {
  const uint64_t key = 0x0123456789abcdefull;
  const at::Tensor x = at::arange(1, 1001, at::kFloat).view({10, 100});
  for (CpuIsa isa : cpu_isas_available())
    for (double p : {0.1, 0.5, 0.9}) {
      const std::string kernel = cpu_isa_name(isa);
      const DropoutDraw d = dropout_draw(x, p, key, isa);
      ASSERT_EQ(d.keep.sizes(), x.sizes());
      const uint8_t* keep = d.keep.data_ptr<uint8_t>();
      const float* out = d.out.data_ptr<float>();
      const auto threshold = static_cast<uint64_t>(std::nearbyint((1.0 - p) * 4294967296.0));
      int64_t mismatches = 0;
      for (int64_t i = 0; i < 1000; ++i) {
        const uint64_t c = static_cast<uint64_t>(i / 64 * 16 + i % 16);
        const auto words = philox4x32_10({static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0, 0},
                                         {static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32)});
        const bool want = words[(i % 64) / 16] < threshold;
        mismatches += keep[i] != want;
        const float value = want ? static_cast<float>(i + 1) * static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
        mismatches += out[i] != value;
      }
      EXPECT_EQ(mismatches, 0) << kernel << ", p " << p;
    EXPECT_TRUE(at::equal(dropout_mask(x.sizes(), p, key), d.keep)) << kernel << ", p " << p;
    }
}

// Drop rates within 5 standard deviations of p overall, per word of the Philox output and
// for neighbouring pairs (p^2 both dropped); the scaled output keeps the mean.
TEST(Dropout, DropsAtRatePWithoutPattern) {
  at::manual_seed(3);
  const int64_t n = 1 << 22;
  for (double p : {0.1, 0.5}) {
    const at::Tensor y = dropout(at::ones({n}), p);
    const at::Tensor dropped = (y == 0).to(at::kDouble);
    const double tol = 5 * std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(dropped.mean().item<double>(), p, tol) << "p " << p;
    EXPECT_NEAR(y.to(at::kDouble).mean().item<double>(), 1.0, 5 * std::sqrt(p / (1 - p) / n)) << "p " << p;
    const at::Tensor by_word = dropped.view({-1, 4, 16}).mean(at::IntArrayRef{0, 2});
    for (int w = 0; w < 4; ++w) EXPECT_NEAR(by_word[w].item<double>(), p, 2 * tol) << "word " << w;
    const double pairs = (dropped.narrow(0, 0, n - 1) * dropped.narrow(0, 1, n - 1)).mean().item<double>();
    EXPECT_NEAR(pairs, p * p, 5 * std::sqrt(p * p * (1 - p * p) / n)) << "p " << p;
    const at::Tensor kept = y.masked_select(y != 0);
    EXPECT_TRUE(at::allclose(kept, at::full_like(kept, 1.0 / (1.0 - p)))) << "p " << p;
  }
}

// Under one seed the same mask, whatever the thread count; the next call draws another;
// p = 0 returns x itself.
TEST(Dropout, DeterministicPerSeedAndIndependentOfThreads) {
  const at::Tensor x = at::randn({300, 700});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::manual_seed(42);
  const at::Tensor a = dropout(x, 0.1);
  const at::Tensor b = dropout(x, 0.1);
  at::set_num_threads(3);
  at::manual_seed(42);
  const at::Tensor a3 = dropout(x, 0.1);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(a, a3));
  EXPECT_FALSE(at::equal(a, b));
  EXPECT_TRUE(dropout(x, 0.0).is_same(x));
  EXPECT_THROW(dropout(x, 1.0), std::exception);
}

// The gradient is the upstream gradient through the same mask and scale; a non-contiguous
// input gives the values of its contiguous copy; float64 goes to at::dropout.
TEST(Dropout, BackwardUsesTheForwardMask) {
  at::manual_seed(8);
  const at::Tensor x = at::randn({64, 96}).t().requires_grad_(true);  // non-contiguous
  const at::Tensor g = at::randn({96, 64});
  at::manual_seed(9);
  const at::Tensor y = dropout(x, 0.3);
  y.backward(g);
  const at::Tensor keep = (y != 0).to(at::kFloat);
  EXPECT_TRUE(at::allclose(y, x.detach() * keep / 0.7));
  EXPECT_TRUE(at::allclose(x.grad(), g * keep / 0.7));
  at::manual_seed(9);
  EXPECT_TRUE(at::equal(dropout(x.detach().contiguous(), 0.3), y.detach()));

  const at::Tensor d = dropout(at::ones({1000}, at::kDouble), 0.5);
  EXPECT_EQ(d.scalar_type(), at::kDouble);
  EXPECT_TRUE(((d == 0) | (d == 2)).all().item<bool>());
}

// bf16 (CPU autocast): the float32 path's mask for the same seed, values x / (1 - p) rounded
// to nearest even as at::dropout's bf16 multiply rounds them (NaN kept or dropped to NaN,
// as x * 0), and a backward through the same mask in bf16.
TEST(Dropout, Bf16TakesTheFloatMaskAndRounding) {
  at::manual_seed(10);
  at::Tensor x32 = at::randn({37, 129});
  x32[0][0] = std::nanf("");
  const at::Tensor x = x32.to(at::kBFloat16).requires_grad_(true);
  const at::Tensor g = at::randn({37, 129}).to(at::kBFloat16);
  at::manual_seed(11);
  const at::Tensor y = dropout(x, 0.1);
  y.backward(g);
  at::manual_seed(11);
  const at::Tensor y32 = dropout(x.detach().to(at::kFloat), 0.1);
  ASSERT_EQ(y.scalar_type(), at::kBFloat16);
  const at::Tensor keep = (y32 != 0).logical_or(y32.isnan());
  EXPECT_TRUE(at::equal(y.to(at::kFloat).ne(0).logical_or(y.isnan()), keep));
  // x * keep * scale in float32, one rounding to bf16: what at::dropout's bf16 product gives.
  const at::Tensor want = (x.detach().to(at::kFloat) * keep.to(at::kFloat) * static_cast<float>(1.0 / 0.9)).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(y.detach().nan_to_num(7), want.nan_to_num(7)));
  EXPECT_TRUE(std::isnan(y[0][0].item<float>()));
  const at::Tensor want_g = (g.to(at::kFloat) * keep.to(at::kFloat) * static_cast<float>(1.0 / 0.9)).to(at::kBFloat16);
  ASSERT_EQ(x.grad().scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(x.grad(), want_g));
}

}  // namespace
}  // namespace disttune
