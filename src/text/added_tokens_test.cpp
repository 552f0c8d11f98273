#include "text/added_tokens.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace disttune::text {
namespace {

// "text" pieces shown as their text, token pieces as "<id>".
std::vector<std::string> split(const std::vector<AddedToken>& tokens, std::string_view s) {
  std::vector<std::string> patterns;
  for (const auto& t : tokens) patterns.push_back(t.content);
  AddedTokenSplitter sp(tokens, patterns);
  std::vector<AddedTokenSplitter::Piece> pieces;
  sp.split(s, &pieces);
  std::vector<std::string> out;
  size_t at = 0;
  for (const auto& p : pieces) {
    EXPECT_EQ(p.begin, at) << "pieces must cover the text in order";
    at = p.end;
    out.push_back(p.id >= 0 ? "<" + std::to_string(p.id) + ">" : std::string(s.substr(p.begin, p.end - p.begin)));
  }
  EXPECT_EQ(at, s.size());
  return out;
}

AddedToken tok(std::string content, int32_t id) {
  AddedToken t;
  t.content = std::move(content);
  t.id = id;
  return t;
}

using V = std::vector<std::string>;

TEST(AddedTokens, LeftmostLongestMatches) {
  const std::vector<AddedToken> t = {tok("[CLS]", 101), tok("[SEP]", 102), tok("[SEP]]", 7)};
  EXPECT_EQ(split(t, "a [CLS] b"), (V{"a ", "<101>", " b"}));
  EXPECT_EQ(split(t, "x[CLS][SEP]y"), (V{"x", "<101>", "<102>", "y"}));
  EXPECT_EQ(split(t, "[SEP]]"), (V{"<7>"}));  // the longer token at the same start wins
  EXPECT_EQ(split(t, "[cls] [CLS"), (V{"[cls] [CLS"}));
  EXPECT_EQ(split(t, ""), V{});
}

TEST(AddedTokens, StripAndSingleWord) {
  AddedToken mask = tok("<mask>", 9);
  mask.lstrip = true;
  EXPECT_EQ(split({mask}, "a  <mask> b"), (V{"a", "<9>", " b"}));
  EXPECT_EQ(split({mask}, "  <mask>"), (V{"<9>"}));
  AddedToken r = tok("<r>", 3);
  r.rstrip = true;
  EXPECT_EQ(split({r}, "a <r> \t b"), (V{"a ", "<3>", "b"}));
  // lstrip never takes back what an earlier match already took.
  AddedToken l = tok("<l>", 4);
  l.lstrip = true;
  EXPECT_EQ(split({r, l}, "<r>  <l>"), (V{"<3>", "<4>"}));
  AddedToken w = tok("ab", 5);
  w.single_word = true;
  EXPECT_EQ(split({w}, "ab xab ab_ ab."), (V{"<5>", " xab ab_ ", "<5>", "."}));
}

}  // namespace
}  // namespace disttune::text
