// sentence-transformers' TripletEvaluator on embeddings: the fraction of (anchor, positive,
// negative) triplets with cos(a, p) > cos(a, n) + margin, named `cosine_accuracy`. Rows
// may be split across ranks in any way; the counts are summed over the ranks.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dist/dist.h"

namespace disttune {

struct TripletEvalOptions {
  double margin = 0.0;         // sentence-transformers' margin (default 0)
  std::vector<int64_t> dims;   // Matryoshka dimensions besides the full one: dim_<d>_cosine_accuracy
  std::string name;            // prefix "<name>_"
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
