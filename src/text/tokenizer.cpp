#include "text/tokenizer.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>

#include "common/check.h"
#include "text/added_tokens.h"
#include "text/basic_tokenizer.h"
#include "text/python_lower.h"
#include "text/tokenizer_spec.h"
#include "text/utf8.h"
#include "text/wordpiece.h"

namespace disttune {

using text::AddedToken;
using text::AddedTokenSplitter;

struct Tokenizer::Impl {
  static constexpr int64_t kMaxUnusedIds = 1024;

  explicit Impl(text::TokenizerSpec s)
      : spec(std::move(s)),
        basic(spec.normalizer),
        wordpiece(spec.vocab, spec.wordpiece, spec.source) {
    // Added tokens are found in the raw text, or (normalized ones) in the normalized text
    // where their content is normalized too.
    std::vector<AddedToken> raw, norm;
    std::vector<std::string> raw_pat, norm_pat;
    for (const AddedToken& t : spec.added_tokens) {
      if (t.normalized) {
        std::string p;
        basic.normalize(t.content, &p);
        norm.push_back(t);
        norm_pat.push_back(p);
      } else {
        raw.push_back(t);
        raw_pat.push_back(t.content);
      }
    }
    raw_splitter = AddedTokenSplitter(std::move(raw), std::move(raw_pat));
    normalized_splitter = AddedTokenSplitter(std::move(norm), std::move(norm_pat));

    // id -> token is a dense table, and the model's embedding has a row per id: an id far
    // beyond the number of tokens the files define (a damaged or hostile file) would size
    // both by that id. Real tokenizers number their tokens densely; a few unused ids are fine.
    int64_t max_id = -1;
    for (const auto& [tok, id] : spec.vocab) max_id = std::max<int64_t>(max_id, id);
    for (const auto& t : spec.added_tokens) max_id = std::max<int64_t>(max_id, t.id);
    const int64_t tokens = static_cast<int64_t>(spec.vocab.size() + spec.added_tokens.size());
    DT_REQUIRE(max_id < tokens + kMaxUnusedIds, spec.source, ": token id ", max_id,
               " is far beyond the ", tokens, " tokens the tokenizer files define (at most ",
               kMaxUnusedIds, " unused ids are allowed)");
    for (const auto& t : spec.added_tokens)
      DT_REQUIRE(t.id >= 0, spec.source, ": added token '", t.content, "' has no valid id");
    const int32_t n = static_cast<int32_t>(max_id + 1);
    id_to_token.assign(static_cast<size_t>(n), std::string());
    for (const auto& [tok, id] : spec.vocab) id_to_token[id] = tok;
    for (const auto& t : spec.added_tokens) id_to_token[t.id] = t.content;
    auto check_id = [&](int32_t id, const char* what) {
      DT_REQUIRE(id >= -1 && id < n, spec.source, ": the ", what, " id ", id,
                 " is outside the vocabulary (", n, " ids)");
    };
    for (int32_t id : spec.prefix_ids) check_id(id, "post-processor special token");
    for (int32_t id : spec.suffix_ids) check_id(id, "post-processor special token");
    check_id(spec.pad_id, "padding token");
    fingerprint = compute_fingerprint();
  }

  std::string compute_fingerprint() const {
    // Canonical: the token -> id map as WordPiece sees it (a later duplicate wins), by id,
    // so that the same tokenizer read from tokenizer.json or from vocab.txt agrees.
    std::map<std::string, int32_t> effective;
    for (const auto& [tok, id] : spec.vocab) effective[tok] = id;
    std::vector<std::pair<int32_t, const std::string*>> by_id;
    by_id.reserve(effective.size());
    for (const auto& [tok, id] : effective) by_id.emplace_back(id, &tok);
    std::sort(by_id.begin(), by_id.end(),
              [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : *a.second < *b.second; });
    std::vector<AddedToken> added = spec.added_tokens;
    std::sort(added.begin(), added.end(), [](const AddedToken& a, const AddedToken& b) {
      return a.id != b.id ? a.id < b.id : a.content < b.content;
    });
    std::string c = "disttune-wordpiece-1\n";
    const auto& o = spec.normalizer;
    c += str_cat("normalizer ", o.clean_text, o.handle_chinese_chars, o.strip_accents, o.lowercase,
                 " lowercase_input ", spec.lowercase_input, "\n");
    c += str_cat("wordpiece ", spec.wordpiece.unk_token, " ", spec.wordpiece.continuing_subword_prefix,
                 " ", spec.wordpiece.max_input_chars_per_word, "\n");
    for (const auto& [id, tok] : by_id) c += str_cat(id, "\t", *tok, "\n");
    for (const auto& t : added)
      c += str_cat("added ", t.id, "\t", t.content, "\t", t.single_word, t.lstrip, t.rstrip,
                   t.normalized, "\n");
    c += "prefix";
    for (int32_t id : spec.prefix_ids) c += str_cat(" ", id);
    c += "\nsuffix";
    for (int32_t id : spec.suffix_ids) c += str_cat(" ", id);
    c += str_cat("\npad ", spec.pad_id, "\n");
    // Two independent 64-bit FNV-1a digests.
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (unsigned char b : c) {
      h1 = (h1 ^ b) * 0x100000001b3ull;
      h2 = (h2 ^ b) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h1),
                  static_cast<unsigned long long>(h2));
    return buf;
  }

