// UTF-8 validation with the rules of Python's strict decoder and of JSON parsers: no
// overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
// sequences. Text that fails here would fail to load in sentence-transformers too.
#pragma once

#include <cstddef>
#include <string_view>

namespace disttune {

// Byte offset of the first byte that does not start a valid sequence, or npos when the
// whole string is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);

inline bool is_valid_utf8(std::string_view s) {
  return find_invalid_utf8(s) == std::string_view::npos;
}

// Empty or ASCII whitespace only: such a text is a bad row (it embeds to padding alone).
inline bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

}  // namespace disttune
