#include "data/sampler.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string_view>
#include <unordered_map>

#include "common/check.h"
#include "data/random.h"

namespace disttune {

BatchSamplerKind parse_batch_sampler(const std::string& s) {
  if (s == "batch_sampler") return BatchSamplerKind::Default;
  if (s == "no_duplicates") return BatchSamplerKind::NoDuplicates;
  if (s == "group_by_label") return BatchSamplerKind::GroupByLabel;
  DT_FAIL("batch_sampler: expected 'batch_sampler', 'no_duplicates' or 'group_by_label', got '", s, "'");
}

std::vector<int64_t> EpochPlan::batch(int64_t b) const {
  DT_CHECK(b >= 0 && b < num_batches(), "batch ", b, " of ", num_batches());
  return std::vector<int64_t>(rows.begin() + offsets[static_cast<size_t>(b)],
                              rows.begin() + offsets[static_cast<size_t>(b) + 1]);
}

namespace {

// FNV-1a over 64-bit words: a stable fingerprint, not a security hash.
struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ull;
    }
  }
};

}  // namespace

GlobalBatchSampler::GlobalBatchSampler(const TextDataset& data, std::vector<int64_t> rows,
                                       int64_t global_batch_size, uint64_t seed,
                                       BatchSamplerKind kind, bool drop_last)
    : rows_(std::move(rows)), batch_size_(global_batch_size), seed_(seed), kind_(kind), drop_last_(drop_last) {
  DT_REQUIRE(batch_size_ > 0, "global batch size must be positive, got ", batch_size_);
  for (int64_t r : rows_) DT_CHECK(r >= 0 && r < data.size(), "row ", r, " out of range");
  Fnv fp;
  fp.add(static_cast<uint64_t>(rows_.size()));
  fp.add(static_cast<uint64_t>(batch_size_));
  fp.add(static_cast<uint64_t>(kind_));
  if (drop_last_) fp.add(0x64726f70);  // only with drop_last: older states keep their fingerprint
  for (int64_t r : rows_) fp.add(static_cast<uint64_t>(r));
  if (kind_ == BatchSamplerKind::NoDuplicates) {
    texts_per_row_ = static_cast<int>(data.columns.size());
    text_ids_.resize(rows_.size() * static_cast<size_t>(texts_per_row_));
    std::unordered_map<std::string_view, uint32_t> ids;
    ids.reserve(rows_.size() * static_cast<size_t>(texts_per_row_));
    for (size_t i = 0; i < rows_.size(); ++i) {
      for (int c = 0; c < texts_per_row_; ++c) {
        const std::string& text = data.columns[static_cast<size_t>(c)][static_cast<size_t>(rows_[i])];
        const auto it = ids.emplace(text, static_cast<uint32_t>(ids.size())).first;
        DT_CHECK(ids.size() < std::numeric_limits<uint32_t>::max(), "too many distinct texts");
        text_ids_[i * static_cast<size_t>(texts_per_row_) + static_cast<size_t>(c)] = it->second;
      }
    }
    num_texts_ = static_cast<int64_t>(ids.size());
    for (uint32_t t : text_ids_) fp.add(t);
  }
  if (kind_ == BatchSamplerKind::GroupByLabel) {
    DT_REQUIRE(data.labeled(), "batch sampler group_by_label needs labeled texts (data.columns text and label); ",
               data.source, " holds ", data.format_name());
    DT_REQUIRE(batch_size_ % 2 == 0 && batch_size_ >= 4,
               "batch sampler group_by_label needs an even global batch size of 4 or more, got ", batch_size_);
    std::vector<int64_t> group_of(data.label_names.size(), -1);  // class id -> group, by first appearance
    for (int64_t r : rows_) {
      const size_t label = static_cast<size_t>(data.scores[static_cast<size_t>(r)]);
      if (group_of[label] < 0) {
        group_of[label] = static_cast<int64_t>(groups_.size());
        groups_.emplace_back();
      }
      groups_[static_cast<size_t>(group_of[label])].push_back(r);
    }
    std::vector<std::vector<int64_t>> kept;
    for (auto& g : groups_) {
      if (g.size() < 2) continue;
      g.resize(g.size() / 2 * 2);
      fp.add(g.size());
      for (int64_t r : g) fp.add(static_cast<uint64_t>(r));
      kept.push_back(std::move(g));
    }
    groups_ = std::move(kept);
    DT_REQUIRE(groups_.size() >= 2, "batch sampler group_by_label needs 2 or more classes of 2 or more texts among "
               "the training rows; ", groups_.size(), " qualify");
  }
  fingerprint_ = fp.h;
  set_epoch(0);
}

