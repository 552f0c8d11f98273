// Retrieval evaluation of a model: the queries are embedded on every rank (sharded, then
// gathered), the corpus stays sharded (each rank embeds and scores only its batches), and
// the sharded top-k produces sentence-transformers' metrics, identical on every rank.
// Used by `disttune eval` and by evaluation during training. Scored pairs and triplets go
// through evaluate_model_similarity and evaluate_model_triplets below.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "eval/binary_classification_evaluator.h"
#include "eval/ir_evaluator.h"
#include "eval/similarity_evaluator.h"
#include "eval/triplet_evaluator.h"

namespace disttune {

struct Dist;
struct IrSet;
struct ScoredSet;
struct TripletSet;
class Embedder;

struct ModelEvalOptions {
  IrEvalOptions ir;
  SimilarityEvalOptions similarity;
  bool classify = false;       // scored pairs labelled 0/1: also the binary classification
                               // metrics, named and truncated as `similarity` says
  TripletEvalOptions triplet;
  int64_t batch_size = 64;
  int max_length = 0;          // 0: the model's
  // Prepended to each role's texts (e.g. "query: "): retrieval queries and documents, scored
  // pairs' sentences, triplets' anchors, positives and negative columns (in order; a column
  // past the end gets none).
  std::string query_prompt, corpus_prompt;
  std::string sentence1_prompt, sentence2_prompt;
  std::string anchor_prompt, positive_prompt;
  std::vector<std::string> negative_prompts;
  std::string progress;        // progress-bar label prefix on rank 0; empty: none
};

std::map<std::string, double> evaluate_model(Dist& d, Embedder& embedder, const IrSet& set,
                                             const ModelEvalOptions& opt,
                                             IrEvalStats* stats = nullptr);

// Both sentences of every pair embedded (sharded over the ranks, then gathered; with the
// sentence1/sentence2 prompts), then evaluate_similarity, and with opt.classify
// evaluate_binary_classification on the same embeddings: the same figures on every rank.
std::map<std::string, double> evaluate_model_similarity(Dist& d, Embedder& embedder,
                                                        const ScoredSet& set,
                                                        const ModelEvalOptions& opt);

// Every text of the triplets embedded as above, each role with its prompt, then
// evaluate_triplets, each rank counting a block.
std::map<std::string, double> evaluate_model_triplets(Dist& d, Embedder& embedder,
                                                      const TripletSet& set,
                                                      const ModelEvalOptions& opt);

}  // namespace disttune
