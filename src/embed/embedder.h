// Embedder: texts -> sentence embeddings with a SentenceModel and its tokenizer, alone or
// sharded over ranks.
//
// Sharding uses one batch grid for the whole job: texts in descending length order (ties by
// input index; as sentence-transformers sorts to cut padding), cut into batches of
// batch_size, and each rank takes a contiguous run of batches holding about 1/W of the text.
// A text's batch is therefore the same at every world size, so its embedding is too (bit
// for bit, given the same thread count per batch): sharded results do not depend on W.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace disttune {

struct Dist;
class SentenceModel;

struct EncodeOptions {
  int64_t batch_size = 64;
  int max_length = 0;        // 0: the model's max_seq_length
  std::string prefix;        // prepended to every text (a prompt such as "query: ")
  std::string progress;      // progress-bar label on rank 0; empty: no bar
};

// The batches of one job: `order` is the length-sorted permutation of the inputs,
// batch b covers order[batch_begin[b] .. batch_begin[b+1]), and rank r owns batches
// [rank_batches[r], rank_batches[r+1]).
struct BatchGrid {
  std::vector<int64_t> order;
  std::vector<int64_t> batch_begin;
  std::vector<int64_t> rank_batches;
  int64_t num_batches() const { return static_cast<int64_t>(batch_begin.size()) - 1; }
};
// The rank split weighs each batch by rows x (4 + the length of its first, longest text).
// `tokens(i)`, when given, is that length for input i in tokens after truncation (what the
// encoder computes); without it, the characters count, which overweights texts far beyond
// max_length: the rank holding them idles while the others finish.
BatchGrid make_batch_grid(const std::vector<std::string>& texts, int64_t batch_size, int world,
                          const std::function<int64_t(int64_t)>& tokens = {});

// This rank's share of a sharded encoding: embeddings [n_local, dim] (float32, CPU) and the
// input index of each row [n_local] (int64).
struct EncodedShard {
  at::Tensor embeddings;
  at::Tensor indices;
};

class Embedder {
 public:
  // The tokenizer that belongs to `model` (its directory's files, or the vocab of an
  // initialised model).
  static Tokenizer tokenizer_for(const SentenceModel& model);

  Embedder(SentenceModel& model, Tokenizer tokenizer);

  // Embeds this rank's batches of the job-wide grid (collective only in that every rank
  // must pass the same texts). The model runs in eval mode without gradients; its previous
  // mode is restored.
  EncodedShard encode_shard(Dist& d, const std::vector<std::string>& texts, const EncodeOptions& opt);
  // Every input's embedding, in input order, on every rank (shards gathered).
  at::Tensor encode_all(Dist& d, const std::vector<std::string>& texts, const EncodeOptions& opt);
  // This process alone, in input order.
  at::Tensor encode(const std::vector<std::string>& texts, const EncodeOptions& opt);

  SentenceModel& model() { return model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  // Embeds the inputs order[begin..end) of `grid` batch by batch into rows of `out`.
  void encode_batches(const std::vector<std::string>& texts, const BatchGrid& grid, int64_t first_batch,
                      int64_t last_batch, const EncodeOptions& opt, at::Tensor& out, at::Tensor& indices);

  int max_length(const EncodeOptions& opt) const;  // opt's, or the model's max_seq_length

  SentenceModel& model_;
  Tokenizer tokenizer_;
};

}  // namespace disttune
