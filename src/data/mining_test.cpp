#include "data/mining.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "common/env.h"
#include "data/bm25.h"
#include "data/bm25_scorer.h"
#include "data/text_dataset.h"
#include "dist/dist.h"
#include "test_util.h"

namespace disttune {
namespace {

// Scores from a table: score[query text][doc text]; documents missing from a query's row
// are not candidates for it (as BM25 returns only documents sharing a term).
class TableScorer final : public NegativeScorer {
 public:
  explicit TableScorer(std::map<std::string, std::map<std::string, float>> t) : table_(std::move(t)) {}
  std::string name() const override { return "table"; }
  void prepare(Dist&, const std::vector<std::string>& q, const std::vector<std::string>& c) override {
    queries_ = q;
    corpus_ = c;
  }
  std::vector<std::vector<ScoredDoc>> top_k(Dist&, int64_t b, int64_t e, int64_t k) override {
    last_k = k;
    std::vector<std::vector<ScoredDoc>> out;
    for (int64_t q = b; q < e; ++q) {
      std::vector<ScoredDoc> v;
      const auto& row = table_.at(queries_[static_cast<size_t>(q)]);
      for (size_t d = 0; d < corpus_.size(); ++d)
        if (row.count(corpus_[d])) v.push_back({static_cast<int64_t>(d), row.at(corpus_[d])});
      std::sort(v.begin(), v.end(), [](const ScoredDoc& a, const ScoredDoc& b) {
        return a.score > b.score || (a.score == b.score && a.doc < b.doc);
      });
      if (static_cast<int64_t>(v.size()) > k) v.resize(static_cast<size_t>(k));
      out.push_back(v);
    }
    return out;
  }
  std::vector<float> score_pairs(Dist&, const std::vector<std::pair<int64_t, int64_t>>& pairs) override {
    std::vector<float> out;
    for (const auto& [q, d] : pairs) {
      const auto& row = table_.at(queries_[static_cast<size_t>(q)]);
      const auto it = row.find(corpus_[static_cast<size_t>(d)]);
      out.push_back(it == row.end() ? 0.0f : it->second);
    }
    return out;
  }
  int64_t last_k = 0;

