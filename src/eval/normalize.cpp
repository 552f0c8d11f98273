#include "eval/normalize.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "eval/dot_kernel.h"

namespace disttune {
namespace {

// The first `dim` columns of x [n, D] (dim <= 0: all), contiguous float32 on the CPU.
at::Tensor truncated(const at::Tensor& x, int64_t dim) {
  DT_REQUIRE(x.dim() == 2, "embeddings must be [n, dim], got ", x.sizes());
  const int64_t full = x.size(1);
  if (dim <= 0) dim = full;
  DT_REQUIRE(dim <= full, "Matryoshka dimension ", dim, " exceeds the embedding dimension ", full);
  return x.narrow(1, 0, dim).to(at::kCPU, at::kFloat).contiguous();
}

}  // namespace

at::Tensor truncate_normalize(const at::Tensor& x, int64_t dim) {
  const at::Tensor src = truncated(x, dim);
  dim = src.size(1);
  at::Tensor out = at::empty_like(src);
  const float* in = src.data_ptr<float>();
  float* o = out.data_ptr<float>();
  at::parallel_for(0, src.size(0), 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = in + r * dim;
      double ss = 0;
      for (int64_t k = 0; k < dim; ++k) ss += static_cast<double>(row[k]) * row[k];
      const float norm = std::max(static_cast<float>(std::sqrt(ss)), 1e-12f);
      for (int64_t k = 0; k < dim; ++k) o[r * dim + k] = row[k] / norm;
    }
  });
  return out;
}

ScoreFunction parse_score_function(const std::string& name, const std::string& what) {
  if (name == "cosine") return ScoreFunction::Cosine;
  if (name == "dot") return ScoreFunction::Dot;
  DT_FAIL(what, ": '", name, "': disttune evaluates with cosine or dot similarity only");
}

std::string score_function_name(ScoreFunction f) { return f == ScoreFunction::Dot ? "dot" : "cosine"; }

at::Tensor score_rows(const at::Tensor& x, int64_t dim, ScoreFunction f) {
  return f == ScoreFunction::Cosine ? truncate_normalize(x, dim) : truncated(x, dim);
}

std::vector<float> pairwise_scores(const at::Tensor& first, const at::Tensor& second, int64_t dim,
                                   ScoreFunction f) {
  DT_REQUIRE(first.dim() == 2 && second.sizes() == first.sizes(), "pairwise ", score_function_name(f), ": ",
             first.sizes(), " and ", second.sizes(), " must have the same [n, dim] shape");
  if (dim <= 0) dim = first.size(1);
  const at::Tensor a = score_rows(first, dim, f), b = score_rows(second, dim, f);
  std::vector<float> out(static_cast<size_t>(a.size(0)));
  for (int64_t r = 0; r < a.size(0); ++r)
    out[static_cast<size_t>(r)] = reference_dot(a.data_ptr<float>() + r * dim, b.data_ptr<float>() + r * dim, dim);
  return out;
}

}  // namespace disttune
