// Added tokens (the special tokens and any token added to a tokenizer after training): the
// Hugging Face tokenizer finds them in the text before anything else and gives them their
// id as they are, so "[CLS]" or "<mask>" in a text is one token, not "[", "cl", "##s", "]".
// AddedTokenSplitter does that search with tokenizers' AddedVocabulary rules:
// leftmost-longest matching, then single_word / lstrip / rstrip.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace disttune::text {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;  // match only where neither side continues a word
  bool lstrip = false;       // the match swallows the whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = false;   // matched in the normalized text (else in the raw text)
  bool special = true;
};

class AddedTokenSplitter {
 public:
  struct Piece {
    size_t begin, end;
    int32_t id;  // the added token's id, or -1 for text between added tokens
  };

  AddedTokenSplitter() = default;
  // patterns[i] is the text to find for tokens[i]: its content, or for a normalized token
  // its normalized content. Empty patterns are ignored, as tokenizers ignores them.
  AddedTokenSplitter(std::vector<AddedToken> tokens, std::vector<std::string> patterns);

  bool empty() const { return patterns_.empty(); }

  // Covers s with pieces, in order (appended to *out; an empty s gives none).
  void split(std::string_view s, std::vector<Piece>* out) const;

 private:
  // The leftmost-longest match at or after `pos`: its pattern index, or -1.
  int find(std::string_view s, size_t pos, size_t* at) const;

  std::vector<AddedToken> tokens_;
  std::vector<std::string> patterns_;
  std::array<std::vector<int>, 256> by_first_byte_;  // pattern indexes, longest first
};

}  // namespace disttune::text
