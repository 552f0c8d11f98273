// WordPiece: greedy longest-match-first split of one word into vocabulary pieces, pieces
// after the first carrying the continuation prefix ("##"); the unknown token for a word
// with no split or longer than max_input_chars_per_word characters. Same rules as the
// Hugging Face tokenizers WordPiece model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/string_id_map.h"

namespace disttune::text {

struct WordPieceConfig {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  int max_input_chars_per_word = 100;
};

class WordPiece {
 public:
  // `vocab`: (token, id) pairs; a later duplicate token wins. Throws UserError naming
  // `source` when the unknown token is not in the vocabulary.
  WordPiece(const std::vector<std::pair<std::string, int32_t>>& vocab, WordPieceConfig config,
            const std::string& source);

  // Appends the ids of `word` (normalized, valid UTF-8, no whitespace) to *ids.
  void tokenize(std::string_view word, std::vector<int32_t>* ids) const;

  int32_t token_to_id(std::string_view token) const { return vocab_.find(token); }
  int32_t unk_id() const { return unk_id_; }
  const WordPieceConfig& config() const { return config_; }

 private:
  WordPieceConfig config_;
  StringIdMap vocab_;         // every token
  StringIdMap continuation_;  // tokens with the continuation prefix, keyed without it
  int32_t unk_id_ = -1;
};

}  // namespace disttune::text
