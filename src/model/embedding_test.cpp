#include "model/embedding.h"

#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

namespace disttune {
namespace {

void expect_rows_close(const at::Tensor& a, const at::Tensor& b, const char* what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5) << what;
}

// at::embedding's values and gradients (the padding row gets none), whether the weight's
// .grad is absent (a dense gradient is returned) or allocated (rows added in place), with
// ids repeated within and across two lookups.
TEST(Embedding, MatchesAtEmbeddingWithAndWithoutAllocatedGrad) {
  at::manual_seed(11);
  const at::Tensor w0 = at::randn({50, 8});
  const at::Tensor ids1 = at::tensor({3, 0, 3, 49, 7, 0}, at::kLong).view({2, 3});
  const at::Tensor ids2 = at::tensor({7, 7, 12, 0}, at::kLong);
  const at::Tensor g1 = at::randn({2, 3, 8}), g2 = at::randn({4, 8});
  for (const int64_t pad : {int64_t{-1}, int64_t{0}, int64_t{7}}) {
    for (const bool allocated : {false, true}) {
      auto run = [&](bool reference) {
        at::Tensor w = w0.clone().requires_grad_(true);
        if (allocated) w.mutable_grad() = at::ones_like(w0);
        auto f = [&](const at::Tensor& ids) {
          return reference ? at::embedding(w, ids, pad) : embedding_lookup(w, ids, pad);
        };
        const at::Tensor y1 = f(ids1), y2 = f(ids2);
        (y1 * g1).sum().add((y2 * g2).sum()).backward();
        return std::vector<at::Tensor>{y1.detach(), y2.detach(), w.grad()};
      };
      const auto got = run(false), want = run(true);
      SCOPED_TRACE(testing::Message() << "padding_idx " << pad << (allocated ? ", .grad allocated" : ""));
      expect_rows_close(got[0], want[0], "rows of the 2-d ids");
      expect_rows_close(got[1], want[1], "rows of the 1-d ids");
      expect_rows_close(got[2], want[2], "weight gradient");
    }
  }
}

// The fused path is the one taken when .grad is allocated: no gradient reaches the weight's
// autograd accumulator (a hook there would see it), yet .grad holds the rows' gradients.
// (libtorch 2 calls a leaf's hooks with an undefined gradient where 1.13 skipped them.)
TEST(Embedding, AllocatedGradBypassesAutogradAccumulation) {
  at::Tensor w = at::zeros({5, 2}).requires_grad_(true);
  w.mutable_grad() = at::zeros({5, 2});
  int seen = 0;
  w.register_hook([&](const at::Tensor& g) {
    if (g.defined()) ++seen;
    return g;
  });
  embedding_lookup(w, at::tensor({4, 4, 1}, at::kLong)).sum().backward();
  EXPECT_EQ(seen, 0);
  EXPECT_TRUE(at::equal(w.grad().sum(1), at::tensor({0.f, 2.f, 0.f, 0.f, 4.f})));
}

// An in-place add on the lookup (the position embeddings' add) is allowed and differentiable;
// without a gradient it is a plain lookup.
TEST(Embedding, OutputTakesInPlaceAddsAndNoGradLookups) {
  const at::Tensor w = at::arange(12, at::kFloat).view({4, 3}).requires_grad_(true);
  const at::Tensor ids = at::tensor({1, 3}, at::kLong);
  at::Tensor y = embedding_lookup(w, ids).add_(at::ones({2, 3}));
  y.sum().backward();
  EXPECT_TRUE(at::equal(w.grad().sum(1), at::tensor({0.f, 3.f, 0.f, 3.f})));
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(embedding_lookup(w, ids), w.detach().index_select(0, ids)));
}

}  // namespace
}  // namespace disttune
