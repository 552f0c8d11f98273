#include "text/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>

#include "common/check.h"
#include "text/basic_tokenizer.h"
#include "text/utf8.h"

namespace disttune::text {
namespace {

// The regex crate's \w: alphabetic, marks, decimal digits, connector punctuation, joiners.
bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

char32_t last_char(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && is_continuation_byte(static_cast<unsigned char>(s[i]))) --i;
  return decode_utf8(s.data(), i);
}

char32_t first_char(std::string_view s) {
  size_t i = 0;
  return decode_utf8(s.data(), i);
}

}  // namespace

AddedTokenSplitter::AddedTokenSplitter(std::vector<AddedToken> tokens,
                                       std::vector<std::string> patterns) {
  DT_CHECK(tokens.size() == patterns.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (patterns[i].empty()) continue;
    tokens_.push_back(std::move(tokens[i]));
    patterns_.push_back(std::move(patterns[i]));
  }
  for (size_t i = 0; i < patterns_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(patterns_[i][0])].push_back(static_cast<int>(i));
  for (auto& v : by_first_byte_)
    std::stable_sort(v.begin(), v.end(),
                     [&](int a, int b) { return patterns_[a].size() > patterns_[b].size(); });
}

int AddedTokenSplitter::find(std::string_view s, size_t pos, size_t* at) const {
  for (size_t i = pos; i < s.size(); ++i) {
    const auto& cands = by_first_byte_[static_cast<unsigned char>(s[i])];
    for (const int k : cands) {
      const std::string& p = patterns_[k];
      if (s.size() - i >= p.size() && s.compare(i, p.size(), p) == 0) {
        *at = i;
        return k;
      }
    }
  }
  return -1;
}

void AddedTokenSplitter::split(std::string_view s, std::vector<Piece>* out) const {
  size_t start_offset = 0, pos = 0, at = 0;
  int k;
  while (pos < s.size() && (k = find(s, pos, &at)) >= 0) {
    const AddedToken& t = tokens_[k];
    size_t start = at, stop = at + patterns_[k].size();
    pos = stop;  // matching resumes after the match, whether it is kept or not
    if (t.single_word) {
      const bool start_ok = start == 0 || !is_word_char(last_char(s.substr(0, start)));
      const bool stop_ok = stop == s.size() || !is_word_char(first_char(s.substr(stop)));
      if (!start_ok || !stop_ok) continue;
    }
    if (t.lstrip) {
      size_t b = start;
      while (b > 0) {
        size_t c = b - 1;
        while (c > 0 && is_continuation_byte(static_cast<unsigned char>(s[c]))) --c;
        size_t j = c;
        if (!is_bert_whitespace(decode_utf8(s.data(), j))) break;
        b = c;
      }
      start = std::max(b, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t j = stop;
        if (!is_bert_whitespace(decode_utf8(s.data(), j))) break;
        stop = j;
      }
    }
    start = std::max(start, start_offset);
    if (start_offset < start) out->push_back({start_offset, start, -1});
    out->push_back({start, stop, t.id});
    start_offset = stop;
    pos = std::max(pos, stop);
  }
  if (start_offset < s.size()) out->push_back({start_offset, s.size(), -1});
}

}  // namespace disttune::text
