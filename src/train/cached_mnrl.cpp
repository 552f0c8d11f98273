#include "train/cached_mnrl.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include "common/check.h"
#include "train/rng_state.h"

namespace disttune {

CachedMnrl::CachedMnrl(std::unique_ptr<Loss> inner, int64_t mini_batch_size)
    : inner_(std::move(inner)), mini_batch_(mini_batch_size) {
  DT_CHECK(inner_ != nullptr, "CachedMnrl needs an inner loss");
  DT_CHECK(mini_batch_ >= 0, "CachedMnrl: negative mini-batch size");
}

at::Tensor CachedMnrl::forward(Dist& d, const LossBatch& batch) { return inner_->forward(d, batch); }

double CachedMnrl::step(Dist& d, const EmbedFn& embed, int roles, int64_t rows,
                        const at::Tensor& labels, double grad_scale) {
  DT_CHECK(roles >= inner_->min_columns() &&
               (inner_->max_columns() < 0 || roles <= inner_->max_columns()),
           "cached_mnrl: ", roles, " roles");
  // The embedding width comes from the callback, so a rank needs at least one row (the
  // global batch divides over the ranks, so every rank has rows).
  DT_CHECK(rows > 0, "cached_mnrl: this rank holds no rows");
  const int64_t mb = mini_batch_ > 0 ? mini_batch_ : std::max<int64_t>(rows, 1);
  struct Chunk {
    int role;
    int64_t begin, end;
    RngState rng;
  };
  std::vector<Chunk> chunks;

  // 1. Embeddings without a graph; the loss is computed in float32 on leaves of their own.
  LossBatch batch;
  batch.labels = labels;
  {
    at::NoGradGuard no_grad;
    for (int role = 0; role < roles; ++role) {
      std::vector<at::Tensor> parts;
      for (int64_t b = 0; b < rows; b += mb) {
        const int64_t e = std::min(rows, b + mb);
        chunks.push_back({role, b, e, capture_rng()});
        at::Tensor emb = embed(role, b, e);
        DT_CHECK(emb.dim() == 2 && emb.size(0) == e - b, "cached_mnrl: the embed callback returned ",
                 emb.sizes(), " for rows [", b, ", ", e, ")");
        parts.push_back(emb);
      }
      at::Tensor col = at::cat(parts, 0);
      batch.columns.push_back(col.to(at::kFloat).detach().requires_grad_(true));
    }
  }
  const RngState after_first_pass = capture_rng();

  // 2. Loss on the global batch and d(share)/d(own embeddings); the gather's backward
  // brings in what other ranks' anchors contribute to this rank's rows.
  at::Tensor loss = inner_->forward(d, batch);
  torch::autograd::backward({loss});

  // 3. Re-embed with the graph and push the cached gradients into the parameters.
  for (const Chunk& c : chunks) {
    at::Tensor grad = batch.columns[c.role].grad();
    DT_CHECK(grad.defined(), "cached_mnrl: no gradient reached role ", c.role);
    restore_rng(c.rng);
    at::Tensor emb = embed(c.role, c.begin, c.end);
    if (!emb.requires_grad()) continue;  // nothing trainable behind this role
    at::Tensor g = grad.narrow(0, c.begin, c.end - c.begin);
    if (grad_scale != 1.0) g = g * grad_scale;
    torch::autograd::backward({emb}, {g.to(emb.scalar_type())});
  }
  // Randomness continues from where the first pass left it, as if each row were embedded once.
  restore_rng(after_first_pass);
  return loss.item<double>();
}

}  // namespace disttune
