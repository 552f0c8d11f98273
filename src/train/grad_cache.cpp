#include "train/grad_cache.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include "common/check.h"
#include "dist/dist.h"
#include "model/rng_state.h"
#include "train/matryoshka.h"

namespace disttune {

GradCache::GradCache(std::unique_ptr<Loss> inner, int64_t mini_batch_size, int64_t keep_last_budget)
    : WrappedLoss(std::move(inner)), mini_batch_(mini_batch_size), keep_last_budget_(keep_last_budget) {
  DT_CHECK(mini_batch_ >= 0, "GradCache: negative mini-batch size");
}

bool GradCache::keeps_last(int64_t rows, int roles, int world_size) const {
  // The inner loss's matrices of this rank's rows against every rank's (float32).
  const double bytes =
      4.0 * static_cast<double>(rows) * static_cast<double>(rows) * world_size * inner_->loss_matrices(roles);
  return bytes <= static_cast<double>(keep_last_budget_);
}

std::string GradCache::name() const {
  const Loss* base = inner_.get();
  if (const auto* m = dynamic_cast<const Matryoshka*>(base)) base = &m->inner();
  const std::string cached = "cached_" + base->name();
  return base == inner_.get() ? cached : cached + "(" + inner_->name() + ")";
}

at::Tensor GradCache::forward(Dist& d, const LossBatch& batch) { return inner_->forward(d, batch); }

double GradCache::step(Dist& d, const EmbedFn& embed, int roles, int64_t rows,
                       const at::Tensor& labels, double grad_scale, const std::vector<at::Tensor>& guide) {
  DT_CHECK(roles >= inner_->min_columns() &&
               (inner_->max_columns() < 0 || roles <= inner_->max_columns()),
           name(), ": ", roles, " roles");
  DT_CHECK(rows >= 0, name(), ": ", rows, " rows");
  const int64_t mb = mini_batch_ > 0 ? mini_batch_ : std::max<int64_t>(rows, 1);
  struct Chunk {
    int role;
    int64_t begin, end;
    RngState rng;
  };
  std::vector<Chunk> chunks;

  // 1. Embeddings without a graph, but for the last mini-batch when keeps_last(): its graph
  // is kept and backpropagated first in 3 instead of being embedded again (nothing else is
  // embedded before it is freed, so callbacks may reuse their buffers). The loss is computed
  // in float32 on leaves of their own.
  LossBatch batch;
  batch.labels = labels;
  batch.guide = guide;
  const bool keep = rows > 0 && keeps_last(rows, roles, d.world_size) && at::GradMode::is_enabled();
  at::Tensor kept;  // the last mini-batch's embeddings, with their graph, and its first row
  int64_t kept_begin = 0;
  for (int role = 0; role < roles; ++role) {
    std::vector<at::Tensor> parts;
    if (rows == 0) {
      // A short batch (an epoch's last, a no_duplicates tail, the partial micro-batch of an
      // accumulation step) can leave a rank no rows. It still takes part in the loss's
      // collectives, with zero-row embeddings whose width and type the callback gives
      // (Trainer::embed_ids runs a real forward for them), and has nothing to backpropagate.
      at::NoGradGuard no_grad;
      parts.push_back(embed(role, 0, 0));
    }
    for (int64_t b = 0; b < rows; b += mb) {
      const int64_t e = std::min(rows, b + mb);
      const bool last = keep && role == roles - 1 && e == rows;
      if (!last) chunks.push_back({role, b, e, capture_rng()});
      at::Tensor emb;
      {
        at::AutoGradMode grad_mode(last);
        emb = embed(role, b, e);
      }
      DT_CHECK(emb.dim() == 2 && emb.size(0) == e - b, name(), ": the embed callback returned ",
               emb.sizes(), " for rows [", b, ", ", e, ")");
      if (last) {
        kept = emb;
        kept_begin = b;
      }
      parts.push_back(emb.detach());
    }
    at::Tensor col = at::cat(parts, 0);
    batch.columns.push_back(col.to(at::kFloat).requires_grad_(true));
  }
  const RngState after_first_pass = capture_rng();

  // 2. Loss on the global batch and d(share)/d(own embeddings); the gather's backward
  // brings in what other ranks' anchors contribute to this rank's rows.
  at::Tensor loss = inner_->forward(d, batch);
  torch::autograd::backward({loss});

  // 3. Push the cached gradients into the parameters: the kept mini-batch first, then the
  // others re-embedded with the graph.
  auto backprop = [&](const at::Tensor& emb, int role, int64_t begin, int64_t end) {
    if (!emb.requires_grad()) return;  // nothing trainable behind this role
    at::Tensor grad = batch.columns[role].grad();
    DT_CHECK(grad.defined(), name(), ": no gradient reached role ", role);
    at::Tensor g = grad.narrow(0, begin, end - begin);
    if (grad_scale != 1.0) g = g * grad_scale;
    torch::autograd::backward({emb}, {g.to(emb.scalar_type())});
  };
  if (keep) backprop(kept, roles - 1, kept_begin, rows);
  kept.reset();
  for (const Chunk& c : chunks) {
    restore_rng(c.rng);
    backprop(embed(c.role, c.begin, c.end), c.role, c.begin, c.end);
  }
  // Randomness continues from where the first pass left it, as if each row were embedded once.
  restore_rng(after_first_pass);
  return loss.item<double>();
}

}  // namespace disttune
