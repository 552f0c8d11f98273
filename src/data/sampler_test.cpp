// The global batch sampler: sentence-transformers' no-duplicates algorithm on the global
// batch, nothing lost, rank slices, world-size independence, exact resume.
#include "data/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include "common/check.h"
#include "data/random.h"
#include "dist/dist.h"
#include "test_util.h"

namespace disttune {
namespace {

// Rows whose anchors and positives are drawn from small pools, so that clashes abound.
TextDataset clashing(int64_t n, int anchors, int positives, int negatives, uint64_t seed) {
  TextDataset d;
  d.roles = {"anchor", "positive"};
  if (negatives) d.roles.push_back("negative");
  d.columns.resize(d.roles.size());
  SplitMix64 r(seed);
  for (int64_t i = 0; i < n; ++i) {
    d.columns[0].push_back("a" + std::to_string(r.below(static_cast<uint64_t>(anchors))));
    // Some positives equal some anchors' text: clashes across roles count too.
    d.columns[1].push_back((r.below(4) == 0 ? "a" : "p") + std::to_string(r.below(static_cast<uint64_t>(positives))));
    if (negatives) d.columns[2].push_back("p" + std::to_string(r.below(static_cast<uint64_t>(negatives))));
    d.lines.push_back(i + 1);
  }
  d.format = negatives ? DataFormat::Triplets : DataFormat::Pairs;
  return d;
}

std::vector<int64_t> iota_rows(int64_t n, int64_t step = 1) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; i += step) v.push_back(i);
  return v;
}

std::vector<std::vector<int64_t>> all_batches(GlobalBatchSampler& s, int64_t epoch) {
  s.set_epoch(epoch);
  std::vector<std::vector<int64_t>> out;
  std::vector<int64_t> b;
  while (s.next(&b)) out.push_back(b);
  return out;
}

// The loop of sentence-transformers' NoDuplicatesBatchSampler.__iter__, transcribed over
// strings: the remaining rows in permutation order, a set of the batch's values, a row's
// values as a set; a walk that ends short of a full batch yields it unless drop_last.
std::vector<std::vector<int64_t>> reference_batches(const TextDataset& d,
                                                    const std::vector<int64_t>& rows,
                                                    int64_t batch_size, uint64_t seed,
                                                    int64_t epoch, bool drop_last = false) {
  const std::vector<int64_t> perm = random_permutation(
      static_cast<int64_t>(rows.size()),
      derive_seed(derive_seed(seed, kSamplerStream), static_cast<uint64_t>(epoch)));
  std::vector<int64_t> remaining;
  for (int64_t p : perm) remaining.push_back(rows[static_cast<size_t>(p)]);
  std::vector<std::vector<int64_t>> batches;
  while (!remaining.empty()) {
    std::set<std::string> batch_values;
    std::vector<int64_t> batch;
    for (int64_t index : remaining) {
      std::set<std::string> sample_values;
      for (const auto& col : d.columns) sample_values.insert(col[static_cast<size_t>(index)]);
      bool clash = false;
      for (const auto& v : sample_values) clash = clash || batch_values.count(v);
      if (clash) continue;
      batch.push_back(index);
      if (static_cast<int64_t>(batch.size()) == batch_size) break;
      batch_values.insert(sample_values.begin(), sample_values.end());
    }
    if (static_cast<int64_t>(batch.size()) == batch_size || !drop_last) batches.push_back(batch);
    std::vector<int64_t> rest;
    for (int64_t index : remaining)
      if (std::find(batch.begin(), batch.end(), index) == batch.end()) rest.push_back(index);
    remaining = rest;
  }
  return batches;
}