EpochPlan GlobalBatchSampler::plan_epoch(int64_t epoch) const {
  EpochPlan plan = plan_all(epoch);
  if (!drop_last_) return plan;
  EpochPlan full;
  full.offsets.push_back(0);
  for (int64_t b = 0; b < plan.num_batches(); ++b) {
    if (plan.batch_size(b) < batch_size_) continue;
    full.rows.insert(full.rows.end(), plan.rows.begin() + plan.offsets[b], plan.rows.begin() + plan.offsets[b + 1]);
    full.offsets.push_back(static_cast<int64_t>(full.rows.size()));
  }
  return full;
}

EpochPlan GlobalBatchSampler::plan_all(int64_t epoch) const {
  DT_CHECK(epoch >= 0, "negative epoch ", epoch);
  const int64_t m = static_cast<int64_t>(rows_.size());
  const std::vector<int64_t> perm =
      random_permutation(m, derive_seed(derive_seed(seed_, kSamplerStream), static_cast<uint64_t>(epoch)));
  EpochPlan plan;
  plan.rows.reserve(static_cast<size_t>(m));
  plan.offsets.push_back(0);
  if (kind_ == BatchSamplerKind::Default) {
    for (int64_t p : perm) plan.rows.push_back(rows_[static_cast<size_t>(p)]);
    for (int64_t end = batch_size_; end < m + batch_size_; end += batch_size_)
      plan.offsets.push_back(std::min(end, m));
    return plan;
  }
  if (kind_ == BatchSamplerKind::GroupByLabel) return plan_grouped(epoch);

  // No duplicates. The rows not yet drawn form a singly linked list in permutation order
  // (node i = perm[i]; node m is the end); drawing a row unlinks it, so the walk for the
  // next batch starts with the rows passed over so far, in their original order.
  const size_t k = static_cast<size_t>(texts_per_row_);
  std::vector<int64_t> next(static_cast<size_t>(m) + 1);
  for (int64_t i = 0; i < m; ++i) next[static_cast<size_t>(i)] = i + 1;
  int64_t head = m > 0 ? 0 : m;
  // in_batch[t] == b + 1: text t is in batch b. Avoids clearing a set per batch.
  std::vector<int64_t> in_batch(static_cast<size_t>(num_texts_), 0);
  int64_t b = 0;
  while (head != m) {
    ++b;
    int64_t taken = 0;
    int64_t prev = -1;
    int64_t cur = head;
    while (cur != m) {
      const size_t local = static_cast<size_t>(perm[static_cast<size_t>(cur)]);
      const uint32_t* t = &text_ids_[local * k];
      bool clash = false;
      for (size_t j = 0; j < k && !clash; ++j) clash = in_batch[t[j]] == b;
      const int64_t after = next[static_cast<size_t>(cur)];
      if (clash) {
        prev = cur;
        cur = after;
        continue;
      }
      plan.rows.push_back(rows_[local]);
      if (prev < 0) {
        head = after;
      } else {
        next[static_cast<size_t>(prev)] = after;
      }
      if (++taken == batch_size_) break;
      for (size_t j = 0; j < k; ++j) in_batch[t[j]] = b;
      cur = after;
    }
    plan.offsets.push_back(static_cast<int64_t>(plan.rows.size()));
  }
  return plan;
}

