#include "text/wordpiece.h"

#include <algorithm>

#include "common/check.h"
#include "text/utf8.h"

namespace disttune::text {

WordPiece::WordPiece(const std::vector<std::pair<std::string, int32_t>>& vocab,
                     WordPieceConfig config, const std::string& source)
    : config_(std::move(config)) {
  const std::string& prefix = config_.continuing_subword_prefix;
  for (const auto& [token, id] : vocab) {
    vocab_.insert(token, id);
    if (token.size() >= prefix.size() && token.compare(0, prefix.size(), prefix) == 0)
      continuation_.insert(std::string_view(token).substr(prefix.size()), id);
  }
  unk_id_ = vocab_.find(config_.unk_token);
  DT_REQUIRE(unk_id_ >= 0, source, ": the unknown token '", config_.unk_token,
             "' is not in the vocabulary (WordPiece maps unmatched words to it)");
}

void WordPiece::tokenize(std::string_view word, std::vector<int32_t>* ids) const {
  if (count_chars(word) > static_cast<size_t>(config_.max_input_chars_per_word)) {
    ids->push_back(unk_id_);
    return;
  }
  // hashes[k] = hash of word[start, start + k + 1): every candidate piece from one pass.
  thread_local std::vector<uint64_t> hashes;
  const char* p = word.data();
  const size_t n = word.size();
  const size_t mark = ids->size();
  size_t start = 0;
  while (start < n) {
    const StringIdMap& map = start == 0 ? vocab_ : continuation_;
    const size_t limit = std::min(n, start + map.max_key_bytes());
    if (hashes.size() < limit - start) hashes.resize(limit - start);
    uint64_t h = StringIdMap::kHashSeed;
    for (size_t e = start; e < limit; ++e) {
      h = StringIdMap::hash_step(h, static_cast<unsigned char>(p[e]));
      hashes[e - start] = h;
    }
    int32_t id = -1;
    size_t end = limit;
    for (; end > start; --end) {
      if (end < n && is_continuation_byte(static_cast<unsigned char>(p[end]))) continue;
      id = map.find(word.substr(start, end - start), hashes[end - start - 1]);
      if (id >= 0) break;
    }
    if (id < 0) {
      ids->resize(mark);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(id);
    start = end;
  }
}

}  // namespace disttune::text
