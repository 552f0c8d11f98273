#include "eval/triplet_evaluator.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "eval/dot_kernel.h"
#include "eval/ir_metrics.h"
#include "eval/normalize.h"

namespace disttune {

std::vector<std::string> triplet_metric_names(const TripletEvalOptions& opt) {
  return matryoshka_metric_names({score_function_name(opt.score) + "_accuracy"}, opt.dims, opt.name);
}

std::map<std::string, double> evaluate_triplets(Dist& d, const at::Tensor& anchors,
                                                const at::Tensor& positives,
                                                const at::Tensor& negatives,
                                                const TripletEvalOptions& opt) {
  DT_REQUIRE(anchors.dim() == 2 && positives.sizes() == anchors.sizes() &&
                 negatives.sizes() == anchors.sizes(),
             "triplet evaluation: anchors ", anchors.sizes(), ", positives ", positives.sizes(),
             " and negatives ", negatives.sizes(), " must have the same [n, dim] shape");
  const auto variants = matryoshka_variants("triplet evaluation", anchors.size(1), opt.dims, opt.name);
  const int64_t total = d.comm->all_reduce_int(anchors.size(0), ReduceOp::Sum);
  DT_REQUIRE(total > 0, "triplet evaluation: no triplets to evaluate");
  std::map<std::string, double> out;
  for (const auto& [dim, prefix] : variants) {
    const at::Tensor a = score_rows(anchors, dim, opt.score);
    const at::Tensor p = score_rows(positives, dim, opt.score);
    const at::Tensor n = score_rows(negatives, dim, opt.score);
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
    out[prefix + score_function_name(opt.score) + "_accuracy"] = acc;
  }
  return out;
}

}  // namespace disttune
