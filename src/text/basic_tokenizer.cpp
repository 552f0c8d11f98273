#include "text/basic_tokenizer.h"

#include <utf8proc.h>

#include <vector>

namespace disttune::text {

namespace detail {
namespace {
constexpr std::array<uint8_t, 128> make_ascii_class() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) t[c] = kSpace;
    else if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
             (c >= 123 && c <= 126))
      t[c] = kPunct;
    else t[c] = kWordChar;
  }
  return t;
}
}  // namespace
const std::array<uint8_t, 128> kAsciiClass = make_ascii_class();
}  // namespace detail

bool is_bert_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_bert_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO;
}

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) return detail::kAsciiClass[c] == detail::kPunct;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_chinese_char(char32_t c) {
  // tokenizers' ranges; note 0x2B920 where the Python BertTokenizer has 0x2B820.
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

BasicTokenizer::BasicTokenizer(const NormalizerOptions& options) : options_(options) {
  for (int b = 0; b < 128; ++b) {
    int16_t m = static_cast<int16_t>(b);
    if (options_.clean_text) {
      if (b == 0 || is_bert_control(static_cast<char32_t>(b))) m = -1;
      else if (is_bert_whitespace(static_cast<char32_t>(b))) m = ' ';
    }
    if (options_.lowercase && m >= 'A' && m <= 'Z') m = static_cast<int16_t>(m - 'A' + 'a');
    ascii_map_[b] = m;
  }
}

void BasicTokenizer::normalize(std::string_view text, std::string* out) const {
  const char* p = text.data();
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const auto b = static_cast<unsigned char>(p[i]);
    if (b < 0x80) {
      const int16_t m = ascii_map_[b];
      if (m >= 0) out->push_back(static_cast<char>(m));
      ++i;
      continue;
    }
    // A run of non-ASCII characters. ASCII characters are starters (combining class 0) and
    // decompose to themselves, so NFD never reorders across them: runs normalize alone.
    size_t j = i + 1;
    while (j < n && static_cast<unsigned char>(p[j]) >= 0x80) ++j;
    normalize_non_ascii(p + i, j - i, out);
    i = j;
  }
}

void BasicTokenizer::normalize_non_ascii(const char* p, size_t n, std::string* out) const {
  // Steps in tokenizers' order: clean, CJK spacing, NFD + drop Mn, lowercase. Scratch space
  // is per thread so that no character costs a heap allocation.
  thread_local std::vector<utf8proc_int32_t> buf;
  buf.clear();
  const NormalizerOptions& o = options_;
  size_t i = 0;
  while (i < n) {
    char32_t c = decode_utf8(p, i);
    if (o.clean_text) {
      if (c == kReplacementChar || is_bert_control(c)) continue;
      if (is_bert_whitespace(c)) c = ' ';
    }
    const bool cjk = o.handle_chinese_chars && is_chinese_char(c);
    if (cjk) buf.push_back(' ');
    if (o.strip_accents) {
      utf8proc_int32_t d[8];
      int boundclass = 0;
      const auto k = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), d, 8,
                                             UTF8PROC_DECOMPOSE, &boundclass);
      if (k > 0 && k <= 8) buf.insert(buf.end(), d, d + k);
      else buf.push_back(static_cast<utf8proc_int32_t>(c));
    } else {
      buf.push_back(static_cast<utf8proc_int32_t>(c));
    }
    if (cjk) buf.push_back(' ');
  }
  if (o.strip_accents) {
    // Canonical ordering (stable sort of each run of non-starters by combining class), so
    // that the result is the NFD of the run, then drop the nonspacing marks.
    auto ccc = [](utf8proc_int32_t c) { return utf8proc_get_property(c)->combining_class; };
    for (size_t k = 1; k < buf.size(); ++k) {
      const utf8proc_int32_t c = buf[k];
      const auto cc = ccc(c);
      if (cc == 0) continue;
      size_t m = k;
      while (m > 0 && ccc(buf[m - 1]) > cc) {
        buf[m] = buf[m - 1];
        --m;
      }
      buf[m] = c;
    }
    size_t w = 0;
    for (const utf8proc_int32_t c : buf)
      if (utf8proc_category(c) != UTF8PROC_CATEGORY_MN) buf[w++] = c;
    buf.resize(w);
  }
  for (const utf8proc_int32_t c : buf) {
    if (!o.lowercase) {
      append_utf8(static_cast<char32_t>(c), out);
    } else if (c == 0x130) {
      // Rust's char::to_lowercase has the one unconditional multi-character lowercase
      // mapping: U+0130 -> "i" U+0307.
      out->push_back('i');
      append_utf8(0x307, out);
    } else {
      append_utf8(static_cast<char32_t>(utf8proc_tolower(c)), out);
    }
  }
}

}  // namespace disttune::text
