// ModelScorer: the NegativeScorer of `mine-negatives --method model` — candidates scored by
// the cosine similarity of a model's embeddings, as sentence-transformers'
// util.mine_hard_negatives scores them (model.similarity, cosine by default).
//
// prepare() embeds the anchors sharded and gathers them (every rank holds all query
// embeddings) and embeds the corpus sharded (each rank keeps only its own documents, with
// Embedder's job-wide batch grid, so a document's embedding is the same bits at any world
// size). top_k() scores a block of anchors against the local documents in memory-bounded
// chunks and merges the ranks' top-k lists (eval/topk.h); score_pairs() lets the rank owning
// each document score it. Scores are dot products of L2-normalised rows in the fixed
// summation order of eval/dot_kernel.h, so results do not depend on the world size.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "data/mining.h"
#include "embed/embedder.h"

namespace disttune {

struct ModelScorerOptions {
  EncodeOptions query;       // batch size, max length and prompt of the anchors
  EncodeOptions corpus;      // ... and of the candidate documents
  int64_t chunk_rows = 16384;  // documents scored at once per rank
};

class ModelScorer final : public NegativeScorer {
 public:
  // `embedder` must outlive the scorer.
  ModelScorer(Embedder& embedder, ModelScorerOptions options);
  std::string name() const override { return "model"; }
  void prepare(Dist& d, const std::vector<std::string>& queries,
               const std::vector<std::string>& corpus) override;
  std::vector<std::vector<ScoredDoc>> top_k(Dist& d, int64_t begin, int64_t end,
                                            int64_t k) override;
  std::vector<float> score_pairs(Dist& d,
                                 const std::vector<std::pair<int64_t, int64_t>>& pairs) override;

 private:
  Embedder& embedder_;
  ModelScorerOptions options_;
  at::Tensor queries_;      // [Q, D] unit rows, every rank
  at::Tensor docs_;         // [n_local, D] unit rows, this rank's documents
  at::Tensor doc_indices_;  // [n_local] global corpus indices
  std::vector<int64_t> local_row_;  // corpus index -> row of docs_, or -1 (another rank's)
};

}  // namespace disttune
