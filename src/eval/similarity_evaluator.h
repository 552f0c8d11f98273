// sentence-transformers' EmbeddingSimilarityEvaluator with the model's similarity (cosine,
// the default, or dot): the Pearson and the Spearman correlation between the gold scores
// of sentence pairs and the similarity of their embeddings, named pearson_cosine and
// spearman_cosine (pearson_dot, spearman_dot); with Matryoshka dimensions also
// dim_<d>_pearson_cosine, ... (truncated, as a Matryoshka recipe's per-dimension evaluators
// truncate). The primary metric, as there, is spearman_<similarity>.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eval/normalize.h"

namespace disttune {

struct SimilarityEvalOptions {
  std::vector<int64_t> dims;   // Matryoshka dimensions besides the full one
  std::string name;            // prefix "<name>_"
  ScoreFunction score = ScoreFunction::Cosine;
};

// scipy.stats.pearsonr's coefficient, in double. NaN when either side is constant or there
// are fewer than two values, where scipy warns and returns NaN (or refuses).
double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y);
// scipy.stats.spearmanr's: Pearson's of the ranks, tied values sharing their average rank.
double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y);

// The names evaluate_similarity returns, sorted.
std::vector<std::string> similarity_metric_names(const SimilarityEvalOptions& opt);
// The metric that selects the best model when eval.metric is not given: spearman_<similarity>.
std::string similarity_primary_metric(ScoreFunction score);

// first, second: [n, D] embeddings of every pair's two sentences (any float type and
// device); scores: the n gold scores. Not a collective: every rank that passes the same
// embeddings gets the same figures.
std::map<std::string, double> evaluate_similarity(const at::Tensor& first, const at::Tensor& second,
                                                  const std::vector<float>& scores,
                                                  const SimilarityEvalOptions& opt = {});

}  // namespace disttune
