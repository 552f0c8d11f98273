#include "text/wordpiece.h"

#include <gtest/gtest.h>

#include "common/check.h"

namespace disttune::text {
namespace {

const std::string kE = "\xC3\xA9";  // é, two bytes

WordPiece small(WordPieceConfig cfg = {}) {
  const std::string p = cfg.continuing_subword_prefix;
  return WordPiece({{"[UNK]", 0}, {"un", 1}, {p + "aff", 2}, {p + "able", 3}, {"affable", 4},
                    {"a", 5}, {p + "a", 6}, {kE, 7}, {p + kE, 8}},
                   cfg, "test vocab");
}

std::vector<int32_t> ids(const WordPiece& wp, std::string_view word) {
  std::vector<int32_t> out{-7};  // tokenize appends
  wp.tokenize(word, &out);
  out.erase(out.begin());
  return out;
}

TEST(WordPiece, GreedyLongestMatchFirst) {
  const WordPiece wp = small();
  EXPECT_EQ(ids(wp, "unaffable"), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(ids(wp, "affable"), (std::vector<int32_t>{4}));
  EXPECT_EQ(ids(wp, "aaa"), (std::vector<int32_t>{5, 6, 6}));
  EXPECT_EQ(ids(wp, kE + kE), (std::vector<int32_t>{7, 8}));
}

TEST(WordPiece, WholeWordIsUnknownWhenAnyPartHasNoMatch) {
  const WordPiece wp = small();
  EXPECT_EQ(ids(wp, "unaffablex"), (std::vector<int32_t>{0}));
  EXPECT_EQ(ids(wp, "zzz"), (std::vector<int32_t>{0}));
  EXPECT_EQ(wp.unk_id(), 0);
  // Greedy, no backtracking: with "una" in the vocabulary it is taken first, "##ffable" then
  // has no match and the whole word is unknown, although "un ##aff ##able" existed.
  const WordPiece greedy({{"[UNK]", 0}, {"un", 1}, {"##aff", 2}, {"##able", 3}, {"una", 4}}, {}, "v");
  EXPECT_EQ(ids(greedy, "unaffable"), (std::vector<int32_t>{0}));
}

TEST(WordPiece, WordLengthLimitCountsCharacters) {
  const WordPiece wp = small();
  std::vector<int32_t> hundred{5};
  hundred.insert(hundred.end(), 99, 6);
  EXPECT_EQ(ids(wp, std::string(100, 'a')), hundred);
  EXPECT_EQ(ids(wp, std::string(101, 'a')), (std::vector<int32_t>{0}));
  std::string e100;
  for (int i = 0; i < 100; ++i) e100 += kE;  // 100 characters, 200 bytes: within the limit
  std::vector<int32_t> e_ids{7};
  e_ids.insert(e_ids.end(), 99, 8);
  EXPECT_EQ(ids(wp, e100), e_ids);
  EXPECT_EQ(ids(wp, e100 + kE), (std::vector<int32_t>{0}));
  WordPieceConfig cfg;
  cfg.max_input_chars_per_word = 2;
  EXPECT_EQ(ids(small(cfg), "aaa"), (std::vector<int32_t>{0}));
}

TEST(WordPiece, ContinuationPrefixIsConfigurable) {
  WordPieceConfig cfg;
  cfg.continuing_subword_prefix = "@@";
  const WordPiece wp = small(cfg);
  EXPECT_EQ(ids(wp, "unaffable"), (std::vector<int32_t>{1, 2, 3}));
}

TEST(WordPiece, LaterDuplicateWinsAndUnknownTokenIsRequired) {
  const WordPiece wp({{"[UNK]", 0}, {"x", 1}, {"x", 2}}, {}, "dup vocab");
  EXPECT_EQ(ids(wp, "x"), (std::vector<int32_t>{2}));
  try {
    WordPiece({{"a", 0}}, {}, "/m/vocab.txt");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(),
                 "/m/vocab.txt: the unknown token '[UNK]' is not in the vocabulary (WordPiece maps "
                 "unmatched words to it)");
  }
}

}  // namespace
}  // namespace disttune::text
