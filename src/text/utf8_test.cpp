#include "text/utf8.h"

#include <gtest/gtest.h>

namespace disttune::text {
namespace {

std::string repaired(std::string_view s) {
  std::string out;
  repair_utf8(s, &out);
  return out;
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, DecodeAndEncodeRoundTrip) {
  const std::string s = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a é 中 😀
  std::string back;
  std::vector<char32_t> cps;
  for (size_t i = 0; i < s.size();) cps.push_back(decode_utf8(s.data(), i));
  EXPECT_EQ(cps, (std::vector<char32_t>{U'a', 0xE9, 0x4E2D, 0x1F600}));
  for (char32_t c : cps) append_utf8(c, &back);
  EXPECT_EQ(back, s);
  EXPECT_EQ(count_chars(s), 4u);
}

TEST(Utf8, Validity) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii text longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xF4\x8F\xBF\xBF"));  // U+10FFFF is the last valid
  EXPECT_FALSE(is_valid_utf8("caf\xC3"));               // truncated
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));              // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));          // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));      // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("0123456789abcdef\xFF"));  // after the 8-byte ASCII fast path
}

// Expected values: Python's bytes.decode("utf-8", errors="replace") on the same bytes.
TEST(Utf8, RepairReplacesMaximalSubpartsLikePython) {
  EXPECT_EQ(repaired("ab\xFF" "cd"), "ab" + kFffd + "cd");
  EXPECT_EQ(repaired("\xE2\x82x"), kFffd + "x");
  EXPECT_EQ(repaired("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(repaired("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(repaired("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(repaired("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(repaired("\xE0\x80\xAF"), kFffd + kFffd + kFffd);
  EXPECT_EQ(repaired("caf\xC3"), "caf" + kFffd);
  EXPECT_EQ(repaired("\x80\x80"), kFffd + kFffd);
  EXPECT_EQ(repaired("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

}  // namespace
}  // namespace disttune::text
