// Tokenizer: the model's Hugging Face WordPiece tokenizer (BERT, MPNet, ...), giving the same
// ids as the Hugging Face fast tokenizer that sentence-transformers runs, truncated the way
// sentence-transformers truncates: the special tokens around the first max_length - 2
// pieces. Loaded from a model directory (tokenizer.json, else vocab.txt + the config files);
// special tokens come from those files, never assumed. Thread-safe; copies share one
// immutable state. Design and the known differences between reference implementations:
// docs/tokenizer.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/token_batch.h"

namespace disttune {

namespace text {
struct TokenizerSpec;
}

class Tokenizer {
 public:
  // From a model directory: tokenizer.json when present, else vocab.txt, with
  // tokenizer_config.json, special_tokens_map.json and sentence_bert_config.json
  // (do_lower_case) when present. The files' truncation and padding settings are ignored:
  // callers pass max_length. Throws UserError naming the file and key on bad input.
  static Tokenizer load(const std::string& model_dir);
  // A BERT tokenizer ([CLS] [SEP] [UNK] [PAD] [MASK]) from a vocab.txt file.
  static Tokenizer from_vocab_file(const std::string& vocab_txt, bool do_lower_case = true);
  // From a parsed description (what load() reads); for tests and tools.
  static Tokenizer from_spec(text::TokenizerSpec spec);

  // Token ids with the special tokens, at most max_length of them (the special tokens
  // around the first max_length - #specials pieces). Invalid UTF-8 is read as Python's
  // bytes.decode("utf-8", errors="replace") reads it: each bad sequence becomes U+FFFD,
  // which the tokenizer's cleaning then drops.
  std::vector<int32_t> encode(std::string_view text, int max_length) const;
  // encode() of each text, in parallel over the intra-op threads.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                 int max_length) const;
  // The word pieces of `text` as strings, no special tokens, no truncation.
  std::vector<std::string> tokenize(std::string_view text) const;

  int32_t pad_id() const;
  int32_t cls_id() const;  // the token the post-processor puts first (-1 when none)
  int32_t sep_id() const;  // ... and last (-1 when none)
  int32_t unk_id() const;
  // Number of token ids (model vocabulary and added tokens): one past the largest id.
  int64_t vocab_size() const;
  // id -> token, vocab_size() entries (an id no token has maps to "").
  const std::vector<std::string>& vocab() const;
  bool do_lower_case() const;
  // Number of special tokens encode() adds around the pieces (2 for BERT and MPNet).
  int num_special_tokens() const;
  // Hex digest of everything that decides the ids (vocabulary, normalizer options, special
  // and added tokens, post-processor): equal fingerprints give equal ids for every text.
  std::string fingerprint() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  // Appends the pieces of `text` (no special tokens) to *ids, stopping once `limit` pieces
  // are there.
  void encode_pieces(std::string_view text, size_t limit, std::vector<int32_t>* ids) const;

  std::shared_ptr<const Impl> impl_;
};

}  // namespace disttune