EpochPlan GlobalBatchSampler::plan_grouped(int64_t epoch) const {
  SplitMix64 rng(derive_seed(derive_seed(derive_seed(seed_, kSamplerStream), static_cast<uint64_t>(epoch)),
                             kGroupStream));
  std::vector<std::vector<int64_t>> queues = groups_;
  for (auto& q : queues) shuffle_in_place(q, rng);
  std::vector<size_t> taken(queues.size(), 0);
  std::vector<int64_t> remaining(queues.size());
  std::iota(remaining.begin(), remaining.end(), int64_t{0});
  EpochPlan plan;
  plan.offsets.push_back(0);
  std::vector<int64_t> batch_groups;  // the class of each row of the batch being filled
  while (remaining.size() >= 2) {
    shuffle_in_place(remaining, rng);
    // A carried part of one class must not meet that class first: it could fill the batch
    // with one class and leave it no negative.
    const bool one_class = !batch_groups.empty() &&
                           std::all_of(batch_groups.begin(), batch_groups.end(),
                                       [&](int64_t g) { return g == batch_groups.front(); });
    if (one_class && remaining[0] == batch_groups.front()) std::swap(remaining[0], remaining[1]);
    for (int64_t g : remaining) {
      const size_t gi = static_cast<size_t>(g);
      for (int k = 0; k < 2; ++k) {
        plan.rows.push_back(queues[gi][taken[gi]++]);
        batch_groups.push_back(g);
      }
      if (static_cast<int64_t>(batch_groups.size()) == batch_size_) {
        plan.offsets.push_back(static_cast<int64_t>(plan.rows.size()));
        batch_groups.clear();
      }
    }
    auto emptied = [&](int64_t g) {
      const size_t gi = static_cast<size_t>(g);
      return taken[gi] == queues[gi].size();
    };
    remaining.erase(std::remove_if(remaining.begin(), remaining.end(), emptied), remaining.end());
  }
  // A tail of 4 or more rows holds two classes of two texts each; a shorter one is left out.
  if (batch_groups.size() >= 4) {
    plan.offsets.push_back(static_cast<int64_t>(plan.rows.size()));
  } else {
    plan.rows.resize(plan.rows.size() - batch_groups.size());
  }
  return plan;
}

void GlobalBatchSampler::set_epoch(int64_t epoch) {
  plan_ = plan_epoch(epoch);
  epoch_ = epoch;
  position_ = 0;
}

bool GlobalBatchSampler::next(std::vector<int64_t>* batch) {
  if (position_ >= plan_.num_batches()) return false;
  const size_t b = static_cast<size_t>(position_);
  batch->assign(plan_.rows.begin() + plan_.offsets[b], plan_.rows.begin() + plan_.offsets[b + 1]);
  ++position_;
  return true;
}

SamplerState GlobalBatchSampler::state() const {
  return SamplerState{epoch_, position_, seed_, fingerprint_};
}

void GlobalBatchSampler::restore(const SamplerState& s) {
  DT_REQUIRE(s.seed == seed_, "sampler state: seed ", s.seed, " differs from this run's seed ",
             seed_);
  DT_REQUIRE(s.fingerprint == 0 || s.fingerprint == fingerprint_,
             "sampler state: taken with different training rows, batch size or batch sampler "
             "(fingerprint ", s.fingerprint, ", this run ", fingerprint_, ")");
  DT_REQUIRE(s.epoch >= 0 && s.position >= 0, "sampler state: negative epoch or position");
  EpochPlan plan = plan_epoch(s.epoch);
  DT_REQUIRE(s.position <= plan.num_batches(), "sampler state: position ", s.position,
             " is past the end of epoch ", s.epoch, " (", plan.num_batches(), " batches)");
  plan_ = std::move(plan);
  epoch_ = s.epoch;
  position_ = s.position;
}

std::pair<int64_t, int64_t> GlobalBatchSampler::rank_slice(int64_t batch_rows, int rank,
                                                           int world) {
  DT_CHECK(world > 0 && rank >= 0 && rank < world && batch_rows >= 0, "rank ", rank, " of ",
           world, ", ", batch_rows, " rows");
  const int64_t base = batch_rows / world;
  const int64_t extra = batch_rows % world;
  const int64_t first = rank * base + std::min<int64_t>(rank, extra);
  return {first, first + base + (rank < extra ? 1 : 0)};
}

}  // namespace disttune
