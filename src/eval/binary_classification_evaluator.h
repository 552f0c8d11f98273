// sentence-transformers' BinaryClassificationEvaluator with the model's similarity (cosine, or
// dot: the names then start with dot_): sentence pairs labelled 1 (similar) or 0
// (dissimilar), classified by thresholding the similarity of their embeddings. Its metrics,
// named as it names them:
//   cosine_accuracy, cosine_accuracy_threshold   the best accuracy over thresholds, and where
//   cosine_f1, cosine_f1_threshold               the best F1, and where
//   cosine_precision, cosine_recall              at the best F1
//   cosine_ap                                    average precision (sklearn's, over all ranks)
//   cosine_mcc                                   Matthews correlation at the F1 threshold
// with Matryoshka dimensions also dim_<d>_... on truncated embeddings. Its primary metric is
// cosine_ap.
//
// The threshold searches follow the evaluator, quirks included, so that figures agree with
// a sentence-transformers run: the pairs are sorted by decreasing similarity (ties keep their
// order), the split after each of the first n-1 of them is a candidate, counted as if it
// separated the tied values too, and the threshold reported is the midpoint of the two
// similarities around the first best split, computed in float32.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eval/normalize.h"

namespace disttune {

struct BinaryClassificationOptions {
  std::vector<int64_t> dims;   // Matryoshka dimensions besides the full one
  std::string name;            // prefix "<name>_"
  ScoreFunction score = ScoreFunction::Cosine;
};

// Whether scores can be read as labels: there is at least one and each is 0 or 1.
bool binary_labels(const std::vector<float>& scores);

struct ThresholdSearch {
  double best = 0;        // accuracy, or F1
  float threshold = 0;    // sentence-transformers' -1 (accuracy) / 0 (F1) when no split is better than 0
  double precision = 0, recall = 0;  // F1 search only
};
// similarity[i] of pair i with label labels[i] (0 or 1).
ThresholdSearch best_accuracy_threshold(const std::vector<float>& similarity, const std::vector<int>& labels);
ThresholdSearch best_f1_threshold(const std::vector<float>& similarity, const std::vector<int>& labels);
// sklearn.metrics.average_precision_score: sum over the distinct similarities, from the
// highest, of (recall gained) x precision at that threshold; tied pairs count together.
double average_precision(const std::vector<float>& similarity, const std::vector<int>& labels);
// sklearn.metrics.matthews_corrcoef for binary labels; 0 where it is undefined, as there.
double matthews_correlation(const std::vector<int>& labels, const std::vector<int>& predicted);

// The names evaluate_binary_classification returns, sorted.
std::vector<std::string> binary_classification_metric_names(const BinaryClassificationOptions& opt);
// Its primary metric: <similarity>_ap.
std::string binary_classification_primary_metric(ScoreFunction score);

// first, second: [n, D] embeddings of every pair's two sentences (any float type and
// device); labels: n values, each 0 or 1 (UserError otherwise). Not a collective.
std::map<std::string, double> evaluate_binary_classification(const at::Tensor& first,
                                                             const at::Tensor& second,
                                                             const std::vector<float>& labels,
                                                             const BinaryClassificationOptions& opt = {});

}  // namespace disttune