// Every row exactly once, no text twice in a batch. (A partial batch can be followed by a
// full one: the rows it passed over need not clash with each other.)
void expect_valid_epoch(const TextDataset& d, std::vector<int64_t> rows,
                        const std::vector<std::vector<int64_t>>& batches, int64_t batch_size) {
  std::vector<int64_t> seen;
  for (size_t b = 0; b < batches.size(); ++b) {
    const auto& batch = batches[b];
    ASSERT_FALSE(batch.empty());
    ASSERT_LE(static_cast<int64_t>(batch.size()), batch_size);
    std::set<std::string> texts;
    for (int64_t r : batch) {
      std::set<std::string> own;
      for (const auto& col : d.columns) own.insert(col[static_cast<size_t>(r)]);
      for (const auto& t : own) ASSERT_TRUE(texts.insert(t).second) << "text '" << t << "' twice in batch " << b;
    }
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  std::sort(seen.begin(), seen.end());
  std::sort(rows.begin(), rows.end());
  ASSERT_EQ(seen, rows) << "rows lost or repeated";
}

TEST(DataSampler, NoDuplicatesEqualsTheSentenceTransformersLoop) {
  for (int negatives : {0, 25}) {
    const TextDataset d = clashing(400, 40, 60, negatives, 5);
    const std::vector<int64_t> rows = iota_rows(400, 2);  // a subset, like a train split
    GlobalBatchSampler s(d, rows, 16, 42, BatchSamplerKind::NoDuplicates);
    for (int64_t epoch = 0; epoch < 4; ++epoch) {
      const auto got = all_batches(s, epoch);
      EXPECT_EQ(got, reference_batches(d, rows, 16, 42, epoch)) << "epoch " << epoch;
      expect_valid_epoch(d, rows, got, 16);
      EXPECT_GT(got.size(), 200u / 16 + 1) << "the pools force partial batches";
    }
  }
}

TEST(DataSampler, DefaultKindIsConsecutiveChunksOfThePermutation) {
  const TextDataset d = clashing(50, 3, 3, 0, 1);
  GlobalBatchSampler s(d, iota_rows(50), 8, 7, BatchSamplerKind::Default);
  const auto batches = all_batches(s, 3);
  ASSERT_EQ(batches.size(), 7u);
  EXPECT_EQ(batches.back().size(), 2u);  // 50 = 6 * 8 + 2: the partial batch is kept
  std::vector<int64_t> flat;
  for (const auto& b : batches) flat.insert(flat.end(), b.begin(), b.end());
  EXPECT_EQ(flat, random_permutation(50, derive_seed(derive_seed(7, kSamplerStream), 3)));
  EXPECT_NE(all_batches(s, 0), all_batches(s, 1));
}

TEST(DataSampler, DropLastLeavesOutTheBatchesShortOfTheGlobalBatch) {
  // batch_sampler: 50 = 6 * 8 + 2, the partial batch left out, the others unchanged.
  const TextDataset d = clashing(50, 3, 3, 0, 1);
  GlobalBatchSampler keep(d, iota_rows(50), 8, 7, BatchSamplerKind::Default);
  GlobalBatchSampler drop(d, iota_rows(50), 8, 7, BatchSamplerKind::Default, true);
  auto kept = all_batches(keep, 3);
  kept.pop_back();
  EXPECT_EQ(all_batches(drop, 3), kept);
  // no_duplicates: every partial batch left out wherever it falls, as sentence-transformers'
  // loop with drop_last leaves them out.
  const TextDataset n = clashing(300, 40, 60, 0, 2);
  GlobalBatchSampler nd(n, iota_rows(300), 32, 1, BatchSamplerKind::NoDuplicates);
  GlobalBatchSampler nd_drop(n, iota_rows(300), 32, 1, BatchSamplerKind::NoDuplicates, true);
  for (int64_t epoch : {0, 1}) {
    const auto got = all_batches(nd_drop, epoch);
    EXPECT_EQ(got, reference_batches(n, iota_rows(300), 32, 1, epoch, true)) << "epoch " << epoch;
    EXPECT_LT(got.size(), all_batches(nd, epoch).size());
    for (const auto& b : got) EXPECT_EQ(b.size(), 32u);
  }
  // A state of one is no state of the other.
  EXPECT_THROW(nd_drop.restore(nd.state()), UserError);
}

// Labeled texts whose labels are drawn from `classes` names, some of them rare.
TextDataset labeled(int64_t n, int classes, uint64_t seed) {
  TextDataset d;
  d.format = DataFormat::Texts;
  d.roles = {"text"};
  d.columns.resize(1);
  SplitMix64 r(seed);
  std::map<std::string, int64_t> ids;
  for (int64_t i = 0; i < n; ++i) {
    // Squared draws: a few large classes and a tail of classes with one or two texts.
    const uint64_t u = r.below(static_cast<uint64_t>(classes));
    const std::string label = "c" + std::to_string(u * u / static_cast<uint64_t>(classes));
    const auto it = ids.emplace(label, static_cast<int64_t>(d.label_names.size())).first;
    if (it->second == static_cast<int64_t>(d.label_names.size())) d.label_names.push_back(label);
    d.scores.push_back(static_cast<float>(it->second));
    d.columns[0].push_back("t" + std::to_string(i));
    d.lines.push_back(i + 1);
  }
  return d;
}

// sentence-transformers' GroupByLabelBatchSampler.__iter__ (its round-robin form), transcribed
// over label strings with a deque per label and index permutations drawn from the same
// generator: labels with 2+ texts among `rows` in order of first appearance, each cut to an
// even count; each label's texts permuted; rounds of 2 texts per label in a permuted label
// order (the first two swapped where the round would start with the only label of the
// carried part), chunked into batches; stop below 2 labels; a tail of 4+ kept unless
// drop_last.
std::vector<std::vector<int64_t>> reference_grouped(const TextDataset& d, const std::vector<int64_t>& rows,
                                                    int64_t batch_size, uint64_t seed, int64_t epoch,
                                                    bool drop_last) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<int64_t>> groups;
  for (int64_t r : rows) {
    const std::string& label = d.label_names[static_cast<size_t>(d.scores[static_cast<size_t>(r)])];
    if (groups.count(label) == 0) order.push_back(label);
    groups[label].push_back(r);
  }
  SplitMix64 rng(derive_seed(derive_seed(derive_seed(seed, kSamplerStream), static_cast<uint64_t>(epoch)),
                             kGroupStream));
  auto randperm = [&](size_t n) {
    std::vector<int64_t> p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(i);
    shuffle_in_place(p, rng);
    return p;
  };
  std::vector<std::string> remaining;
  std::map<std::string, std::deque<int64_t>> queues;
  for (const auto& label : order) {
    std::vector<int64_t>& g = groups[label];
    if (g.size() < 2) continue;
    g.resize(g.size() / 2 * 2);
    for (int64_t i : randperm(g.size())) queues[label].push_back(g[static_cast<size_t>(i)]);
    remaining.push_back(label);
  }
  auto label_of = [&](int64_t r) { return d.label_names[static_cast<size_t>(d.scores[static_cast<size_t>(r)])]; };
  std::vector<std::vector<int64_t>> out;
  std::vector<int64_t> batch;
  while (remaining.size() >= 2) {
    std::vector<std::string> shuffled;
    for (int64_t i : randperm(remaining.size())) shuffled.push_back(remaining[static_cast<size_t>(i)]);
    remaining = shuffled;
    std::set<std::string> carried;
    for (int64_t r : batch) carried.insert(label_of(r));
    if (carried.size() == 1 && *carried.begin() == remaining[0]) std::swap(remaining[0], remaining[1]);
    for (const auto& label : remaining) {
      for (int k = 0; k < 2; ++k) {
        batch.push_back(queues[label].front());
        queues[label].pop_front();
      }
      if (static_cast<int64_t>(batch.size()) >= batch_size) {
        out.emplace_back(batch.begin(), batch.begin() + batch_size);
        batch.erase(batch.begin(), batch.begin() + batch_size);
      }
    }
    std::vector<std::string> left;
    for (const auto& label : remaining)
      if (!queues[label].empty()) left.push_back(label);
    remaining = left;
  }
  if (!drop_last && batch.size() >= 4) out.push_back(batch);
  return out;
}

