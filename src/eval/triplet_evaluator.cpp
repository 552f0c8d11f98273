#include "eval/triplet_evaluator.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "eval/dot_kernel.h"
#include "eval/ir_metrics.h"
#include "eval/normalize.h"

namespace disttune {

std::map<std::string, double> evaluate_triplets(Dist& d, const at::Tensor& anchors,
                                                const at::Tensor& positives,
                                                const at::Tensor& negatives,
                                                const TripletEvalOptions& opt) {
  DT_REQUIRE(anchors.dim() == 2 && positives.sizes() == anchors.sizes() &&
                 negatives.sizes() == anchors.sizes(),
             "triplet evaluation: anchors ", anchors.sizes(), ", positives ", positives.sizes(),
             " and negatives ", negatives.sizes(), " must have the same [n, dim] shape");
  const int64_t full = anchors.size(1);
  for (int64_t dim : opt.dims)
    DT_REQUIRE(dim >= 1 && dim <= full, "triplet evaluation: Matryoshka dimension ", dim,
               " must be in [1, ", full, "]");
  const int64_t total = d.comm->all_reduce_int(anchors.size(0), ReduceOp::Sum);
  DT_REQUIRE(total > 0, "triplet evaluation: no triplets to evaluate");
  const std::string name = opt.name.empty() ? "" : opt.name + "_";
  std::map<std::string, double> out;
  std::vector<int64_t> dims = {full};
  dims.insert(dims.end(), opt.dims.begin(), opt.dims.end());
  for (size_t di = 0; di < dims.size(); ++di) {
    const int64_t dim = dims[di];
    const at::Tensor a = truncate_normalize(anchors, dim);
    const at::Tensor p = truncate_normalize(positives, dim);
    const at::Tensor n = truncate_normalize(negatives, dim);
    int64_t correct = 0;
    for (int64_t r = 0; r < a.size(0); ++r) {
      const float* ar = a.data_ptr<float>() + r * dim;
      const float pos = reference_dot(ar, p.data_ptr<float>() + r * dim, dim);
      const float neg = reference_dot(ar, n.data_ptr<float>() + r * dim, dim);
      // torch compares float32 tensors: neg + margin is rounded to float32 first.
      if (pos > static_cast<float>(neg + static_cast<float>(opt.margin))) ++correct;
    }
    correct = d.comm->all_reduce_int(correct, ReduceOp::Sum);
    const float acc = static_cast<float>(correct) / static_cast<float>(total);
    out[name + (di == 0 ? "" : matryoshka_prefix(dim)) + "cosine_accuracy"] = acc;
  }
  return out;
}

}  // namespace disttune
