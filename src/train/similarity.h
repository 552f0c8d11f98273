// Similarities and distances exactly as sentence-transformers and torch.nn.functional
// define them (same formulas, same epsilons), so that losses match the Python reference.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace disttune {

// F.normalize(x, p=2, dim=-1): x / max(||x||, 1e-12).
at::Tensor l2_normalize(const at::Tensor& x);
// util.cos_sim: [n, m] matrix of cosine similarities.
at::Tensor cos_sim(const at::Tensor& a, const at::Tensor& b);
// util.pairwise_cos_sim: cos_sim(a[i], b[i]).
at::Tensor pairwise_cos_sim(const at::Tensor& a, const at::Tensor& b);
// util.pairwise_angle_sim (AnglELoss): each row split into real and imaginary halves, the
// absolute sum of the components of x[i] / y[i] as complex numbers, scaled by |y| / |x|.
// The dimension must be even.
at::Tensor pairwise_angle_sim(const at::Tensor& x, const at::Tensor& y);
// MatryoshkaLoss's shrink: the first `dim` components, renormalised.
at::Tensor matryoshka_shrink(const at::Tensor& x, int64_t dim);

enum class Distance { Euclidean, Cosine, Manhattan };
Distance parse_distance(const std::string& name);  // "euclidean" | "cosine" | "manhattan"
std::string distance_name(Distance d);

// F.pairwise_distance(a, b, p) (p = 2 euclidean, 1 manhattan; eps 1e-6), and for Cosine
// 1 - `cosine` where TripletLoss uses pairwise_cos_sim and ContrastiveLoss uses
// F.cosine_similarity (eps 1e-8); the two differ only at degenerate (zero) rows.
enum class CosineKind { PairwiseCosSim, FunctionalCosineSimilarity };
at::Tensor pairwise_distance(Distance d, const at::Tensor& a, const at::Tensor& b,
                             CosineKind cosine);

}  // namespace disttune
