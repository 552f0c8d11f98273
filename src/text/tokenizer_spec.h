// TokenizerSpec: everything that defines a WordPiece tokenizer, as read from a model
// directory. Two layouts, the rules transformers applies to each:
//  - tokenizer.json (the fast tokenizer file): model (WordPiece vocab, unk_token,
//    continuing_subword_prefix, max_input_chars_per_word), normalizer (BertNormalizer),
//    pre_tokenizer (BertPreTokenizer), post_processor (TemplateProcessing, BertProcessing or
//    RobertaProcessing), added_tokens; tokenizer_config.json's do_lower_case, strip_accents
//    and tokenize_chinese_chars override the normalizer, as BertTokenizerFast does.
//  - vocab.txt (one token per line, id = line number) with tokenizer_config.json and
//    special_tokens_map.json, converted as transformers converts the slow tokenizer.
// sentence_bert_config.json's do_lower_case (sentence-transformers lowercases the texts
// itself before tokenizing) applies to both.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "text/added_tokens.h"
#include "text/basic_tokenizer.h"
#include "text/wordpiece.h"

namespace disttune::text {

struct TokenizerSpec {
  std::string source;  // the file the vocabulary came from, for messages
  std::vector<std::pair<std::string, int32_t>> vocab;  // the WordPiece model's (token, id)
  WordPieceConfig wordpiece;
  NormalizerOptions normalizer;
  std::vector<AddedToken> added_tokens;
  // What the post-processor puts before and after the pieces of a single text.
  std::vector<int32_t> prefix_ids, suffix_ids;
  int32_t pad_id = -1;
  int32_t cls_id = -1, sep_id = -1;
  // sentence_bert_config.json do_lower_case: texts are lowercased as Python's str.lower()
  // does before tokenization.
  bool lowercase_input = false;
};

// Reads the tokenizer of a model directory (see above).
Result<TokenizerSpec> read_tokenizer_spec(const std::string& model_dir);

// A BERT tokenizer from a vocab.txt: [CLS] [SEP] [UNK] [PAD] (and [MASK] when present).
Result<TokenizerSpec> bert_vocab_spec(const std::string& vocab_txt, bool do_lower_case);

}  // namespace disttune::text
