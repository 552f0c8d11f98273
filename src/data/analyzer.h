// The text analyzer of the BM25 index: lowercase, split on every character that is not a
// letter, digit or combining mark (Unicode categories L*, N*, M* via utf8proc), and
// optionally drop English stopwords (Lucene's EnglishAnalyzer stop set, 33 words). No
// stemming. Bytes that are not valid UTF-8 separate tokens. "Don't-stop at U.S. 3.5%" ->
// don, t, stop, u, s, 3, 5 (with stopwords dropped: "at" goes).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace disttune {

// Calls emit(token) for each token in order; the view is valid only during the call.
template <typename Emit>
void analyze_text(std::string_view text, bool drop_stopwords, Emit&& emit);

std::vector<std::string> analyze(std::string_view text, bool drop_stopwords);

bool is_english_stopword(std::string_view token);

namespace detail {
// Appends the lowercase form of the token character starting at text[i] to `out` and
// returns its length in bytes; returns 0 when text[i] starts a separator (consuming
// `*skip` bytes).
size_t token_char(std::string_view text, size_t i, std::string* out, size_t* skip);
}  // namespace detail

template <typename Emit>
void analyze_text(std::string_view text, bool drop_stopwords, Emit&& emit) {
  std::string token;
  size_t i = 0;
  auto flush = [&] {
    if (!token.empty() && !(drop_stopwords && is_english_stopword(token))) emit(std::string_view(token));
    token.clear();
  };
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {  // ASCII fast path
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        token.push_back(static_cast<char>(c));
      } else if (c >= 'A' && c <= 'Z') {
        token.push_back(static_cast<char>(c - 'A' + 'a'));
      } else {
        flush();
      }
      ++i;
      continue;
    }
    size_t skip = 0;
    const size_t n = detail::token_char(text, i, &token, &skip);
    if (n == 0) {
      flush();
      i += skip;
    } else {
      i += n;
    }
  }
  flush();
}

}  // namespace disttune
