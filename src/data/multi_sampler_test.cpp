// The multi-dataset sampler: sentence-transformers' proportional and round-robin
// interleaving of per-dataset batch samplers, one dataset = the plain sampler, exact resume.
#include "data/multi_sampler.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/check.h"
#include "test_util.h"

namespace disttune {
namespace {

TextDataset pairs(int64_t n, const std::string& tag) {
  TextDataset d;
  d.roles = {"anchor", "positive"};
  d.columns.resize(2);
  for (int64_t i = 0; i < n; ++i) {
    d.columns[0].push_back(tag + "a" + std::to_string(i % 11));  // repeats: no_duplicates defers
    d.columns[1].push_back(tag + "p" + std::to_string(i));
    d.lines.push_back(i + 1);
  }
  d.format = DataFormat::Pairs;
  return d;
}

// Datasets of the given sizes and their samplers (no_duplicates, batch 4).
struct Datasets {
  std::vector<TextDataset> data;
  std::vector<GlobalBatchSampler> samplers(uint64_t seed) const {
    std::vector<GlobalBatchSampler> s;
    for (size_t k = 0; k < data.size(); ++k)
      s.emplace_back(data[k], data[k].all_rows(), 4, dataset_sampler_seed(seed, static_cast<int>(k)),
                     BatchSamplerKind::NoDuplicates);
    return s;
  }
};

Datasets setup(const std::vector<int64_t>& sizes) {
  Datasets s;
  for (size_t k = 0; k < sizes.size(); ++k) s.data.push_back(pairs(sizes[k], "d" + std::to_string(k)));
  return s;
}

using Drawn = std::vector<std::pair<int, std::vector<int64_t>>>;

Drawn draw_all(MultiDatasetSampler& m, int64_t epoch) {
  m.set_epoch(epoch);
  Drawn out;
  int k = 0;
  std::vector<int64_t> b;
  while (m.next(&k, &b)) out.emplace_back(k, b);
  return out;
}

TEST(MultiDatasetSampler, OneDatasetIsThePlainSampler) {
  const Datasets s = setup({37});
  GlobalBatchSampler plain(s.data[0], s.data[0].all_rows(), 4, 9, BatchSamplerKind::NoDuplicates);
  for (auto kind : {MultiDatasetSamplerKind::Proportional, MultiDatasetSamplerKind::RoundRobin}) {
    MultiDatasetSampler m(s.samplers(9), 9, kind);
    for (int64_t e = 0; e < 3; ++e) {
      const Drawn got = draw_all(m, e);
      const EpochPlan want = plain.plan_epoch(e);
      ASSERT_EQ(static_cast<int64_t>(got.size()), want.num_batches());
      for (size_t b = 0; b < got.size(); ++b) {
        EXPECT_EQ(got[b].first, 0);
        EXPECT_EQ(got[b].second, want.batch(static_cast<int64_t>(b)));
      }
    }
    // Its state is the plain sampler's: checkpoints of single-dataset runs resume as before.
    m.set_epoch(1);
    plain.set_epoch(1);
    int k = 0;
    std::vector<int64_t> b;
    for (int i = 0; i < 3; ++i) m.next(&k, &b), plain.next(&b);
    EXPECT_EQ(m.state().fingerprint, plain.state().fingerprint);
    EXPECT_EQ(m.state().position, plain.state().position);
    EXPECT_EQ(m.state().epoch, 1);
  }
}

TEST(MultiDatasetSampler, ProportionalDrawsEveryBatchOfEveryDatasetOnceInARandomOrder) {
  const Datasets s = setup({50, 20, 7});
  MultiDatasetSampler m(s.samplers(3), 3, MultiDatasetSamplerKind::Proportional);
  std::vector<int> previous;
  for (int64_t e = 0; e < 3; ++e) {
    const Drawn got = draw_all(m, e);
    std::vector<int> order;
    std::vector<Drawn> per(3);
    for (const auto& [k, b] : got) {
      order.push_back(k);
      per[static_cast<size_t>(k)].emplace_back(k, b);
    }
    // Each dataset's batches are its own sampler's epoch, whole and in order.
    for (int k = 0; k < 3; ++k) {
      const EpochPlan own = m.sampler(k).plan_epoch(e);
      ASSERT_EQ(static_cast<int64_t>(per[static_cast<size_t>(k)].size()), own.num_batches()) << k;
      for (int64_t b = 0; b < own.num_batches(); ++b)
        EXPECT_EQ(per[static_cast<size_t>(k)][static_cast<size_t>(b)].second, own.batch(b));
    }
    // The order of the datasets is shuffled, afresh each epoch.
    EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
    EXPECT_NE(order, previous);
    previous = order;
    EXPECT_EQ(m.plan_epoch(e).dataset, order);  // a pure function of (setup, epoch)
  }
  // Another seed, another order and other batches; the same seed, the same ones.
  MultiDatasetSampler same(s.samplers(3), 3, MultiDatasetSamplerKind::Proportional);
  MultiDatasetSampler other(s.samplers(4), 4, MultiDatasetSamplerKind::Proportional);
  EXPECT_EQ(draw_all(same, 2), draw_all(m, 2));
  EXPECT_NE(draw_all(other, 2), draw_all(m, 2));
  // Datasets other than the first draw from streams of their own, not the first's.
  EXPECT_NE(m.sampler(1).state().seed, m.sampler(0).state().seed);
}

TEST(MultiDatasetSampler, RoundRobinTakesOneBatchOfEachInTurnUntilOneRunsOut) {
  // Default batches of 4: 5, 2 and 3 batches. The cycle 0 1 2 0 1 2 0 then finds dataset 1
  // empty: 7 batches, as sentence-transformers' cycle() over the samplers yields them.
  const Datasets s = setup({20, 8, 12});
  std::vector<GlobalBatchSampler> samplers;
  for (size_t k = 0; k < 3; ++k)
    samplers.emplace_back(s.data[k], s.data[k].all_rows(), 4, dataset_sampler_seed(5, static_cast<int>(k)),
                          BatchSamplerKind::Default);
  MultiDatasetSampler m(std::move(samplers), 5, MultiDatasetSamplerKind::RoundRobin);
  const Drawn got = draw_all(m, 0);
  std::vector<int> order;
  for (const auto& [k, b] : got) order.push_back(k);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 0, 1, 2, 0}));
  for (size_t b = 0; b < got.size(); ++b)
    EXPECT_EQ(got[b].second, m.sampler(got[b].first).plan_epoch(0).batch(static_cast<int64_t>(b / 3)));
  EXPECT_EQ(m.batches_in_epoch(), 7);
}

