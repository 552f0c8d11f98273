#include "text/utf8.h"

#include <cstring>

namespace disttune::text {
namespace {

// Length of the well-formed sequence at s[i..n) (1 to 4), or 0 when it is ill-formed; then
// *subpart is the length of its maximal ill-formed prefix (at least 1), the bytes one U+FFFD
// replaces. Ranges from the Unicode Standard, table 3-7.
size_t sequence_length(const unsigned char* s, size_t i, size_t n, size_t* subpart) {
  const unsigned char b0 = s[i];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    *subpart = 1;
    return 0;
  }
  size_t k = 1;
  for (; k < len && i + k < n; ++k) {
    const unsigned char b = s[i + k];
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  if (k == len) return len;
  *subpart = k;
  return 0;
}

// Bytes at the start of s[i..n) that are ASCII, 8 at a time.
size_t ascii_prefix(const unsigned char* s, size_t i, size_t n) {
  const size_t start = i;
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    if (w & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < n && s[i] < 0x80) ++i;
  return i - start;
}

}  // namespace

bool is_valid_utf8(std::string_view str) {
  const auto* s = reinterpret_cast<const unsigned char*>(str.data());
  const size_t n = str.size();
  size_t i = 0, subpart = 0;
  while (i < n) {
    i += ascii_prefix(s, i, n);
    if (i >= n) break;
    const size_t len = sequence_length(s, i, n, &subpart);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void repair_utf8(std::string_view str, std::string* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(str.data());
  const size_t n = str.size();
  out->reserve(out->size() + n + 8);
  size_t i = 0, subpart = 0;
  while (i < n) {
    const size_t a = ascii_prefix(s, i, n);
    out->append(str.data() + i, a);
    i += a;
    if (i >= n) break;
    const size_t len = sequence_length(s, i, n, &subpart);
    if (len > 0) {
      out->append(str.data() + i, len);
      i += len;
    } else {
      append_utf8(kReplacementChar, out);
      i += subpart;
    }
  }
}

}  // namespace disttune::text
