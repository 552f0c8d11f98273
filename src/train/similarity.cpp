#include "train/similarity.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace disttune {

at::Tensor l2_normalize(const at::Tensor& x) {
  // F.normalize: the norm is clamped, not eps-added, so unit rows stay exactly unit.
  return x / at::norm(x, 2, {-1}, /*keepdim=*/true).clamp_min(1e-12).expand_as(x);
}

at::Tensor cos_sim(const at::Tensor& a, const at::Tensor& b) {
  return at::mm(l2_normalize(a), l2_normalize(b).t());
}

at::Tensor pairwise_cos_sim(const at::Tensor& a, const at::Tensor& b) {
  return (l2_normalize(a) * l2_normalize(b)).sum(-1);
}

at::Tensor pairwise_angle_sim(const at::Tensor& x, const at::Tensor& y) {
  const int64_t half = x.size(1) / 2;
  const at::Tensor a = x.narrow(1, 0, half), b = x.narrow(1, half, half);
  const at::Tensor c = y.narrow(1, 0, half), d = y.narrow(1, half, half);
  // The order of sentence-transformers' operations, so that rounding follows it too.
  const at::Tensor z = (c.pow(2) + d.pow(2)).sum(1, true);
  at::Tensor re = (a * c + b * d) / z, im = (b * c - a * d) / z;
  const at::Tensor dz = (a.pow(2) + b.pow(2)).sum(1, true).pow(0.5);
  const at::Tensor dw = (c.pow(2) + d.pow(2)).sum(1, true).pow(0.5);
  re = re / (dz / dw);
  im = im / (dz / dw);
  return at::cat({re, im}, 1).sum(1).abs();
}

at::Tensor matryoshka_shrink(const at::Tensor& x, int64_t dim) {
  DT_CHECK(dim > 0 && dim <= x.size(-1), "matryoshka_shrink: dim ", dim, " of ", x.size(-1));
  return l2_normalize(x.narrow(-1, 0, dim));
}

Distance parse_distance(const std::string& name) {
  if (name == "euclidean") return Distance::Euclidean;
  if (name == "cosine") return Distance::Cosine;
  if (name == "manhattan") return Distance::Manhattan;
  DT_FAIL("unknown distance '", name, "' (expected euclidean, cosine or manhattan)");
}

std::string distance_name(Distance d) {
  switch (d) {
    case Distance::Euclidean: return "euclidean";
    case Distance::Cosine: return "cosine";
    case Distance::Manhattan: return "manhattan";
  }
  return "?";
}

at::Tensor pairwise_distance(Distance d, const at::Tensor& a, const at::Tensor& b,
                             CosineKind cosine) {
  switch (d) {
    case Distance::Euclidean: return at::pairwise_distance(a, b, 2.0, 1e-6, false);
    case Distance::Manhattan: return at::pairwise_distance(a, b, 1.0, 1e-6, false);
    case Distance::Cosine:
      return cosine == CosineKind::PairwiseCosSim ? 1 - pairwise_cos_sim(a, b)
                                                  : 1 - at::cosine_similarity(a, b, 1, 1e-8);
  }
  return {};
}

}  // namespace disttune
