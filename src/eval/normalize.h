// Matryoshka truncation and L2 normalisation of embedding rows, for cosine similarity as a
// dot product of unit vectors (sentence-transformers: truncate, then cos_sim normalises), and
// the score functions the evaluators use: a model's similarity_fn_name, cosine or dot.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace disttune {

// sentence-transformers' similarity functions that disttune evaluates with: its evaluators
// score with the model's similarity_fn_name and name the metrics after it (cosine_ndcg@10,
// dot_ndcg@10, pearson_dot, ...).
enum class ScoreFunction { Cosine, Dot };
// "cosine" | "dot"; anything else (euclidean, manhattan) is a UserError naming `what`.
ScoreFunction parse_score_function(const std::string& name, const std::string& what);
std::string score_function_name(ScoreFunction f);

// The rows whose dot products are the scores: for cosine truncate_normalize, for dot the first
// `dim` columns as they are (sentence-transformers truncates and scores without normalising),
// contiguous float32 on the CPU.
at::Tensor score_rows(const at::Tensor& x, int64_t dim, ScoreFunction f);
// The score of each row pair of first and second [n, D] on their first `dim` columns, in
// float32 as sentence-transformers' pairwise_cos_sim / pairwise_dot_score: the row-wise
// dot product (reference_dot) of the rows score_rows gives.
std::vector<float> pairwise_scores(const at::Tensor& first, const at::Tensor& second, int64_t dim,
                                   ScoreFunction f);

// The first `dim` columns of x [n, D] (dim <= D; dim <= 0 means D), each row divided by
// max(||row||, 1e-12) like torch.nn.functional.normalize. Returns contiguous float32 on the
// CPU. A row's result depends on that row alone (its norm is summed sequentially in
// double), not on how many rows come with it or on the thread count.
at::Tensor truncate_normalize(const at::Tensor& x, int64_t dim = 0);

}  // namespace disttune