TEST(DataSampler, GroupByLabelEqualsTheSentenceTransformersLoop) {
  const TextDataset d = labeled(400, 30, 5);
  // Training rows in a shuffled order (a split's), so that group order is theirs, not the file's.
  const std::vector<int64_t> rows = random_permutation(360, 9);
  for (int64_t batch_size : {4, 16}) {
    for (bool drop_last : {false, true}) {
      GlobalBatchSampler s(d, rows, batch_size, 3, BatchSamplerKind::GroupByLabel, drop_last);
      for (int64_t epoch : {0, 1, 2}) {
        const auto got = all_batches(s, epoch);
        EXPECT_EQ(got, reference_grouped(d, rows, batch_size, 3, epoch, drop_last)) << "epoch " << epoch;
        // Every batch holds 2 or more classes of 2 or more texts each; no text twice.
        std::set<int64_t> seen;
        for (size_t b = 0; b < got.size(); ++b) {
          if (b + 1 < got.size() || drop_last) {
            EXPECT_EQ(static_cast<int64_t>(got[b].size()), batch_size);
          }
          std::map<float, int> per_class;
          for (int64_t r : got[b]) {
            per_class[d.scores[static_cast<size_t>(r)]]++;
            EXPECT_TRUE(seen.insert(r).second) << r;
          }
          EXPECT_GE(per_class.size(), 2u) << "batch " << b;
          for (const auto& [label, n] : per_class) EXPECT_GE(n, 2) << "batch " << b;
        }
      }
      EXPECT_NE(all_batches(s, 0), all_batches(s, 1));
    }
  }
  // A class of one text is left out, one of three loses a text; the rounds stop when one
  // class is left (its last pair waits), and a tail of 2 is no batch.
  TextDataset small = labeled(0, 1, 1);
  for (const char* label : {"x", "y", "x", "z", "x", "y", "x", "x"}) {
    const auto it = std::find(small.label_names.begin(), small.label_names.end(), label);
    if (it == small.label_names.end()) small.label_names.push_back(label);
    small.scores.push_back(static_cast<float>(
        std::find(small.label_names.begin(), small.label_names.end(), label) - small.label_names.begin()));
    small.columns[0].push_back(std::to_string(small.columns[0].size()));
    small.lines.push_back(static_cast<int64_t>(small.lines.size()) + 1);
  }
  GlobalBatchSampler s(small, iota_rows(8), 8, 1, BatchSamplerKind::GroupByLabel);
  const auto batches = all_batches(s, 0);
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].size(), 4u);  // a pair of x, the pair of y; x's second pair waits
  std::map<std::string, int> count;
  for (int64_t r : batches[0]) count[small.label_names[static_cast<size_t>(small.scores[static_cast<size_t>(r)])]]++;
  EXPECT_EQ(count, (std::map<std::string, int>{{"x", 2}, {"y", 2}}));

  // Labeled texts, 2 classes that qualify, and an even batch of 4 or more only; its state
  // is no other kind's.
  EXPECT_THROW(GlobalBatchSampler(small, iota_rows(8), 6 + 1, 1, BatchSamplerKind::GroupByLabel), UserError);
  EXPECT_THROW(GlobalBatchSampler(small, iota_rows(8), 2, 1, BatchSamplerKind::GroupByLabel), UserError);
  EXPECT_THROW(GlobalBatchSampler(small, {0, 2, 4, 3}, 4, 1, BatchSamplerKind::GroupByLabel), UserError);
  EXPECT_THROW(GlobalBatchSampler(clashing(10, 3, 3, 0, 1), iota_rows(10), 8, 1, BatchSamplerKind::GroupByLabel),
               UserError);
  GlobalBatchSampler plain(small, iota_rows(8), 8, 1, BatchSamplerKind::Default);
  EXPECT_THROW(s.restore(plain.state()), UserError);
  EXPECT_EQ(parse_batch_sampler("group_by_label"), BatchSamplerKind::GroupByLabel);
}

