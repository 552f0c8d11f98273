// Bm25Scorer: the NegativeScorer of `mine-negatives --method bm25`. Every rank builds the
// same Bm25Index over the candidate corpus (seconds for a million short documents); each
// top_k step splits its queries into contiguous rank slices, searched with the rank's
// threads, and gathers them to rank 0. BM25 results per query do not depend on the slice,
// so the mined file is the same for any world size.
#pragma once

#include <memory>

#include "data/bm25.h"
#include "data/mining.h"

namespace disttune {

class Bm25Scorer final : public NegativeScorer {
 public:
  explicit Bm25Scorer(Bm25Options options = {}) : options_(options) {}
  std::string name() const override { return "bm25"; }
  // Keeps a reference to `queries`: it must outlive the searches.
  void prepare(Dist& d, const std::vector<std::string>& queries,
               const std::vector<std::string>& corpus) override;
  std::vector<std::vector<ScoredDoc>> top_k(Dist& d, int64_t begin, int64_t end,
                                            int64_t k) override;
  // Computed on rank 0 (cheap: a binary search per query term).
  std::vector<float> score_pairs(Dist& d,
                                 const std::vector<std::pair<int64_t, int64_t>>& pairs) override;

 private:
  Bm25Options options_;
  std::unique_ptr<Bm25Index> index_;
  const std::vector<std::string>* queries_ = nullptr;
};

}  // namespace disttune
