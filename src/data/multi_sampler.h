// MultiDatasetSampler: the global batches of a run over several training datasets
// (data.train and the datasets: section), each batch drawn from one dataset by that
// dataset's GlobalBatchSampler, as sentence-transformers' multi-dataset batch samplers
// interleave the batch samplers of a DatasetDict:
//  - Proportional: every batch of every dataset once per epoch; the order of the datasets'
//    batches is a random permutation of (dataset 0 x its batches, dataset 1 x its batches,
//    ...) from a splitmix64 stream of (seed, epoch), so larger datasets are drawn from more
//    often and all are exhausted together. (sentence-transformers sizes the list by each
//    sampler's len(), an estimate for no_duplicates; here it is the epoch plan's exact count,
//    so no batch is skipped or missing.)
//  - RoundRobin: dataset 0, 1, ..., K-1, 0, 1, ... one batch each until a dataset has none
//    left, which ends the epoch: the smallest dataset sets the epoch's length and the larger
//    ones are used only in part (a fresh permutation of theirs each epoch).
// Dataset k's sampler permutes with seed derive_seed(seed, k) (k > 0) and dataset 0's with the
// seed itself, so a run of one dataset draws exactly what a GlobalBatchSampler does; with
// one dataset its state and fingerprint are that sampler's too.
//
// Every rank builds the same samplers and draws the same (dataset, global batch) sequence.
// State: (epoch, position = global batches drawn in that epoch, seed, fingerprint of all the
// datasets' setups and the kind); restoring it reproduces exactly the batches that follow.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/sampler.h"

namespace disttune {

enum class MultiDatasetSamplerKind { Proportional, RoundRobin };

// "proportional" | "round_robin" (training.multi_dataset_batch_sampler).
MultiDatasetSamplerKind parse_multi_dataset_sampler(const std::string& s);

// Dataset k's sampler seed (see above).
uint64_t dataset_sampler_seed(uint64_t seed, int dataset);

// The global batches of one epoch over all datasets: batch b is batch index[b] of
// plans[dataset[b]].
struct MultiEpochPlan {
  std::vector<EpochPlan> plans;  // each dataset's epoch
  std::vector<int> dataset;
  std::vector<int64_t> index;
  int64_t num_batches() const { return static_cast<int64_t>(dataset.size()); }
};

class MultiDatasetSampler {
 public:
  // samplers: one per dataset, in dataset order (at least one), each with seed
  // dataset_sampler_seed(seed, k).
  MultiDatasetSampler(std::vector<GlobalBatchSampler> samplers, uint64_t seed, MultiDatasetSamplerKind kind);

  // The batches of `epoch`: a pure function of the constructor arguments and epoch.
  MultiEpochPlan plan_epoch(int64_t epoch) const;

  void set_epoch(int64_t epoch);
  // The next global batch of the current epoch and the dataset it comes from; false once the
  // epoch is exhausted.
  bool next(int* dataset, std::vector<int64_t>* batch);
  int64_t batches_in_epoch() const { return plan_.num_batches(); }

  SamplerState state() const;
  // Throws UserError when s comes from a different seed or setup, or points past its epoch.
  void restore(const SamplerState& s);

  int num_datasets() const { return static_cast<int>(samplers_.size()); }
  const GlobalBatchSampler& sampler(int k) const { return samplers_[static_cast<size_t>(k)]; }

 private:
  std::vector<GlobalBatchSampler> samplers_;
  uint64_t seed_;
  MultiDatasetSamplerKind kind_;
  uint64_t fingerprint_ = 0;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  MultiEpochPlan plan_;
};

}  // namespace disttune