TEST(DataSampler, RankSlicesCoverTheGlobalBatchForAnyWorldSize) {
  for (int64_t rows : {0, 1, 3, 7, 512, 513, 1023}) {
    for (int world : {1, 2, 3, 4, 8}) {
      int64_t expect_first = 0;
      for (int r = 0; r < world; ++r) {
        const auto [first, last] = GlobalBatchSampler::rank_slice(rows, r, world);
        EXPECT_EQ(first, expect_first);
        EXPECT_TRUE(last - first == rows / world || last - first == rows / world + 1);
        EXPECT_EQ(last - first, rows / world + (r < rows % world ? 1 : 0));
        expect_first = last;
      }
      EXPECT_EQ(expect_first, rows);
    }
  }
  // The global batches never depend on the world size: the sampler does not know it, and
  // the slices of world 1, 2 and 4 concatenate to the same batch.
  const TextDataset d = clashing(300, 50, 50, 0, 2);
  GlobalBatchSampler s(d, iota_rows(300), 32, 1, BatchSamplerKind::NoDuplicates);
  for (const auto& batch : all_batches(s, 0)) {
    for (int world : {1, 2, 4}) {
      std::vector<int64_t> joined;
      for (int r = 0; r < world; ++r) {
        const auto [first, last] = GlobalBatchSampler::rank_slice(static_cast<int64_t>(batch.size()), r, world);
        joined.insert(joined.end(), batch.begin() + first, batch.begin() + last);
      }
      ASSERT_EQ(joined, batch);
    }
  }
}

