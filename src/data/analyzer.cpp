#include "data/analyzer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>

namespace disttune {

bool is_english_stopword(std::string_view token) {
  // org.apache.lucene.analysis.en.EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, sorted.
  static constexpr std::array<std::string_view, 33> kStop = {
      "a",    "an",   "and",   "are",  "as",    "at",    "be",   "but",  "by",
      "for",  "if",   "in",    "into", "is",    "it",    "no",   "not",  "of",
      "on",   "or",   "such",  "that", "the",   "their", "then", "there", "these",
      "they", "this", "to",    "was",  "will",  "with"};
  return std::binary_search(kStop.begin(), kStop.end(), token);
}

namespace detail {

size_t token_char(std::string_view text, size_t i, std::string* out, size_t* skip) {
  utf8proc_int32_t cp = 0;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                  static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
  if (n <= 0) {
    *skip = 1;  // invalid byte: a separator
    return 0;
  }
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: {
      utf8proc_uint8_t buf[4];
      const auto len = utf8proc_encode_char(utf8proc_tolower(cp), buf);
      out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(len));
      return static_cast<size_t>(n);
    }
    default:
      *skip = static_cast<size_t>(n);
      return 0;
  }
}

}  // namespace detail

std::vector<std::string> analyze(std::string_view text, bool drop_stopwords) {
  std::vector<std::string> out;
  analyze_text(text, drop_stopwords, [&](std::string_view t) { out.emplace_back(t); });
  return out;
}

}  // namespace disttune
