// Retrieval evaluation of a model: the queries are embedded on every rank (sharded, then
// gathered), the corpus stays sharded (each rank embeds and scores only its batches), and
// the sharded top-k produces sentence-transformers' metrics, identical on every rank.
// Used by `disttune eval` and by evaluation during training.
#pragma once

#include <map>
#include <string>

#include "eval/ir_evaluator.h"

namespace disttune {

struct Dist;
struct IrSet;
class Embedder;

struct ModelEvalOptions {
  IrEvalOptions ir;
  int64_t batch_size = 64;
  int max_length = 0;          // 0: the model's
  std::string query_prompt;    // prepended to queries (e.g. "query: ")
  std::string corpus_prompt;   // prepended to documents
  std::string progress;        // progress-bar label prefix on rank 0; empty: none
};

std::map<std::string, double> evaluate_model(Dist& d, Embedder& embedder, const IrSet& set,
                                             const ModelEvalOptions& opt,
                                             IrEvalStats* stats = nullptr);

}  // namespace disttune
