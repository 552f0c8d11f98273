// Strict UTF-8: the sequences Python's decoder rejects are rejected, at the right offset.
#include "data/utf8.h"

#include <gtest/gtest.h>

namespace disttune {
namespace {

TEST(DataUtf8, AcceptsEveryValidLength) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));                              // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));                              // U+E000
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));                          // U+10FFFF
}

TEST(DataUtf8, RejectsAtTheFirstBadByte) {
  EXPECT_EQ(find_invalid_utf8("ab\xFF"), 2u);
  EXPECT_EQ(find_invalid_utf8("a\x80"), 1u);                // stray continuation
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);             // overlong '/'
  EXPECT_EQ(find_invalid_utf8("\xE0\x80\xAF"), 0u);         // overlong, 3 bytes
  EXPECT_EQ(find_invalid_utf8("\xF0\x80\x80\xAF"), 0u);     // overlong, 4 bytes
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);        // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);     // U+110000
  EXPECT_EQ(find_invalid_utf8("ok\xE2\x82"), 2u);           // truncated at the end
  EXPECT_EQ(find_invalid_utf8("\xE2\x82x"), 0u);            // truncated in the middle
  EXPECT_EQ(find_invalid_utf8("\xF5\x80\x80\x80"), 0u);
}

}  // namespace
}  // namespace disttune
