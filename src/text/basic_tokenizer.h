// BERT's basic tokenization, as the Hugging Face Rust tokenizer does it (BertNormalizer then
// BertPreTokenizer): clean control characters and whitespace, put spaces around CJK
// ideographs, strip accents (NFD, drop nonspacing marks), lowercase; then split into words
// on whitespace and on punctuation, each punctuation character a word of its own.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "text/utf8.h"

namespace disttune::text {

// BertNormalizer's options under the names tokenizer.json uses. strip_accents is resolved:
// the file's null means "same as lowercase".
struct NormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

// Character classes with the Hugging Face tokenizers definitions.
// Whitespace: Rust's char::is_whitespace (the Unicode White_Space property).
bool is_bert_whitespace(char32_t c);
// Control: general category Cc, Cf or Co, except \t \n \r (those count as whitespace).
bool is_bert_control(char32_t c);
// Punctuation: ASCII 33-47, 58-64, 91-96, 123-126, or general category P*.
bool is_bert_punctuation(char32_t c);
// CJK ideographs, the code point ranges of tokenizers' BertNormalizer.
bool is_chinese_char(char32_t c);

class BasicTokenizer {
 public:
  explicit BasicTokenizer(const NormalizerOptions& options = {});

  const NormalizerOptions& options() const { return options_; }

  // BertNormalizer: appends the normalized form of `text` (valid UTF-8) to *out.
  void normalize(std::string_view text, std::string* out) const;

  // BertPreTokenizer: calls on_word(std::string_view) for each word of normalized text, in
  // order. Whitespace separates words and is dropped; every punctuation character is a word.
  // on_word returns false to stop early; split_words then returns false.
  template <typename OnWord>
  bool split_words(std::string_view normalized, OnWord&& on_word) const;

 private:
  void normalize_non_ascii(const char* p, size_t n, std::string* out) const;

  NormalizerOptions options_;
  std::array<int16_t, 128> ascii_map_;  // normalized byte, or -1 when the byte is dropped
};

namespace detail {
enum : uint8_t { kWordChar = 0, kSpace = 1, kPunct = 2 };
extern const std::array<uint8_t, 128> kAsciiClass;
}  // namespace detail

template <typename OnWord>
bool BasicTokenizer::split_words(std::string_view s, OnWord&& on_word) const {
  const char* p = s.data();
  const size_t n = s.size();
  size_t i = 0, start = 0;
  bool in_word = false;
  while (i < n) {
    const auto b = static_cast<unsigned char>(p[i]);
    size_t next = i + 1;
    uint8_t cls;
    if (b < 0x80) {
      cls = detail::kAsciiClass[b];
    } else {
      next = i;
      const char32_t c = decode_utf8(p, next);
      cls = is_bert_whitespace(c) ? detail::kSpace
                                  : (is_bert_punctuation(c) ? detail::kPunct : detail::kWordChar);
    }
    if (cls == detail::kWordChar) {
      if (!in_word) {
        start = i;
        in_word = true;
      }
    } else {
      if (in_word) {
        in_word = false;
        if (!on_word(s.substr(start, i - start))) return false;
      }
      if (cls == detail::kPunct && !on_word(s.substr(i, next - i))) return false;
    }
    i = next;
  }
  if (in_word) return on_word(s.substr(start));
  return true;
}

}  // namespace disttune::text