TEST(DataSampler, ResumeFromASavedStateReproducesTheRemainingBatches) {
  const TextDataset d = clashing(500, 60, 80, 0, 3);
  const std::vector<int64_t> rows = iota_rows(500);
  GlobalBatchSampler a(d, rows, 24, 11, BatchSamplerKind::NoDuplicates);
  a.set_epoch(2);
  std::vector<int64_t> b;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.next(&b));
  const SamplerState saved = a.state();
  EXPECT_EQ(saved.epoch, 2);
  EXPECT_EQ(saved.position, 5);
  EXPECT_EQ(saved.seed, 11u);
  std::vector<std::vector<int64_t>> rest_a, rest_b;
  while (a.next(&b)) rest_a.push_back(b);
  const auto epoch3_a = all_batches(a, 3);

  GlobalBatchSampler c(d, rows, 24, 11, BatchSamplerKind::NoDuplicates);
  c.restore(saved);
  while (c.next(&b)) rest_b.push_back(b);
  EXPECT_EQ(rest_a, rest_b);
  EXPECT_EQ(all_batches(c, 3), epoch3_a);

  // At the end of an epoch: nothing left in it.
  SamplerState end = saved;
  end.position = a.plan_epoch(2).num_batches();
  c.restore(end);
  EXPECT_FALSE(c.next(&b));

  SamplerState wrong = saved;
  wrong.seed = 12;
  EXPECT_THROW(c.restore(wrong), UserError);
  GlobalBatchSampler other(d, rows, 32, 11, BatchSamplerKind::NoDuplicates);
  EXPECT_THROW(other.restore(saved), UserError);  // another batch size: another fingerprint
  SamplerState past = saved;
  past.position = 10000;
  EXPECT_THROW(c.restore(past), UserError);
}

TEST(DataSampler, FinancialRagSixEpochsAtGlobalBatch512) {
  DT_REQUIRE_DATA("financial-rag/pairs.jsonl");
  const TextDataset d = read_text_dataset(test::data_dir() + "/financial-rag/pairs.jsonl",
                                          {{"anchor", "anchor"}, {"positive", "positive"}},
                                          BadRowPolicy::Skip);
  const std::vector<int64_t> rows = iota_rows(d.size());
  GlobalBatchSampler s(d, rows, 512, 42, BatchSamplerKind::NoDuplicates);
  for (int64_t epoch = 0; epoch < 6; ++epoch) {
    const auto batches = all_batches(s, epoch);
    expect_valid_epoch(d, rows, batches, 512);
    // 6998 rows: 13 full batches and a remainder; the repeated contexts (one appears 15
    // times) can add a few more partial batches at the end of an epoch.
    EXPECT_GE(batches.size(), 14u);
    EXPECT_LE(batches.size(), 30u);
  }
}

// Under mpirun: every rank draws the same global batches and the rank slices, gathered in
// rank order, rebuild each of them.
TEST(MpiDataSampler, RankSlicesGatherIntoTheSameGlobalBatches) {
  Dist& dist_ = dist();
  const TextDataset d = clashing(1000, 120, 150, 0, 9);
  GlobalBatchSampler s(d, iota_rows(1000), 64, 3, BatchSamplerKind::NoDuplicates);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    const auto batches = all_batches(s, epoch);
    const int64_t n = dist_.comm->all_reduce_int(static_cast<int64_t>(batches.size()), ReduceOp::Max);
    ASSERT_EQ(n, static_cast<int64_t>(batches.size()));
    for (const auto& batch : batches) {
      const auto [first, last] =
          GlobalBatchSampler::rank_slice(static_cast<int64_t>(batch.size()), dist_.rank, dist_.world_size);
      std::string mine(reinterpret_cast<const char*>(batch.data() + first),
                       static_cast<size_t>(last - first) * sizeof(int64_t));
      std::vector<int64_t> joined;
      for (const std::string& part : dist_.comm->all_gather_bytes(mine)) {
        const size_t k = part.size() / sizeof(int64_t);
        const size_t at = joined.size();
        joined.resize(at + k);
        std::memcpy(joined.data() + at, part.data(), part.size());
      }
      ASSERT_EQ(joined, batch);
    }
  }
}

}  // namespace
}  // namespace disttune
