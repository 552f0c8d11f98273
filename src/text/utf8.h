// UTF-8 decoding, encoding and repair for the tokenizer. The tokenizer's inner loops work
// on valid UTF-8 only; anything read from a user is checked (and repaired) once, up front.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace disttune::text {

constexpr char32_t kReplacementChar = 0xFFFD;

inline bool is_continuation_byte(unsigned char b) { return (b & 0xC0) == 0x80; }

// Decodes the code point starting at s[i] and advances i past it. `s` must be valid UTF-8.
inline char32_t decode_utf8(const char* s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  if (b0 < 0xE0) {
    const char32_t c = (char32_t(b0 & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
    i += 2;
    return c;
  }
  if (b0 < 0xF0) {
    const char32_t c = (char32_t(b0 & 0x0F) << 12) |
                       (char32_t(static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                       (static_cast<unsigned char>(s[i + 2]) & 0x3F);
    i += 3;
    return c;
  }
  const char32_t c = (char32_t(b0 & 0x07) << 18) |
                     (char32_t(static_cast<unsigned char>(s[i + 1]) & 0x3F) << 12) |
                     (char32_t(static_cast<unsigned char>(s[i + 2]) & 0x3F) << 6) |
                     (static_cast<unsigned char>(s[i + 3]) & 0x3F);
  i += 4;
  return c;
}

inline void append_utf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    const char b[2] = {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
    out->append(b, 2);
  } else if (c < 0x10000) {
    const char b[3] = {static_cast<char>(0xE0 | (c >> 12)),
                       static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
                       static_cast<char>(0x80 | (c & 0x3F))};
    out->append(b, 3);
  } else {
    const char b[4] = {static_cast<char>(0xF0 | (c >> 18)),
                       static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
                       static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
                       static_cast<char>(0x80 | (c & 0x3F))};
    out->append(b, 4);
  }
}

// Number of code points in valid UTF-8.
inline size_t count_chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += !is_continuation_byte(static_cast<unsigned char>(c));
  return n;
}

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Writes `s` to *out with every maximal ill-formed subsequence replaced by U+FFFD: the
// Unicode "substitution of maximal subparts" practice, which is what Python's
// bytes.decode("utf-8", errors="replace") and the WHATWG decoder do.
void repair_utf8(std::string_view s, std::string* out);

}  // namespace disttune::text