TEST(MultiDatasetSampler, ResumeFromASavedStateReproducesTheRemainingBatches) {
  const Datasets s = setup({50, 20, 7});
  for (auto kind : {MultiDatasetSamplerKind::Proportional, MultiDatasetSamplerKind::RoundRobin}) {
    MultiDatasetSampler m(s.samplers(3), 3, kind);
    m.set_epoch(1);
    int k = 0;
    std::vector<int64_t> b;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(m.next(&k, &b));
    const SamplerState saved = m.state();
    Drawn rest;
    while (m.next(&k, &b)) rest.emplace_back(k, b);
    MultiDatasetSampler again(s.samplers(3), 3, kind);
    again.restore(saved);
    Drawn got;
    while (again.next(&k, &b)) got.emplace_back(k, b);
    EXPECT_EQ(got, rest);
    // A state of other datasets or of the other interleaving is refused.
    const Datasets fewer = setup({50, 20});
    MultiDatasetSampler two(fewer.samplers(3), 3, kind);
    EXPECT_NE(test::error_of([&] { two.restore(saved); }).find("taken with different training rows, datasets"),
              std::string::npos);
    MultiDatasetSampler flipped(s.samplers(3), 3,
                                kind == MultiDatasetSamplerKind::Proportional ? MultiDatasetSamplerKind::RoundRobin
                                                                              : MultiDatasetSamplerKind::Proportional);
    EXPECT_THROW(flipped.restore(saved), UserError);
  }
}

}  // namespace
}  // namespace disttune
