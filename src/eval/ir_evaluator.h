// Sharded retrieval evaluation on embeddings: sentence-transformers'
// InformationRetrievalEvaluator (cosine or dot similarity, the model's) over a corpus split
// across ranks.
// The caller encodes (this never runs a model): every rank passes all query embeddings and
// the embeddings of its own documents with their global corpus indices.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/ir_set.h"
#include "dist/dist.h"
#include "eval/ir_metrics.h"
#include "eval/normalize.h"

namespace disttune {

struct IrEvalOptions {
  // Cut-offs, mapped to metrics by ir_cutoffs_from_k (the default gives exactly
  // sentence-transformers' default metrics).
  std::vector<int64_t> k = {1, 3, 5, 10, 100};
  // Explicit per-metric cut-offs (sentence-transformers' constructor arguments); when set,
  // `k` is ignored.
  std::optional<IrCutoffs> cutoffs;
  // Matryoshka dimensions evaluated besides the full one, as dim_<d>_cosine_...
  std::vector<int64_t> dims;
  // Documents scored at once: the score buffer holds chunk_rows x queries floats.
  int64_t chunk_rows = 16384;
  // Prefix of every name ("<name>_cosine_ndcg@10"), as sentence-transformers' evaluator name.
  std::string name;
  // The model's similarity function: the scores, and the names (cosine_ndcg@10, dot_ndcg@10).
  ScoreFunction score = ScoreFunction::Cosine;
};

struct IrEvalStats {
  int64_t queries = 0;                   // evaluated (with at least one relevant document)
  int64_t queries_without_relevant = 0;  // skipped, as sentence-transformers skips them
  int64_t corpus = 0;
};

// Metrics named as sentence-transformers names them, identical on every rank. A collective:
// every rank calls it with the same set, queries and options.
//   query_emb:        [set.queries.size(), D] on every rank
//   local_doc_emb:    [n_local, D] this rank's documents (any device/float type)
//   local_doc_indices [n_local] int64 global indices into set.corpus; over all ranks every
//                     corpus index must appear exactly once
std::map<std::string, double> evaluate_ir(Dist& d, const IrSet& set, const at::Tensor& query_emb,
                                          const at::Tensor& local_doc_emb,
                                          const at::Tensor& local_doc_indices,
                                          const IrEvalOptions& opt, IrEvalStats* stats = nullptr);

// The metric names evaluate_ir produces for these options (sorted), e.g. to check
// `eval.metric` before training starts.
std::vector<std::string> ir_eval_metric_names(const IrEvalOptions& opt);

}  // namespace disttune
