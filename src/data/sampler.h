// GlobalBatchSampler: the order in which training rows are drawn, one GLOBAL batch
// (training.global_batch_size rows) per optimizer step. Every rank builds the same sampler
// from the same rows and seed, draws the same global batches and takes its contiguous
// slice (rank_slice), so the batches never depend on the world size.
//
// Per epoch: a permutation of the rows from a splitmix64 stream derived from
// (seed, epoch) (see random.h), identical on every rank and platform. Then:
//  - BatchSamplerKind::Default ("batch_sampler"): consecutive chunks of the permutation;
//    the last batch may be partial. Nothing is dropped.
//  - BatchSamplerKind::NoDuplicates ("no_duplicates"): sentence-transformers'
//    NoDuplicatesBatchSampler, applied to the global batch: walk the rows not yet drawn in
//    permutation order, take a row unless one of its texts (any role: anchor, positive,
//    negatives; sentence1/sentence2) is already in the batch, stop when the batch is full;
//    rows passed over stay, in order, for the next batches. When the walk runs out before
//    the batch is full, the partial batch is still used (sentence-transformers' default
//    drop_last=False), so the end of an epoch can have several partial batches, and no row
//    is ever lost (unless drop_last). Texts are compared exactly: each distinct string is interned to an
//    integer id. Two equal texts inside one row do not defer that row (as in
//    sentence-transformers, which compares a row's set of values with the batch).
//    Cost per epoch: O(rows) plus the rescans of deferred rows (each batch walks past the
//    rows deferred before it); only data with one text shared by a large fraction of rows
//    makes that quadratic, as it does in sentence-transformers.
//  - BatchSamplerKind::GroupByLabel ("group_by_label"): sentence-transformers'
//    GroupByLabelBatchSampler (its round-robin form), for the batch triplet losses on labeled
//    texts. The classes of 2 or more texts among `rows` (numbered by first appearance), each
//    cut to an even count; per epoch each class's texts shuffled; then rounds: the classes
//    still holding texts, in a fresh random order, each give 2 texts, and the stream is cut
//    into global batches. A round that would start with the one class of a carried part of
//    a batch swaps its first two classes, so every batch has 2 or more classes of 2 or more
//    texts each. The rounds stop when fewer than 2 classes remain (the largest class's tail
//    waits for another epoch's shuffle); a last partial batch is kept when it holds 4 or more
//    texts. Needs 2 or more such classes and an even global batch size of 4 or more.
//
// With drop_last (Hugging Face's dataloader_drop_last) every batch short of the global batch
// size is left out, as sentence-transformers' samplers leave them out: the last one of
// batch_sampler, each partial one of no_duplicates (a full batch may still follow a partial
// one there).
//
// State: (epoch, position = global batches already drawn in that epoch, seed) plus a
// fingerprint of the setup; restoring it reproduces exactly the batches that follow.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/text_dataset.h"

namespace disttune {

enum class BatchSamplerKind { Default, NoDuplicates, GroupByLabel };

// "batch_sampler" | "no_duplicates" | "group_by_label" (the values of training.batch_sampler).
BatchSamplerKind parse_batch_sampler(const std::string& s);

struct SamplerState {
  int64_t epoch = 0;
  int64_t position = 0;  // global batches of `epoch` already drawn
  uint64_t seed = 0;
  // Hash of the rows, their texts (no_duplicates), the batch size and the kind; restore()
  // refuses a state taken from a different setup. 0 = not checked.
  uint64_t fingerprint = 0;
};

// The global batches of one epoch: batch b is rows[offsets[b] .. offsets[b+1]).
struct EpochPlan {
  std::vector<int64_t> rows;     // dataset row indices, in batch order
  std::vector<int64_t> offsets;  // num_batches() + 1 entries, offsets[0] = 0
  int64_t num_batches() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t batch_size(int64_t b) const { return offsets[b + 1] - offsets[b]; }
  std::vector<int64_t> batch(int64_t b) const;
};

class GlobalBatchSampler {
 public:
  // rows: the dataset rows to draw from (the train split), in any order. data is only read
  // here (its texts are interned, its labels grouped); the sampler keeps no reference to it.
  // GroupByLabel needs labeled texts (data.labeled()) and an even global batch size.
  GlobalBatchSampler(const TextDataset& data, std::vector<int64_t> rows,
                     int64_t global_batch_size, uint64_t seed, BatchSamplerKind kind,
                     bool drop_last = false);

  // The batches of `epoch`: a pure function of the constructor arguments and epoch.
  EpochPlan plan_epoch(int64_t epoch) const;

  // Starts `epoch` at its first batch.
  void set_epoch(int64_t epoch);
  // The next global batch of the current epoch (dataset row indices); false once the epoch
  // is exhausted.
  bool next(std::vector<int64_t>* batch);
  // Batches of the current epoch (with no_duplicates it may exceed ceil(rows / batch)).
  int64_t batches_in_epoch() const { return plan_.num_batches(); }

  SamplerState state() const;
  // Continues exactly where `s` was taken. Throws UserError when s comes from a different
  // seed or setup, or points past the end of its epoch.
  void restore(const SamplerState& s);

  int64_t num_rows() const { return static_cast<int64_t>(rows_.size()); }
  int64_t global_batch_size() const { return batch_size_; }
  BatchSamplerKind kind() const { return kind_; }

  // Rank `rank`'s contiguous part [first, second) of a global batch of batch_rows rows:
  // the first batch_rows % world ranks get one row more than the others.
  static std::pair<int64_t, int64_t> rank_slice(int64_t batch_rows, int rank, int world);

 private:
  EpochPlan plan_all(int64_t epoch) const;  // every batch, partial ones included
  EpochPlan plan_grouped(int64_t epoch) const;
  std::vector<int64_t> rows_;
  int64_t batch_size_;
  uint64_t seed_;
  BatchSamplerKind kind_;
  bool drop_last_;
  int texts_per_row_ = 0;
  int64_t num_texts_ = 0;
  std::vector<uint32_t> text_ids_;  // texts_per_row_ ids per entry of rows_
  std::vector<std::vector<int64_t>> groups_;  // GroupByLabel: each class's rows, even counts
  uint64_t fingerprint_ = 0;

  int64_t epoch_ = 0;
  int64_t position_ = 0;
  EpochPlan plan_;
};

}  // namespace disttune
