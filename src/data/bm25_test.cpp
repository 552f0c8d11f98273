// BM25: a hand-worked example, then the inverted index against a brute-force scorer.
#include "data/bm25.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "data/analyzer.h"
#include "data/random.h"

namespace disttune {
namespace {

TEST(DataAnalyzer, LowercasesSplitsAndDropsStopwords) {
  EXPECT_EQ(analyze("Don't-stop at U.S. 3.5%", false),
            (std::vector<std::string>{"don", "t", "stop", "at", "u", "s", "3", "5"}));
  EXPECT_EQ(analyze("Don't-stop at U.S. 3.5%", true),
            (std::vector<std::string>{"don", "t", "stop", "u", "s", "3", "5"}));
  EXPECT_EQ(analyze("The cat AND the hat", true), (std::vector<std::string>{"cat", "hat"}));
  // Non-ASCII letters are lowercased and kept in the token; combining marks stay attached;
  // punctuation such as U+2014 separates; invalid bytes separate.
  EXPECT_EQ(analyze("\xC3\x89T\xC3\x89\xE2\x80\x94" "Cafe\xCC\x81 x\xFFy", false),
            (std::vector<std::string>{"\xC3\xA9t\xC3\xA9", "cafe\xCC\x81", "x", "y"}));
  EXPECT_TRUE(analyze("  ... ", true).empty());
  EXPECT_TRUE(is_english_stopword("the"));
  EXPECT_FALSE(is_english_stopword("cat"));
}

// Four documents, stopwords dropped (so "the", "and", "a" vanish), k1 = 1.5, b = 0.75:
//   d0 "the cat sat"          -> cat sat       dl 2
//   d1 "the cat and the hat"  -> cat hat       dl 2
//   d2 "a dog"                -> dog           dl 1
//   d3 "cat cat dog"          -> cat cat dog   dl 3
// N = 4, avgdl = 8 / 4 = 2; df: cat 3, dog 2, sat 1, hat 1.
//   idf(cat) = ln(1 + (4 - 3 + .5) / (3 + .5)) = ln(1.428571) = 0.3566749
//   idf(dog) = ln(1 + 2.5 / 2.5)               = ln 2       = 0.6931472
//   idf(hat) = ln(1 + 3.5 / 1.5)               = ln(3.3333) = 1.2039728
//   norm(dl) = k1 (1 - b + b dl / avgdl): dl 1 -> 0.9375, dl 2 -> 1.5, dl 3 -> 2.0625
// Query "cat dog":
//   d0 = d1 = 0.3566749 * 1 / (1 + 1.5)                         = 0.1426700
//   d2      = 0.6931472 * 1 / (1 + 0.9375)                      = 0.3577534
//   d3      = 0.3566749 * 2 / (2 + 2.0625) + 0.6931472 / 3.0625 = 0.1755938 + 0.2263338 = 0.4019276
// -> d3, d2, then d0 before d1 (equal scores: lower index first).
// Query "hat hat" (a repeated term counts twice): d1 = 2 * 1.2039728 / 2.5 = 0.9631782.
TEST(DataBm25, HandWorkedExample) {
  const Bm25Index idx({"the cat sat", "the cat and the hat", "a dog", "cat cat dog"});
  EXPECT_EQ(idx.num_docs(), 4);
  EXPECT_EQ(idx.num_terms(), 4);
  EXPECT_DOUBLE_EQ(idx.avg_doc_length(), 2.0);
  const auto hits = idx.search("Cat, dog!", 10);
  ASSERT_EQ(hits.size(), 4u);
  const int64_t order[] = {3, 2, 0, 1};
  const double expect[] = {0.4019276, 0.3577534, 0.1426700, 0.1426700};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(hits[static_cast<size_t>(i)].doc, order[i]);
    EXPECT_NEAR(hits[static_cast<size_t>(i)].score, expect[i], 1e-6);
    EXPECT_NEAR(idx.score("cat dog", order[i]), expect[i], 1e-6);
  }
  const auto top2 = idx.search("cat dog", 2);
  ASSERT_EQ(top2.size(), 2u);
  EXPECT_EQ(top2[0].doc, 3);
  EXPECT_EQ(top2[1].doc, 2);
  const auto hat = idx.search("hat hat", 10);
  ASSERT_EQ(hat.size(), 1u);
  EXPECT_EQ(hat[0].doc, 1);
  EXPECT_NEAR(hat[0].score, 0.9631782, 1e-6);
  EXPECT_TRUE(idx.search("the and", 10).empty());  // only stopwords
  EXPECT_TRUE(idx.search("unicorn", 10).empty());
  EXPECT_EQ(idx.score("unicorn", 0), 0.0);
}

TEST(DataBm25, OptionsChangeTheFormulaAsExpected) {
  // b = 0: no length normalisation, so tf 1 always weighs idf / (1 + k1).
  Bm25Options o;
  o.b = 0;
  o.k1 = 1.2;
  o.stopwords = false;
  const Bm25Index idx({"x y", "x y z w v"}, o);
  const double idf = std::log(1 + (2 - 2 + 0.5) / (2 + 0.5));
  for (const auto& h : idx.search("x", 5)) EXPECT_NEAR(h.score, idf / 2.2, 1e-6);
  EXPECT_EQ(idx.search("x", 5)[0].doc, 0);  // a tie: lower index first
  EXPECT_EQ(Bm25Index({"the"}, o).num_terms(), 1);  // stopwords kept when asked
  EXPECT_EQ(Bm25Index({}).search("x", 3).size(), 0u);
}

// Random documents over a small vocabulary against a brute-force double-precision scorer
// written from the formula.
TEST(DataBm25, InvertedIndexAgreesWithBruteForce) {
  const char* words[] = {"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa",
                         "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "the"};
  SplitMix64 r(17);
  auto text = [&](int max_len) {
    std::string s;
    const int n = 1 + static_cast<int>(r.below(static_cast<uint64_t>(max_len)));
    // Zipf-like: low word indices are common.
    for (int i = 0; i < n; ++i) s += std::string(words[r.below(1 + r.below(20))]) + (i % 3 ? " " : ", ");
    return s;
  };
  std::vector<std::string> docs, queries;
  for (int i = 0; i < 1500; ++i) docs.push_back(text(30));
  for (int i = 0; i < 120; ++i) queries.push_back(text(4));
  const Bm25Index idx(docs);

  std::vector<std::map<std::string, int>> tf(docs.size());
  std::map<std::string, int> df;
  double total = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    for (const auto& t : analyze(docs[d], true)) tf[d][t]++;
    for (const auto& [t, c] : tf[d]) df[t]++;
    for (const auto& [t, c] : tf[d]) total += c;
  }
  const double N = static_cast<double>(docs.size()), avgdl = total / N;
  const auto many = idx.search_many(queries, 10, 3);
  for (size_t q = 0; q < queries.size(); ++q) {
    std::vector<double> brute(docs.size(), 0.0);
    for (const auto& t : analyze(queries[q], true)) {
      if (!df.count(t)) continue;
      const double idf = std::log(1 + (N - df[t] + 0.5) / (df[t] + 0.5));
      for (size_t d = 0; d < docs.size(); ++d) {
        const auto it = tf[d].find(t);
        if (it == tf[d].end()) continue;
        double dl = 0;
        for (const auto& [w, c] : tf[d]) dl += c;
        brute[d] += idf * it->second / (it->second + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl));
      }
    }
    const auto hits = idx.search(queries[q], 10);
    ASSERT_EQ(hits.size(), many[q].size());
    size_t matching = 0;
    for (double s : brute) matching += s > 0;
    ASSERT_EQ(hits.size(), std::min<size_t>(10, matching)) << queries[q];
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_EQ(hits[i].doc, many[q][i].doc);
      EXPECT_EQ(hits[i].score, many[q][i].score);
      EXPECT_NEAR(hits[i].score, brute[static_cast<size_t>(hits[i].doc)], 1e-5);
      if (i > 0) {
        EXPECT_GE(hits[i - 1].score, hits[i].score);
        if (hits[i - 1].score == hits[i].score) {
          EXPECT_LT(hits[i - 1].doc, hits[i].doc);
        }
      }
    }
    // Nothing left out scores better than the last hit.
    if (!hits.empty()) {
      std::vector<bool> in(docs.size(), false);
      for (const auto& h : hits) in[static_cast<size_t>(h.doc)] = true;
      for (size_t d = 0; d < docs.size(); ++d)
        if (!in[d]) {
          ASSERT_LE(brute[d], hits.back().score + 1e-5) << "doc " << d << " missed";
        }
    }
  }
}

}  // namespace
}  // namespace disttune
