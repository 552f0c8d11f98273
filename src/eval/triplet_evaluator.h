// sentence-transformers' TripletEvaluator on embeddings: the fraction of (anchor, positive,
// negative) triplets with s(a, p) > s(a, n) + margin, s the model's similarity (cosine or
// dot), named `cosine_accuracy` / `dot_accuracy`. Rows may be split across ranks in any way;
// the counts are summed over the ranks.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dist/dist.h"
#include "eval/normalize.h"

namespace disttune {

struct TripletEvalOptions {
  double margin = 0.0;         // sentence-transformers' margin (default 0)
  std::vector<int64_t> dims;   // Matryoshka dimensions besides the full one: dim_<d>_cosine_accuracy
  std::string name;            // prefix "<name>_"
  ScoreFunction score = ScoreFunction::Cosine;
};

// The names evaluate_triplets returns, sorted.
std::vector<std::string> triplet_metric_names(const TripletEvalOptions& opt);

// anchors, positives, negatives: [n_local, D] each, this rank's triplets. A collective.
// The accuracy is rounded to float32 as sentence-transformers' `.float().mean()` does.
std::map<std::string, double> evaluate_triplets(Dist& d, const at::Tensor& anchors,
                                                const at::Tensor& positives,
                                                const at::Tensor& negatives,
                                                const TripletEvalOptions& opt = {});

}  // namespace disttune
