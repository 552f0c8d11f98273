// Retrieval metrics exactly as sentence-transformers' InformationRetrievalEvaluator computes
// them (binary relevance): accuracy@k, precision@k, recall@k, mrr@k, ndcg@k, map@k, averaged
// over the queries that have at least one relevant document, and named as it names them
// (`cosine_ndcg@10`, with `dim_<d>_` in front for a Matryoshka dimension).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace disttune {

// The cut-offs of each metric: the constructor arguments of sentence-transformers'
// InformationRetrievalEvaluator, with its defaults.
struct IrCutoffs {
  std::vector<int64_t> accuracy = {1, 3, 5, 10};
  std::vector<int64_t> precision_recall = {1, 3, 5, 10};
  std::vector<int64_t> mrr = {10};
  std::vector<int64_t> ndcg = {10};
  std::vector<int64_t> map = {100};

  // The ranking depth the metrics need (sentence-transformers' max_k).
  int64_t max_k() const;
};

// The cut-offs for one k list (config `eval.k`, `disttune eval --k`). The deepest k is the
// depth of map (map@100); mrr and ndcg are reported at the second-deepest k (@10);
// accuracy, precision and recall at every k but the deepest (@1,3,5,10). So the default
// [1, 3, 5, 10, 100] gives exactly sentence-transformers' default metrics. A single k gives
// every metric at that k. Duplicates are ignored; every k must be >= 1 (`what` names the
// source of the list in the error).
IrCutoffs ir_cutoffs_from_k(const std::vector<int64_t>& k, const std::string& what = "eval.k");

// compute_metrics' result: each metric's value per cut-off, and how many queries were
// averaged and how many were skipped for having no relevant document.
struct IrMetricValues {
  std::map<int64_t, double> accuracy, precision, recall, mrr, ndcg, map;
  int64_t queries = 0;
  int64_t queries_without_relevant = 0;
};

// ranked[q]: query q's retrieved corpus indices, best first (at least max_k of them unless
// the corpus is smaller; extra entries are ignored). relevant[q]: its relevant corpus
// indices, sorted and unique; a query with none is skipped and counted, as
// sentence-transformers drops it. The averages reproduce numpy's summation order, so the
// values equal sentence-transformers' to the last bit (ndcg up to the last bit of log2).
// Fails when no query has a relevant document (sentence-transformers divides by zero).
IrMetricValues compute_ir_metrics(const std::vector<std::vector<int64_t>>& ranked,
                                  const std::vector<std::vector<int64_t>>& relevant,
                                  const IrCutoffs& cutoffs);

// sentence-transformers' names: prefix + score_function + "_" + metric + "@" + k, e.g.
// ("dim_128_", "cosine") -> "dim_128_cosine_ndcg@10".
std::map<std::string, double> ir_metric_map(const IrMetricValues& v,
                                            const std::string& prefix = "",
                                            const std::string& score_function = "cosine");

// The names ir_metric_map produces for these cut-offs, sorted (to validate `eval.metric`
// before any model is run).
std::vector<std::string> ir_metric_names(const IrCutoffs& cutoffs, const std::string& prefix = "",
                                         const std::string& score_function = "cosine");

// The prefix of a Matryoshka dimension's metrics: "dim_<d>_".
std::string matryoshka_prefix(int64_t dim);
// Its inverse: for "dim_<d>_<metric>", d and <metric>; for any other name, 0 and the name.
std::pair<int64_t, std::string> split_matryoshka_prefix(const std::string& name);

// The dimensions an evaluator (IR, triplet, similarity) scores, each with the prefix of its
// metric names: the full one with "<name>_" (nothing without a name), then each
// Matryoshka dimension with "<name>_dim_<d>_". UserError, naming `evaluator`, for a
// dimension outside [1, full].
struct MatryoshkaVariant {
  int64_t dim;
  std::string prefix;
};
std::vector<MatryoshkaVariant> matryoshka_variants(const std::string& evaluator, int64_t full,
                                                   const std::vector<int64_t>& dims,
                                                   const std::string& name);
// The names such an evaluator returns: each of `metrics` under each of those prefixes, sorted.
std::vector<std::string> matryoshka_metric_names(const std::vector<std::string>& metrics,
                                                 const std::vector<int64_t>& dims,
                                                 const std::string& name);

// numpy's float64 mean (np.mean): pairwise summation in blocks of 8192, divided by n.
// Exposed for tests.
double numpy_mean(const std::vector<double>& x);

}  // namespace disttune
