// GradCache: the gradients of a contrastive loss over a large global batch with the
// activation memory of one mini-batch. sentence-transformers' CachedMultipleNegatives-
// RankingLoss (`cached_mnrl`: around Mnrl) and CachedGISTEmbedLoss (`cached_gist`: around
// Gist, whose guide embeddings come in whole, computed without a graph).
//
// step():
//  1. embed this rank's rows of every role in mini-batches without a graph, remembering
//     the random state before each mini-batch;
//  2. compute the loss (the inner loss, or Matryoshka around it) on the cached embeddings
//     of the whole global batch (all-gathered) and its gradient w.r.t. this rank's
//     embeddings;
//  3. re-embed each mini-batch with the graph, its random state replayed so that dropout
//     draws the same masks, and backpropagate its cached embedding gradient into the
//     parameters.
// The last mini-batch is embedded with its graph in 1 already and backpropagated in 3
// without a second forward, unless the loss's matrices of 2 would be large (they and that
// graph are then held at once, where otherwise each is held alone). Of the roles x
// ceil(rows / mini-batch) embedding passes of 1, all but that one are repeated in 3.
// The parameter gradients and the loss equal those of the inner loss on the same batch.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/loss.h"

namespace disttune {

// Embeddings [end - begin, dim] of rows [begin, end) of one role (0 = anchor, 1 = positive,
// 2.. = negatives) of this rank's batch. Builds the graph when grad mode is on. Randomness
// (dropout) must come from the default generators, which step() snapshots and replays.
using EmbedFn = std::function<at::Tensor(int role, int64_t begin, int64_t end)>;

class GradCache final : public WrappedLoss {
 public:
  // `inner`: the loss on the cached embeddings (Mnrl or Gist, or Matryoshka around one).
  // `mini_batch_size` rows per embedding pass; 0 = the whole local batch at once.
  // `keep_last_budget`: the most bytes the loss's matrices may take (estimated from the
  // batch, step()) for the last mini-batch's graph to be kept through the loss.
  GradCache(std::unique_ptr<Loss> inner, int64_t mini_batch_size,
             int64_t keep_last_budget = kKeepLastBudget);
  // 64 MiB: a global batch of ~1000 pairs over 8 ranks, where the matrices are a few
  // MiB, keeps it; one of 65536 (GiBs of matrices, as much as a mini-batch's graph) does not.
  static constexpr int64_t kKeepLastBudget = int64_t{64} << 20;
  // "cached_" + the loss it caches, and what wraps that: "cached_mnrl(matryoshka(mnrl))".
  std::string name() const override;
  // The inner loss on embeddings that are already there (no caching), e.g. for evaluation.
  at::Tensor forward(Dist& d, const LossBatch& batch) override;

  // One GradCache pass over this rank's `rows` rows (0 where a short batch leaves it none)
  // of `roles` roles. Accumulates into the parameters' .grad the gradient of (this rank's
  // share x grad_scale), where grad_scale folds in the micro-batch's weight in the
  // accumulation step and the fp16 loss scale. Returns
  // this rank's share of the loss (unscaled). `guide`: the guide's embeddings of the rows,
  // per role, when the inner loss needs them. Every rank must call it (it all-gathers).
  double step(Dist& d, const EmbedFn& embed, int roles, int64_t rows,
              const at::Tensor& labels = {}, double grad_scale = 1.0,
              const std::vector<at::Tensor>& guide = {});

  int64_t mini_batch_size() const { return mini_batch_; }
  // Whether step() over `rows` rows of `roles` roles on `world_size` ranks keeps the last
  // mini-batch's graph (see the top of this file).
  bool keeps_last(int64_t rows, int roles, int world_size) const;

 private:
  int64_t mini_batch_;
  int64_t keep_last_budget_;
};

}  // namespace disttune
