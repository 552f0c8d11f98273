#include "text/basic_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace disttune::text {
namespace {

std::string normalize(std::string_view s, NormalizerOptions o = {}) {
  std::string out;
  BasicTokenizer(o).normalize(s, &out);
  return out;
}

std::vector<std::string> words(std::string_view normalized) {
  std::vector<std::string> w;
  BasicTokenizer().split_words(normalized, [&](std::string_view x) {
    w.emplace_back(x);
    return true;
  });
  return w;
}

TEST(BasicTokenizer, CharacterClassesFollowTokenizers) {
  // ASCII punctuation is the four ranges, symbols included; elsewhere only category P*.
  for (char32_t c : {U'!', U'$', U'+', U'/', U':', U'@', U'[', U'^', U'`', U'{', U'~'})
    EXPECT_TRUE(is_bert_punctuation(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {U'a', U'0', U' ', char32_t{0xB0}, char32_t{0x20AC}, char32_t{0x2211}})
    EXPECT_FALSE(is_bert_punctuation(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {char32_t{0xA7}, char32_t{0xBF}, char32_t{0x2014}, char32_t{0x201C}, char32_t{0x3002}})
    EXPECT_TRUE(is_bert_punctuation(c)) << static_cast<uint32_t>(c);
  // White_Space: not U+001F (Python's isspace says yes), not U+200B (a format character).
  for (char32_t c : {U' ', U'\t', U'\n', U'\r', char32_t{0x0B}, char32_t{0xA0}, char32_t{0x2009}, char32_t{0x3000}, char32_t{0x2028}})
    EXPECT_TRUE(is_bert_whitespace(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {char32_t{0x1F}, char32_t{0x200B}, char32_t{0xFEFF}, U'x'})
    EXPECT_FALSE(is_bert_whitespace(c)) << static_cast<uint32_t>(c);
  // Control: Cc, Cf, Co but not \t \n \r and not unassigned code points.
  for (char32_t c : {char32_t{0x01}, char32_t{0x7F}, char32_t{0x85}, char32_t{0xAD}, char32_t{0x200B}, char32_t{0xE000}})
    EXPECT_TRUE(is_bert_control(c)) << static_cast<uint32_t>(c);
  for (char32_t c : {U'\t', U'\n', U'\r', U'a', char32_t{0x378}})
    EXPECT_FALSE(is_bert_control(c)) << static_cast<uint32_t>(c);
  EXPECT_TRUE(is_chinese_char(0x4E2D));
  EXPECT_TRUE(is_chinese_char(0xF900));
  EXPECT_TRUE(is_chinese_char(0x20000));
  EXPECT_FALSE(is_chinese_char(0x3042));  // hiragana
  EXPECT_FALSE(is_chinese_char(0xD55C));  // hangul
  EXPECT_FALSE(is_chinese_char(0x2B820));  // tokenizers' range starts at 0x2B920
}

TEST(BasicTokenizer, CleansControlsAndWhitespace) {
  EXPECT_EQ(normalize(std::string("H\xC3\xA9llo\tWORLD\x00!\r\n", 16)), "hello world!  ");
  EXPECT_EQ(normalize(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(normalize("ab\xE2\x80\x8B" "cd"), "abcd");                // U+200B dropped
  EXPECT_EQ(normalize("a\x0B" "b\x0C" "c"), "abc");                   // VT, FF are Cc: dropped
  EXPECT_EQ(normalize("a\xC2\xA0" "b\xE3\x80\x80" "c"), "a b c");     // NBSP, ideographic space
  EXPECT_EQ(normalize("x\xEF\xBF\xBDy"), "xy");                       // U+FFFD dropped
  NormalizerOptions raw{false, false, false, false};
  EXPECT_EQ(normalize(std::string("A\0\tB", 4), raw), std::string("A\0\tB", 4));
}

TEST(BasicTokenizer, SpacesAroundCjk) {
  EXPECT_EQ(normalize("\xE4\xB8\xAD\xE6\x96\x87"), " \xE4\xB8\xAD  \xE6\x96\x87 ");  // 中文
  // A compatibility ideograph is spaced, then NFD maps it to its unified form (U+F900 -> U+8C48).
  EXPECT_EQ(normalize("\xEF\xA4\x80"), " \xE8\xB1\x88 ");
  NormalizerOptions no_cjk;
  no_cjk.handle_chinese_chars = false;
  EXPECT_EQ(normalize("\xE4\xB8\xAD\xE6\x96\x87", no_cjk), "\xE4\xB8\xAD\xE6\x96\x87");
}

TEST(BasicTokenizer, AccentsAndCase) {
  EXPECT_EQ(normalize("Caf\xC3\xA9 Na\xC3\xAFve"), "cafe naive");
  EXPECT_EQ(normalize("cafe\xCC\x81"), "cafe");  // decomposed input
  NormalizerOptions lower_only;
  lower_only.strip_accents = false;
  EXPECT_EQ(normalize("Caf\xC3\x89", lower_only), "caf\xC3\xA9");
  NormalizerOptions strip_only;
  strip_only.lowercase = false;
  EXPECT_EQ(normalize("Caf\xC3\x89", strip_only), "CafE");
  // U+0130: NFD gives I + U+0307, the mark goes, then "i"; lowercase alone gives "i" U+0307
  // (Rust's char::to_lowercase).
  EXPECT_EQ(normalize("\xC4\xB0"), "i");
  EXPECT_EQ(normalize("\xC4\xB0", lower_only), "i\xCC\x87");
  // Capital sigma always lowercases to U+03C3 (no Final_Sigma rule, unlike Python/JS).
  EXPECT_EQ(normalize("\xCE\x9F\xCE\xA3"), "\xCE\xBF\xCF\x83");
  // Hangul syllables decompose to conjoining jamo under NFD: 한 -> U+1112 U+1161 U+11AB.
  EXPECT_EQ(normalize("\xED\x95\x9C"), "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB");
  // Nonspacing marks (Mn) go, spacing marks (Mc) stay: in Devanagari "स्ते" the virama
  // U+094D and the vowel sign U+0947 are Mn; in "सा" the vowel sign U+093E is Mc.
  EXPECT_EQ(normalize("\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87"), "\xE0\xA4\xB8\xE0\xA4\xA4");
  EXPECT_EQ(normalize("\xE0\xA4\xB8\xE0\xA4\xBE"), "\xE0\xA4\xB8\xE0\xA4\xBE");
}

TEST(BasicTokenizer, SplitsOnWhitespaceAndPunctuation) {
  EXPECT_EQ(words("hello, world!"), (std::vector<std::string>{"hello", ",", "world", "!"}));
  EXPECT_EQ(words("  a  b "), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(words(""), std::vector<std::string>{});
  EXPECT_EQ(words("..."), (std::vector<std::string>{".", ".", "."}));
  EXPECT_EQ(words("$5.00"), (std::vector<std::string>{"$", "5", ".", "00"}));
  // Non-ASCII whitespace and punctuation (NBSP, em dash), symbols stay in words (euro).
  EXPECT_EQ(words("x\xC2\xA0y\xE2\x80\x94z \xE2\x82\xAC" "5"),
            (std::vector<std::string>{"x", "y", "\xE2\x80\x94", "z", "\xE2\x82\xAC" "5"}));
  // Stopping early.
  std::vector<std::string> w;
  EXPECT_FALSE(BasicTokenizer().split_words("a b c", [&](std::string_view x) {
    w.emplace_back(x);
    return w.size() < 2;
  }));
  EXPECT_EQ(w, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace disttune::text
