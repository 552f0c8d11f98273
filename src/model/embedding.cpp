#include "model/embedding.h"

#include <vector>

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/check.h"
#include "model/grad_accumulate.h"

namespace disttune {
namespace {

// into[ids[i]] += g[i] for the rows whose id is not padding_idx. On the CPU in float32 each
// thread owns a range of vocabulary rows and scans all ids, so no two threads add to one row
// and the sum order is the ids' order (deterministic); elsewhere index_add_.
void scatter_add_rows(at::Tensor& into, const at::Tensor& ids, at::Tensor g, int64_t padding_idx) {
  if (into.device().is_cpu() && into.scalar_type() == at::kFloat && g.scalar_type() == at::kFloat) {
    const at::Tensor idc = ids.to(at::kLong).contiguous();
    g = g.contiguous();
    const int64_t n = idc.numel(), H = into.size(1), V = into.size(0);
    const int64_t* id = idc.data_ptr<int64_t>();
    const float* src = g.data_ptr<float>();
    float* dst = into.data_ptr<float>();
    at::parallel_for(0, V, 1024, [&](int64_t lo, int64_t hi) {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t r = id[i];
        if (r < lo || r >= hi || r == padding_idx) continue;
        float* d = dst + r * H;
        const float* s = src + i * H;
        for (int64_t j = 0; j < H; ++j) d[j] += s[j];
      }
    });
    return;
  }
  if (padding_idx >= 0) g = g.masked_fill(ids.eq(padding_idx).unsqueeze(-1), 0);
  into.index_add_(0, ids, g.to(into.scalar_type()));
}

struct Embedding : public torch::autograd::Function<Embedding> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& weight,
                            const at::Tensor& ids, int64_t padding_idx) {
    ctx->save_for_backward({weight, ids});
    ctx->saved_data["padding_idx"] = padding_idx;
    // Created in its final shape: a view as output would forbid the in-place adds that
    // follow a lookup (the position embeddings).
    std::vector<int64_t> shape = ids.sizes().vec();
    shape.push_back(weight.size(1));
    at::Tensor out = at::empty(shape, weight.options());
    at::Tensor rows = out.view({-1, weight.size(1)});
    at::index_select_out(rows, weight, 0, ids.reshape({-1}));
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& weight = saved[0];
    const at::Tensor ids = saved[1].reshape({-1});
    const int64_t padding_idx = ctx->saved_data["padding_idx"].toInt();
    const at::Tensor g = grads[0].reshape({ids.numel(), weight.size(1)});
    at::Tensor into = accumulation_target(weight);
    if (into.defined()) {
      scatter_add_rows(into, ids, g, padding_idx);
      return {at::Tensor(), at::Tensor(), at::Tensor()};
    }
    at::Tensor dw = at::zeros_like(weight, at::MemoryFormat::Contiguous);
    scatter_add_rows(dw, ids, g, padding_idx);
    return {dw, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor embedding_lookup(const at::Tensor& weight, const at::Tensor& ids, int64_t padding_idx) {
  DT_CHECK(weight.dim() == 2, "embedding: weight must be [rows, dim]");
  if (!weight.requires_grad() || !at::GradMode::is_enabled()) return at::embedding(weight, ids, padding_idx);
  return Embedding::apply(weight, ids, padding_idx);
}

}  // namespace disttune
