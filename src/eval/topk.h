// Sharded, memory-bounded exact top-k retrieval.
//
// Each rank holds some corpus embeddings with their GLOBAL corpus indices (any subset, in
// any order) and all query embeddings. TopKAccumulator takes the local documents chunk by
// chunk (chunk_rows at a time; the score buffer never exceeds chunk_rows x Q floats) and
// keeps a running top-k per query; merge_topk combines the ranks' lists into the
// global top-k, the same on every rank.
//
// Order: higher score first, ties broken by the lower global corpus index. Scores come
// from DotScorer (fixed summation order), so a (query, document) score has the same bits
// whatever rank, chunk or position it was scored in, and the result is identical for any
// world size and chunk size.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "dist/communicator.h"
#include "eval/dot_kernel.h"

namespace disttune {

// [Q, k] float32 scores / int64 global corpus indices, best first. k is below the one
// requested when the corpus (or a rank's part of it) is smaller.
struct TopK {
  at::Tensor scores;
  at::Tensor indices;
};

class TopKAccumulator {
 public:
  // queries: [Q, D] (float32 or convertible; any device, copied to the CPU). k >= 1,
  // chunk_rows >= 1.
  TopKAccumulator(const at::Tensor& queries, int64_t k, int64_t chunk_rows,
                  CpuIsa isa = cpu_isa_best());

  // Scores docs [n, D] (global corpus indices doc_indices [n], int64) chunk_rows rows at
  // a time. May be called any number of times; each document must be added once.
  void add(const at::Tensor& docs, const at::Tensor& doc_indices);

  // The top-k over everything added so far (the accumulator stays usable).
  TopK result() const;

  int64_t num_queries() const { return q_; }
  int64_t docs_added() const { return docs_added_; }
  // The largest score buffer used so far, in floats: <= chunk_rows * Q by construction
  // (a chunk is scored in cache-sized blocks, so usually far less).
  int64_t peak_score_floats() const { return peak_score_floats_; }

 private:
  struct Entry {
    float score;
    int64_t index;
  };
  // The candidates of one query: the best-so-far is among them; once `full`, anything
  // not better than `worst` (the k-th best seen) can never enter the top-k.
  struct QueryState {
    std::vector<Entry> cand;
    bool full = false;
    Entry worst{0.f, 0};
  };
  static bool better(const Entry& a, const Entry& b) {
    return a.score > b.score || (a.score == b.score && a.index < b.index);
  }
  void add_chunk(const at::Tensor& docs, const int64_t* idx);
  void select(int64_t nb, const int64_t* idx);
  void compact(QueryState& s) const;

  DotScorer scorer_;
  int64_t q_, k_, chunk_rows_;
  int64_t docs_added_ = 0, peak_score_floats_ = 0;
  std::vector<QueryState> state_;
  std::vector<float> scores_;  // reused score buffer, [Q, rows of a block]
};

// Top-k of queries [Q, D] against docs [n, D] with global indices doc_indices [n],
// chunk_rows documents at a time.
TopK local_topk(const at::Tensor& queries, const at::Tensor& docs, const at::Tensor& doc_indices,
                int64_t k, int64_t chunk_rows);

// Global top-k from every rank's local top-k (same Q on every rank; each document held by
// exactly one rank). Rank 0 gathers the lists a block of queries at a time (so its memory
// stays bounded whatever the world size), merges them, and broadcasts the result: the
// same tensors on every rank. A collective: every rank calls it.
TopK merge_topk(Communicator& comm, const TopK& local, int64_t k);

}  // namespace disttune
