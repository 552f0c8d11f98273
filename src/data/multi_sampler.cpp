#include "data/multi_sampler.h"

#include <algorithm>
#include <utility>

#include "common/check.h"
#include "common/hash64.h"
#include "data/random.h"

namespace disttune {

namespace {
constexpr uint64_t kInterleaveStream = 0x6d756c7469ull;  // "multi": an epoch's order of datasets
}  // namespace

MultiDatasetSamplerKind parse_multi_dataset_sampler(const std::string& s) {
  if (s == "proportional") return MultiDatasetSamplerKind::Proportional;
  if (s == "round_robin") return MultiDatasetSamplerKind::RoundRobin;
  DT_FAIL("multi_dataset_batch_sampler: expected proportional or round_robin, got '", s, "'");
}

uint64_t dataset_sampler_seed(uint64_t seed, int dataset) {
  return dataset == 0 ? seed : derive_seed(seed, static_cast<uint64_t>(dataset));
}

MultiDatasetSampler::MultiDatasetSampler(std::vector<GlobalBatchSampler> samplers, uint64_t seed,
                                         MultiDatasetSamplerKind kind)
    : samplers_(std::move(samplers)), seed_(seed), kind_(kind) {
  DT_CHECK(!samplers_.empty(), "a multi-dataset sampler needs a dataset");
  if (samplers_.size() == 1) {
    fingerprint_ = samplers_[0].state().fingerprint;
  } else {
    std::vector<uint64_t> words{static_cast<uint64_t>(kind_), samplers_.size()};
    for (const auto& s : samplers_) words.push_back(s.state().fingerprint);
    fingerprint_ = xxh64(words.data(), words.size() * sizeof(uint64_t));
  }
  set_epoch(0);
}

MultiEpochPlan MultiDatasetSampler::plan_epoch(int64_t epoch) const {
  MultiEpochPlan p;
  for (const auto& s : samplers_) p.plans.push_back(s.plan_epoch(epoch));
  const int k = num_datasets();
  if (k == 1) {
    p.dataset.assign(static_cast<size_t>(p.plans[0].num_batches()), 0);
  } else if (kind_ == MultiDatasetSamplerKind::Proportional) {
    std::vector<int64_t> order;
    for (int d = 0; d < k; ++d) order.insert(order.end(), static_cast<size_t>(p.plans[d].num_batches()), d);
    SplitMix64 rng(derive_seed(derive_seed(seed_, kInterleaveStream), static_cast<uint64_t>(epoch)));
    shuffle_in_place(order, rng);
    p.dataset.assign(order.begin(), order.end());
  } else {
    // As cycle() over the datasets stops at the first one with no batch left.
    std::vector<int64_t> left;
    for (const auto& plan : p.plans) left.push_back(plan.num_batches());
    for (int d = 0;; d = (d + 1) % k) {
      if (left[static_cast<size_t>(d)]-- == 0) break;
      p.dataset.push_back(d);
    }
  }
  std::vector<int64_t> used(static_cast<size_t>(k), 0);
  for (int d : p.dataset) p.index.push_back(used[static_cast<size_t>(d)]++);
  return p;
}

void MultiDatasetSampler::set_epoch(int64_t epoch) {
  plan_ = plan_epoch(epoch);
  epoch_ = epoch;
  position_ = 0;
}

bool MultiDatasetSampler::next(int* dataset, std::vector<int64_t>* batch) {
  if (position_ >= plan_.num_batches()) return false;
  const size_t b = static_cast<size_t>(position_++);
  *dataset = plan_.dataset[b];
  *batch = plan_.plans[static_cast<size_t>(*dataset)].batch(plan_.index[b]);
  return true;
}

SamplerState MultiDatasetSampler::state() const { return SamplerState{epoch_, position_, seed_, fingerprint_}; }

void MultiDatasetSampler::restore(const SamplerState& s) {
  DT_REQUIRE(s.seed == seed_, "sampler state: seed ", s.seed, " differs from this run's seed ", seed_);
  DT_REQUIRE(s.fingerprint == 0 || s.fingerprint == fingerprint_,
             "sampler state: taken with different training rows, datasets, batch size or batch sampler "
             "(fingerprint ", s.fingerprint, ", this run ", fingerprint_, ")");
  DT_REQUIRE(s.epoch >= 0 && s.position >= 0, "sampler state: negative epoch or position");
  MultiEpochPlan plan = plan_epoch(s.epoch);
  DT_REQUIRE(s.position <= plan.num_batches(), "sampler state: position ", s.position, " is past the end of epoch ",
             s.epoch, " (", plan.num_batches(), " batches)");
  plan_ = std::move(plan);
  epoch_ = s.epoch;
  position_ = s.position;
}

}  // namespace disttune
