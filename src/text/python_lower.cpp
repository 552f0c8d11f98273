#include "text/python_lower.h"

#include <utf8proc.h>

#include <vector>

#include "text/utf8.h"

namespace disttune::text {
namespace {

// Unicode's Cased property: letters with case, and characters that have a case mapping.
bool is_cased(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
    return true;
  const auto cp = static_cast<utf8proc_int32_t>(c);
  return utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

// Unicode's Case_Ignorable property: Mn, Me, Cf, Lm, Sk, and the Word_Break MidLetter,
// MidNumLet and Single_Quote characters.
bool is_case_ignorable(char32_t c) {
  switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55:
    case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default:
      break;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      return false;
  }
}

}  // namespace

void python_lower(std::string_view text, std::string* out) {
  thread_local std::vector<char32_t> cps;
  cps.clear();
  for (size_t i = 0; i < text.size();) cps.push_back(decode_utf8(text.data(), i));
  const size_t n = cps.size();
  for (size_t i = 0; i < n; ++i) {
    const char32_t c = cps[i];
    if (c < 0x80) {
      out->push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    } else if (c == 0x130) {
      out->push_back('i');
      append_utf8(0x307, out);
    } else if (c == 0x3A3) {
      // Final_Sigma: \p{cased} \p{case-ignorable}* SIGMA !(\p{case-ignorable}* \p{cased}),
      // as CPython's handle_capital_sigma tests it.
      size_t j = i;
      while (j > 0 && is_case_ignorable(cps[j - 1])) --j;
      bool final_sigma = j > 0 && is_cased(cps[j - 1]);
      if (final_sigma) {
        size_t k = i + 1;
        while (k < n && is_case_ignorable(cps[k])) ++k;
        final_sigma = k == n || !is_cased(cps[k]);
      }
      append_utf8(final_sigma ? 0x3C2 : 0x3C3, out);
    } else {
      append_utf8(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))), out);
    }
  }
}

}  // namespace disttune::text