  text::TokenizerSpec spec;
  text::BasicTokenizer basic;
  text::WordPiece wordpiece;
  AddedTokenSplitter raw_splitter, normalized_splitter;
  std::vector<std::string> id_to_token;
  std::string fingerprint;
};

Tokenizer Tokenizer::from_spec(text::TokenizerSpec spec) {
  return Tokenizer(std::make_shared<const Impl>(std::move(spec)));
}

Tokenizer Tokenizer::load(const std::string& model_dir) {
  return from_spec(text::read_tokenizer_spec(model_dir).value());
}

Tokenizer Tokenizer::from_vocab_file(const std::string& vocab_txt, bool do_lower_case) {
  return from_spec(text::bert_vocab_spec(vocab_txt, do_lower_case).value());
}

void Tokenizer::encode_pieces(std::string_view input, size_t limit, std::vector<int32_t>* ids) const {
  if (limit == 0) return;
  const Impl& m = *impl_;
  // Per-thread scratch: encoding a text allocates nothing once these have grown.
  thread_local std::string repaired, lowered, normalized;
  thread_local std::vector<AddedTokenSplitter::Piece> raw_pieces, norm_pieces;

  std::string_view s = input;
  if (!text::is_valid_utf8(s)) {
    repaired.clear();
    text::repair_utf8(s, &repaired);
    s = repaired;
  }
  if (m.spec.lowercase_input) {
    lowered.clear();
    text::python_lower(s, &lowered);
    s = lowered;
  }
  const size_t base = ids->size();
  auto full = [&] { return ids->size() - base >= limit; };
  auto on_word = [&](std::string_view word) {
    m.wordpiece.tokenize(word, ids);
    return !full();
  };
  // A text piece between raw-matched added tokens: normalize, find the normalized added
  // tokens, split the rest into words. Returns false once `limit` pieces are there.
  auto encode_text = [&](std::string_view piece) {
    normalized.clear();
    m.basic.normalize(piece, &normalized);
    if (m.normalized_splitter.empty()) return m.basic.split_words(normalized, on_word);
    norm_pieces.clear();
    m.normalized_splitter.split(normalized, &norm_pieces);
    for (const auto& p : norm_pieces) {
      if (p.id >= 0) {
        ids->push_back(p.id);
        if (full()) return false;
      } else if (!m.basic.split_words(std::string_view(normalized).substr(p.begin, p.end - p.begin),
                                      on_word)) {
        return false;
      }
    }
    return true;
  };
  if (m.raw_splitter.empty()) {
    encode_text(s);
  } else {
    raw_pieces.clear();
    m.raw_splitter.split(s, &raw_pieces);
    for (const auto& p : raw_pieces) {
      if (p.id >= 0) {
        ids->push_back(p.id);
        if (full()) break;
      } else if (!encode_text(s.substr(p.begin, p.end - p.begin))) {
        break;
      }
    }
  }
  if (ids->size() - base > limit) ids->resize(base + limit);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, int max_length) const {
  const auto& spec = impl_->spec;
  const int specials = num_special_tokens();
  DT_REQUIRE(max_length >= specials, "max_length ", max_length,
             " is too small: the tokenizer adds ", specials, " special tokens");
  std::vector<int32_t> ids;
  ids.reserve(std::min(max_length, 512));
  ids.insert(ids.end(), spec.prefix_ids.begin(), spec.prefix_ids.end());
  encode_pieces(text, static_cast<size_t>(max_length - specials), &ids);
  ids.insert(ids.end(), spec.suffix_ids.begin(), spec.suffix_ids.end());
  return ids;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          int max_length) const {
  const int specials = num_special_tokens();
  DT_REQUIRE(max_length >= specials, "max_length ", max_length,
             " is too small: the tokenizer adds ", specials, " special tokens");
  std::vector<std::vector<int32_t>> out(texts.size());
  at::parallel_for(0, static_cast<int64_t>(texts.size()), 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = encode(texts[i], max_length);
  });
  return out;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  std::vector<int32_t> ids;
  encode_pieces(text, std::numeric_limits<size_t>::max(), &ids);
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int32_t id : ids) out.push_back(impl_->id_to_token[id]);
  return out;
}

int32_t Tokenizer::pad_id() const { return impl_->spec.pad_id; }
int32_t Tokenizer::cls_id() const { return impl_->spec.cls_id; }
int32_t Tokenizer::sep_id() const { return impl_->spec.sep_id; }
int32_t Tokenizer::unk_id() const { return impl_->wordpiece.unk_id(); }
int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }
const std::vector<std::string>& Tokenizer::vocab() const { return impl_->id_to_token; }
bool Tokenizer::do_lower_case() const { return impl_->spec.normalizer.lowercase; }
int Tokenizer::num_special_tokens() const {
  return static_cast<int>(impl_->spec.prefix_ids.size() + impl_->spec.suffix_ids.size());
}
std::string Tokenizer::fingerprint() const { return impl_->fingerprint; }

}  // namespace disttune
