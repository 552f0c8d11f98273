// MultipleNegativesRankingLoss over the global batch (InfoNCE with in-batch negatives), with
// sentence-transformers' interaction directions, partition modes and hardness weighting.
//
// Columns: anchor (query), positive (document), then any number of hard-negative columns.
// Every column is all-gathered, so this rank's query i (global row g) is scored, similarity x
// scale (cosine, or dot products with `dot`, sentence-transformers' similarity_fct), against
// the GLOBAL batch in global row order:
//  - query_to_doc (always): against [all positives | all negative_1 | ...]; the positive pair
//    (q_g, p_g) is the target;
//  - query_to_query: against every other query;
//  - doc_to_query: its positive p_g against every query;
//  - doc_to_doc: p_g against every document except those of row g (its positive and negatives).
// joint: one softmax over the selected directions' scores together; per_direction: one
// softmax per direction, the log-normalisers averaged (query_to_query and doc_to_doc are
// refused there: their candidates hold no positive). loss_i = log Z_i - s(q_g, p_g), averaged
// over the global batch. Hardness (Lan et al. 2025; EmbeddingGemma) adds strength x
// stop_grad(similarity) to query_to_doc's negative logits: in_batch_negatives those of other
// rows, hard_negatives row g's own negatives, all_negatives both. `symmetric` is
// MultipleNegativesSymmetricRankingLoss: {query_to_doc, doc_to_query}, per_direction.
#pragma once

#include "train/loss.h"

namespace disttune {

class Mnrl final : public Loss {
 public:
  enum Direction : unsigned { QueryToDoc = 1, QueryToQuery = 2, DocToQuery = 4, DocToDoc = 8 };
  enum class Hardness { None, InBatchNegatives, HardNegatives, AllNegatives };
  struct Options {
    double scale = 20.0;
    bool dot = false;
    unsigned directions = QueryToDoc;  // a set of Direction bits, QueryToDoc among them
    bool per_direction = false;
    Hardness hardness = Hardness::None;
    double hardness_strength = 0.0;
  };
  explicit Mnrl(const Options& o);
  explicit Mnrl(double scale = 20.0, bool symmetric = false, bool dot = false);
  std::string name() const override;
  at::Tensor forward(Dist& d, const LossBatch& batch) override;
  int min_columns() const override { return 2; }
  int max_columns() const override { return -1; }
  double scale() const { return o_.scale; }
  const Options& options() const { return o_; }
  // The symmetric loss: {query_to_doc, doc_to_query} per direction, no hardness.
  bool symmetric() const;

 private:
  at::Tensor similarity(const at::Tensor& a, const at::Tensor& b) const;  // [rows of a, rows of b], unscaled
  Options o_;
};

// "query_to_doc" ... (the values of loss.directions) as Direction bits; "in_batch_negatives"
// ... (loss.hardness_mode) as Hardness. Throw UserError otherwise.
Mnrl::Direction parse_mnrl_direction(const std::string& s);
Mnrl::Hardness parse_mnrl_hardness(const std::string& s);

}  // namespace disttune
