#include "model/softmax_rows.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace disttune {
namespace {

// Every kernel form against ATen's softmax and softmax backward, for row lengths around the
// vector widths (tails of every size), with a per-column bias row, a full bias and masked
// columns (the lowest float, as padding_bias writes), which must get exactly 0.
TEST(SoftmaxRows, MatchATenForEveryKernelAndLength) {
  at::manual_seed(4);
  const float lowest = std::numeric_limits<float>::lowest();
  for (CpuIsa isa : cpu_isas_available()) {
    for (int64_t n : {1, 5, 7, 8, 9, 16, 17, 31, 48, 100}) {
      const int64_t rows = 6;
      const at::Tensor x = at::randn({rows, n}) * 4;
      at::Tensor row_bias = at::zeros({n});
      if (n > 2) row_bias.narrow(0, n - 2, 2).fill_(lowest);  // the last two columns masked
      const at::Tensor full_bias = at::randn({rows, n});
      const std::string what = cpu_isa_name(isa) + ", n " + std::to_string(n);

      const at::Tensor want = at::softmax(x + row_bias + full_bias, -1);
      at::Tensor got = x.clone();
      bias_softmax_rows(got.data_ptr<float>(), rows, n, row_bias.data_ptr<float>(), full_bias.data_ptr<float>(),
                        isa);
      EXPECT_LT((got - want).abs().max().item<double>(), 1e-6) << what;
      if (n > 2) {
        EXPECT_TRUE(got.narrow(1, n - 2, 2).eq(0).all().item<bool>()) << what;
      }
      EXPECT_LT((got.sum(1) - 1).abs().max().item<double>(), 1e-6) << what;

      at::Tensor plain = x.clone();  // no biases
      bias_softmax_rows(plain.data_ptr<float>(), rows, n, nullptr, nullptr, isa);
      EXPECT_LT((plain - at::softmax(x, -1)).abs().max().item<double>(), 1e-6) << what;

      const at::Tensor dy = at::randn({rows, n});
      const at::Tensor want_dx = at::_softmax_backward_data(dy, want, -1, at::kFloat);
      at::Tensor dx = dy.clone();
      softmax_backward_rows(dx.data_ptr<float>(), want.data_ptr<float>(), rows, n, isa);
      EXPECT_LT((dx - want_dx).abs().max().item<double>(), 1e-6) << what;
    }
  }
}

// Large score ranges: no overflow, and exp over differences down to -80 within
// float rounding of the exact value.
TEST(SoftmaxRows, ExtremeScores) {
  for (CpuIsa isa : cpu_isas_available()) {
    at::Tensor x = at::tensor({80.0f, 0.0f, -7.0f, 79.0f, -1e30f, 50.0f, 88.0f, -86.0f, 0.5f}).view({1, 9});
    const at::Tensor want = at::softmax(x.to(at::kDouble), -1).to(at::kFloat);
    bias_softmax_rows(x.data_ptr<float>(), 1, 9, nullptr, nullptr, isa);
    EXPECT_TRUE(at::allclose(x, want, 1e-5, 1e-30)) << cpu_isa_name(isa) << ": " << x << " vs " << want;
    const at::Tensor r = at::linspace(-80, 0, 2000).view({1, 2000});
    at::Tensor e = r.clone();
    // softmax of [r, 0] with the 0 dominating: ratios exp(r) against the double-precision exp.
    bias_softmax_rows(e.data_ptr<float>(), 1, 2000, nullptr, nullptr, isa);
    const at::Tensor ratio = e / e.select(1, 1999);
    const at::Tensor exact = at::exp(r.to(at::kDouble)).to(at::kFloat);
    EXPECT_TRUE(at::allclose(ratio, exact, 2e-6, 0)) << cpu_isa_name(isa);
  }
}

}  // namespace
}  // namespace disttune
