// Matryoshka truncation and L2 normalisation of embedding rows, for cosine similarity as a
// dot product of unit vectors (sentence-transformers: truncate, then cos_sim normalises).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace disttune {

// The first `dim` columns of x [n, D] (dim <= D; dim <= 0 means D), each row divided by
// max(||row||, 1e-12) like torch.nn.functional.normalize. Returns contiguous float32 on the
// CPU. A row's result depends on that row alone (its norm is summed sequentially in
// double), not on how many rows come with it or on the thread count.
at::Tensor truncate_normalize(const at::Tensor& x, int64_t dim = 0);

// The cosine similarity of each row pair of first and second [n, D] on their first `dim`
// columns, in float32 as sentence-transformers' pairwise_cos_sim: normalised as above, then
// the row-wise dot product (reference_dot).
std::vector<float> pairwise_cosine(const at::Tensor& first, const at::Tensor& second, int64_t dim = 0);

}  // namespace disttune