 private:
  std::map<std::string, std::map<std::string, float>> table_;
  std::vector<std::string> queries_, corpus_;
};

// The texts of row i's negatives.
std::vector<std::string> negs(const MiningResult& r, size_t i) {
  std::vector<std::string> v;
  for (int64_t d : r.negatives[i]) v.push_back(r.corpus[static_cast<size_t>(d)]);
  return v;
}
using Texts = std::vector<std::string>;

// One anchor "q" with positive "P" (0.80) and candidates D1..D6; "P" is also in the corpus.
TableScorer one_anchor() {
  return TableScorer({{"q", {{"P", 0.80f}, {"D1", 0.95f}, {"D2", 0.78f}, {"D3", 0.74f}, {"D4", 0.70f},
                             {"D5", 0.50f}, {"D6", 0.20f}}}});
}
const Texts kCorpus = {"D1", "D2", "D3", "D4", "D5", "D6", "P"};

MiningResult mine1(TableScorer& s, MiningOptions o) {
  return mine_hard_negatives(dist(), {"q"}, {"P"}, kCorpus, s, o);
}

TEST(DataMining, HandWorkedRangesAndFilters) {
  MiningOptions o;
  o.num_negatives = 2;
  {
    // No filter: range_max = 0 + 2 + 1 = 3; the best non-positive candidates.
    TableScorer s = one_anchor();
    const MiningResult r = mine1(s, o);
    EXPECT_EQ(r.corpus, kCorpus);  // "P" from the corpus and the positive are one document
    EXPECT_EQ(negs(r, 0), (Texts{"D1", "D2"}));
    EXPECT_EQ(r.negative_scores[0], (std::vector<float>{0.95f, 0.78f}));
    EXPECT_FLOAT_EQ(r.positive_scores[0], 0.80f);
    EXPECT_EQ(r.stats.range_max, 3);
    EXPECT_EQ(s.last_k, 4);  // range_max + max_positives
    EXPECT_EQ(r.stats.positives_excluded, 1);
    EXPECT_EQ(r.stats.candidates, 3);
  }
  {
    // range_min 1 skips D1; range_max 3 keeps D1 D2 D3 -> D2 D3.
    MiningOptions x = o;
    x.range_min = 1;
    x.range_max = 3;
    TableScorer s = one_anchor();
    EXPECT_EQ(negs(mine1(s, x), 0), (Texts{"D2", "D3"}));
    // range 2..3: only D3 is left, fewer than wanted.
    x.range_min = 2;
    TableScorer s2 = one_anchor();
    const MiningResult r = mine1(s2, x);
    EXPECT_EQ(negs(r, 0), (Texts{"D3"}));
    EXPECT_EQ(r.stats.rows_short, 1);
    EXPECT_EQ(r.stats.rows_without, 0);
    EXPECT_EQ(r.stats.output_rows, 1);
  }
  {
    // absolute margin 0.05: D1 (0.95 + 0.05 > 0.8) and D2 (0.83 > 0.8) are too close to the
    // positive; D3 (0.79) stays. range_max = 0 + 2 * 10 + 1 = 21.
    MiningOptions x = o;
    x.absolute_margin = 0.05;
    TableScorer s = one_anchor();
    const MiningResult r = mine1(s, x);
    EXPECT_EQ(negs(r, 0), (Texts{"D3", "D4"}));
    EXPECT_EQ(r.stats.range_max, 21);
    EXPECT_EQ(r.stats.dropped_absolute_margin, 2);
    EXPECT_EQ(r.stats.candidates, 6);
    // range_min counts among the candidates that pass the filters (as sentence-transformers).
    x.range_min = 1;
    TableScorer s2 = one_anchor();
    EXPECT_EQ(negs(mine1(s2, x), 0), (Texts{"D4", "D5"}));
  }
  {
    // relative margin 0.1: drop score > 0.8 * 0.9 = 0.72 -> D1 D2 D3 go.
    MiningOptions x = o;
    x.relative_margin = 0.1;
    TableScorer s = one_anchor();
    const MiningResult r = mine1(s, x);
    EXPECT_EQ(negs(r, 0), (Texts{"D4", "D5"}));
    EXPECT_EQ(r.stats.dropped_relative_margin, 3);
  }
  {
    // max_score 0.75 drops D1 D2; min_score 0.6 drops D5 D6: only D3 D4 remain.
    MiningOptions x = o;
    x.num_negatives = 3;
    x.max_score = 0.75;
    x.min_score = 0.6;
    TableScorer s = one_anchor();
    const MiningResult r = mine1(s, x);
    EXPECT_EQ(negs(r, 0), (Texts{"D3", "D4"}));
    EXPECT_EQ(r.stats.dropped_max_score, 2);
    EXPECT_EQ(r.stats.dropped_min_score, 2);
    // Each candidate is counted once, by the first filter that drops it.
    x.absolute_margin = 0.08;  // drops D1 D2 D3 (0.82 > 0.8) before max_score sees them
    TableScorer s2 = one_anchor();
    const MiningResult r2 = mine1(s2, x);
    EXPECT_EQ(negs(r2, 0), (Texts{"D4"}));
    EXPECT_EQ(r2.stats.dropped_absolute_margin, 3);
    EXPECT_EQ(r2.stats.dropped_max_score, 0);
    EXPECT_EQ(r2.stats.dropped_min_score, 2);
  }
}

TEST(DataMining, RowsSharingAnAnchorShareTheirPositivesAndDuplicatesAreOneDocument) {
  // Rows: (q, P1), (q, P2), (r, P1), (s, P1) -- P1 appears three times: one document.
  TableScorer s({{"q", {{"P1", 0.9f}, {"P2", 0.6f}, {"X", 0.7f}, {"Y", 0.65f}, {"Z", 0.1f}}},
                 {"r", {{"P1", 0.5f}, {"P2", 0.8f}, {"X", 0.3f}}},
                 {"s", {{"P1", 0.5f}, {"X", 0.2f}}}});
  MiningOptions o;
  o.num_negatives = 2;
  o.absolute_margin = 0.0;
  const MiningResult r =
      mine_hard_negatives(dist(), {"q", "q", "r", "s"}, {"P1", "P2", "P1", "P1"}, {"X", "Y", "Z"}, s, o);
  EXPECT_EQ(r.corpus, (Texts{"X", "Y", "Z", "P1", "P2"}));
  EXPECT_EQ(r.stats.distinct_anchors, 3);
  EXPECT_EQ(r.stats.max_positives, 2);
  // q: P1 and P2 are both its positives; the margin uses the lower positive score (0.6), so
  // X (0.7) and Y (0.65) are dropped as too close: only Z is left.
  EXPECT_EQ(negs(r, 0), (Texts{"Z"}));
  EXPECT_EQ(negs(r, 1), (Texts{"Z"}));
  EXPECT_FLOAT_EQ(r.positive_scores[0], 0.9f);
  EXPECT_FLOAT_EQ(r.positive_scores[1], 0.6f);
  // r: P2 is another row's positive, so a candidate; with margin 0 it scores above r's
  // positive (0.8 > 0.5) and is dropped. X stays.
  EXPECT_EQ(negs(r, 2), (Texts{"X"}));
  EXPECT_EQ(negs(r, 3), (Texts{"X"}));
  EXPECT_EQ(r.stats.dropped_absolute_margin, 3);
  EXPECT_EQ(r.stats.positives_excluded, 4);  // P1, P2 for q; P1 for r; P1 for s
  EXPECT_EQ(r.stats.negatives, 4);
  EXPECT_EQ(r.stats.rows_short, 4);
}

TEST(DataMining, RandomSamplingIsSeededAndDrawsFromTheRange) {
  std::map<std::string, std::map<std::string, float>> table;
  Texts anchors, positives, corpus;
  for (int d = 0; d < 30; ++d) corpus.push_back("D" + std::to_string(d));
  for (int q = 0; q < 20; ++q) {
    const std::string a = "q" + std::to_string(q), p = "P" + std::to_string(q);
    anchors.push_back(a);
    positives.push_back(p);
    auto& row = table[a];
    row[p] = 1.0f;
    for (int d = 0; d < 30; ++d) row["D" + std::to_string(d)] = 0.5f - 0.01f * static_cast<float>((d + q) % 30);
  }
  MiningOptions o;
  o.num_negatives = 4;
  o.range_min = 2;
  o.range_max = 12;
  o.sampling = MiningSampling::Random;
  auto run = [&](uint64_t seed) {
    MiningOptions x = o;
    x.seed = seed;
    x.queries_per_step = 3;
    TableScorer s(table);
    return mine_hard_negatives(dist(), anchors, positives, corpus, s, x);
  };
  const MiningResult a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a.negatives, b.negatives);
  EXPECT_NE(a.negatives, c.negatives);
  TableScorer top_s(table);
  MiningOptions top = o;
  top.sampling = MiningSampling::Top;
  top.range_max = 50;
  top.range_min = 0;
  const MiningResult all = mine_hard_negatives(dist(), anchors, positives, corpus, top_s, top);
  for (size_t i = 0; i < anchors.size(); ++i) {
    ASSERT_EQ(a.negatives[i].size(), 4u);
    // Drawn from ranks 2..11 of the candidates (the positive excluded), in score order.
    for (size_t j = 0; j < 4; ++j) {
      const float sc = a.negative_scores[i][j];
      EXPECT_LT(sc, all.negative_scores[i][1]) << i;   // below the two skipped
      EXPECT_GE(sc, 0.5f - 0.01f * 11 - 1e-6f) << i;  // within the first 12
      if (j) {
        EXPECT_LT(sc, a.negative_scores[i][j - 1]);
      }
    }
  }
  // A pool no larger than num_negatives is taken whole.
  MiningOptions few = o;
  few.range_min = 8;
  few.range_max = 11;
  TableScorer s(table);
  const MiningResult f = mine_hard_negatives(dist(), anchors, positives, corpus, s, few);
  EXPECT_EQ(f.negatives[0].size(), 3u);
}

TEST(DataMining, OptionErrors) {
  auto error = [&](MiningOptions o) {
    TableScorer s = one_anchor();
    try {
      mine1(s, o);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  MiningOptions o;
  o.num_negatives = 0;
  EXPECT_EQ(error(o), "mining: num_negatives must be at least 1, got 0");
  o = {};
  o.range_min = 5;
  o.range_max = 5;
  EXPECT_EQ(error(o), "mining: range_max (5) must be greater than range_min (5)");
  o = {};
  o.relative_margin = 1.0;
  EXPECT_EQ(error(o), "mining: relative_margin must be in [0, 1), got 1");
  o = {};
  o.min_score = 0.9;
  o.max_score = 0.1;
  EXPECT_EQ(error(o), "mining: min_score (0.9) is above max_score (0.1): no candidate could pass");
  EXPECT_THROW(parse_mining_format("pairs"), UserError);
  EXPECT_EQ(parse_mining_format("n-tuple"), MiningFormat::NTuple);
  EXPECT_EQ(parse_mining_format("n-tuple-scores"), MiningFormat::NTupleScores);
  EXPECT_EQ(parse_mining_format("labeled-pair"), MiningFormat::LabeledPair);
  EXPECT_EQ(parse_mining_sampling("random"), MiningSampling::Random);
}

// Small question/context pairs for BM25: each question shares words with its own context
// and with some others.
void pairs(Texts* anchors, Texts* positives) {
  *anchors = {"what was the revenue growth in 2021",
              "how much cash did the company hold",
              "what were operating expenses in 2021",
              "who is the chief executive officer",
              "what was the revenue growth in 2021"};  // a repeated anchor
  *positives = {"Revenue growth in 2021 was 12 percent, driven by cloud revenue.",
                "The company held 3 billion dollars in cash and cash equivalents.",
                "Operating expenses in 2021 rose to 5 billion dollars.",
                "The chief executive officer is Jane Doe, since 2019.",
                "Revenue in 2021 grew faster than operating expenses."};
}

TEST(DataMining, Bm25NeverOffersTheOwnPositiveOrACopyOfIt) {
  Texts anchors, positives;
  pairs(&anchors, &positives);
  // A copy of row 1's positive in the corpus, and an exact duplicate of row 2's positive.
  const Texts corpus = {positives[1], "Cash flow from operations was strong in 2021.", positives[2]};
  Bm25Scorer scorer;
  MiningOptions o;
  o.num_negatives = 10;
  o.range_max = 20;
  const MiningResult r = mine_hard_negatives(dist(), anchors, positives, corpus, scorer, o);
  EXPECT_EQ(r.corpus.size(), 6u);  // 3 corpus texts (2 of them positives) + 3 other positives
  const Bm25Index index(r.corpus);
  for (size_t i = 0; i < anchors.size(); ++i) {
    for (const std::string& n : negs(r, i)) {
      EXPECT_NE(n, positives[i]) << i;
      // Rows 0 and 4 share an anchor: neither positive is a negative of either.
      if (i == 0 || i == 4) {
        EXPECT_TRUE(n != positives[0] && n != positives[4]) << n;
      }
    }
    // Negatives are exactly the BM25 ranking minus the anchor's positives.
    std::vector<std::string> want;
    for (const auto& h : index.search(anchors[i], 20)) {
      const std::string& t = r.corpus[static_cast<size_t>(h.doc)];
      const bool own = t == positives[i] || ((i == 0 || i == 4) && (t == positives[0] || t == positives[4]));
      if (!own) want.push_back(t);
    }
    EXPECT_EQ(negs(r, i), want) << i;
    EXPECT_FLOAT_EQ(r.positive_scores[i], static_cast<float>(index.score(anchors[i], [&] {
      return static_cast<int64_t>(std::find(r.corpus.begin(), r.corpus.end(), positives[i]) - r.corpus.begin());
    }())));
  }
}

TEST(DataMining, WrittenFilesReadBackAsTriplets) {
  test::TempDir dir;
  Texts anchors, positives;
  pairs(&anchors, &positives);
  Bm25Scorer scorer;
  MiningOptions o;
  o.num_negatives = 2;
  const MiningResult r = mine_hard_negatives(dist(), anchors, positives, {}, scorer, o);
  const int64_t n = write_mined_jsonl(dir.file("t.jsonl"), anchors, positives, r, o);
  EXPECT_EQ(n, r.stats.output_rows);
  EXPECT_EQ(n, r.stats.negatives);
  const TextDataset t = read_text_dataset(
      dir.file("t.jsonl"), {{"anchor", "anchor"}, {"positive", "positive"}, {"negative", "negative"}},
      BadRowPolicy::Error);
  EXPECT_EQ(t.format, DataFormat::Triplets);
  ASSERT_EQ(t.size(), n);
  int64_t row = 0;
  for (size_t i = 0; i < anchors.size(); ++i)
    for (const std::string& neg : negs(r, i)) {
      EXPECT_EQ(t.column("anchor")[static_cast<size_t>(row)], anchors[i]);
      EXPECT_EQ(t.column("positive")[static_cast<size_t>(row)], positives[i]);
      EXPECT_EQ(t.column("negative")[static_cast<size_t>(row)], neg);
      ++row;
    }

  MiningOptions nt = o;
  nt.format = MiningFormat::NTuple;
  const int64_t m = write_mined_jsonl(dir.file("n.jsonl"), anchors, positives, r, nt);
  const TextDataset u = read_text_dataset(dir.file("n.jsonl"),
                                          {{"anchor", "anchor"}, {"positive", "positive"},
                                           {"negative", "negative"}, {"negative_2", "negative_2"}},
                                          BadRowPolicy::Error);
  int64_t full = 0;
  for (const auto& v : r.negatives) full += v.size() == 2 ? 1 : 0;
  EXPECT_EQ(m, full);
  EXPECT_EQ(u.size(), full);
  EXPECT_EQ(u.roles, (Texts{"anchor", "positive", "negative", "negative_2"}));
  // n-tuple-scores: the same rows with the scorer's scores, the positive's first, which read
  // back as triplets with a list of scores (margin_mse's labels), bit for bit.
  nt.format = MiningFormat::NTupleScores;
  EXPECT_EQ(write_mined_jsonl(dir.file("ns.jsonl"), anchors, positives, r, nt), full);
  const TextDataset us = read_text_dataset(dir.file("ns.jsonl"),
                                           {{"anchor", "anchor"}, {"positive", "positive"}, {"negative", "negative"},
                                            {"negative_2", "negative_2"}, {"score", "score"}},
                                           BadRowPolicy::Error);
  EXPECT_EQ(us.columns, u.columns);
  EXPECT_EQ(us.score_width, 3);
  std::vector<float> want;
  for (size_t i = 0; i < r.negatives.size(); ++i) {
    if (r.negatives[i].size() != 2) continue;
    want.push_back(r.positive_scores[i]);
    want.insert(want.end(), r.negative_scores[i].begin(), r.negative_scores[i].end());
  }
  EXPECT_EQ(us.scores, want);
  EXPECT_EQ(want.size(), static_cast<size_t>(3 * full));
  EXPECT_GE(full, 1);

  // Labeled pairs: each row's positive scored 1, then its anchor's negatives scored 0, once
  // per distinct anchor (rows 0 and 4 share one).
  MiningOptions lp = o;
  lp.format = MiningFormat::LabeledPair;
  const MiningResult rl = mine_hard_negatives(dist(), anchors, positives, {}, scorer, lp);
  const int64_t l = write_mined_jsonl(dir.file("l.jsonl"), anchors, positives, rl, lp);
  EXPECT_EQ(l, rl.stats.output_rows);
  const TextDataset s = read_text_dataset(
      dir.file("l.jsonl"), {{"sentence1", "sentence1"}, {"sentence2", "sentence2"}, {"score", "score"}},
      BadRowPolicy::Error);
  EXPECT_EQ(s.format, DataFormat::Scored);
  ASSERT_EQ(s.size(), l);
  int64_t at = 0;
  for (size_t i = 0; i < anchors.size(); ++i) {
    EXPECT_EQ(s.column("sentence1")[static_cast<size_t>(at)], anchors[i]);
    EXPECT_EQ(s.column("sentence2")[static_cast<size_t>(at)], positives[i]);
    EXPECT_EQ(s.scores[static_cast<size_t>(at++)], 1.0f);
    if (i == 4) {
      EXPECT_EQ(negs(rl, 4), negs(rl, 0));  // the shared anchor's, written after row 0
      continue;
    }
    for (const std::string& neg : negs(rl, i)) {
      EXPECT_EQ(s.column("sentence1")[static_cast<size_t>(at)], anchors[i]);
      EXPECT_EQ(s.column("sentence2")[static_cast<size_t>(at)], neg);
      EXPECT_EQ(s.scores[static_cast<size_t>(at++)], 0.0f);
    }
  }
  EXPECT_EQ(at, l);
  EXPECT_EQ(l, static_cast<int64_t>(anchors.size()) + rl.stats.negatives - static_cast<int64_t>(negs(rl, 4).size()));
  // Four files written, no temporaries left.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 4);
}

class FailingPublishEnv : public Env {
 public:
  Status fsync_path(const std::string& path) override {
    return Status::Error(path + ": fsync failed: Input/output error");
  }
};

TEST(DataMining, AFailedWriteLeavesNoFile) {
  test::TempDir dir;
  Texts anchors, positives;
  pairs(&anchors, &positives);
  Bm25Scorer scorer;
  MiningOptions o;
  const MiningResult r = mine_hard_negatives(dist(), anchors, positives, {}, scorer, o);
  FailingPublishEnv failing;
  Env* prev = set_default_env(&failing);
  EXPECT_THROW(write_mined_jsonl(dir.file("t.jsonl"), anchors, positives, r, o), UserError);
  set_default_env(prev);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()), 0);
}

// Under mpirun: the ranks share the BM25 searches; rank 0's result equals the one a single
// process computes.
TEST(MpiMining, Bm25ResultDoesNotDependOnTheWorldSize) {
  Dist& d = dist();
  Texts anchors, positives;
  for (int i = 0; i < 37; ++i) {
    anchors.push_back("question " + std::to_string(i % 9) + " about revenue item " + std::to_string(i % 5));
    positives.push_back("context " + std::to_string(i % 7) + " revenue item " + std::to_string(i % 5) +
                        " and cash " + std::to_string(i % 3));
  }
  MiningOptions o;
  o.num_negatives = 3;
  o.sampling = MiningSampling::Random;
  o.queries_per_step = 4;  // uneven slices; at np 4 some ranks search nothing in a step
  Bm25Scorer scorer;
  const MiningResult r = mine_hard_negatives(d, anchors, positives, {}, scorer, o);
  if (!d.is_root()) return;
  Dist alone;
  alone.comm = std::make_unique<LocalCommunicator>();
  Bm25Scorer scorer1;
  const MiningResult want = mine_hard_negatives(alone, anchors, positives, {}, scorer1, o);
  EXPECT_EQ(r.negatives, want.negatives);
  EXPECT_EQ(r.negative_scores, want.negative_scores);
  EXPECT_EQ(r.positive_scores, want.positive_scores);
  EXPECT_EQ(r.stats.negatives, want.stats.negatives);
  EXPECT_GT(r.stats.negatives, 0);
}

}  // namespace
}  // namespace disttune
