#include "model/sentence_model.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <functional>

#include "common/env.h"
#include "common/log.h"
#include "model/encoder.h"
#include "model/model_dir.h"
#include "model/pooling.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace disttune {

// Outside the anonymous namespace: SentenceModel::Impl, which has external linkage,
// derives from it (and the helpers below, which cannot name the private Impl, take it).
namespace detail {

struct ModelState {
  ModelDir layout;  // configuration as it will be saved (options applied)
  std::unique_ptr<Encoder> encoder;
  PoolingMode pooling = PoolingMode::kMean;
  double hidden_dropout = 0;
  double attention_dropout = 0;
  bool training = false;
  bool pack_tokens = true;
  bool checkpoint = false;
  std::string tokenizer_dir;  // copied from on save ("" for init models)
  std::string vocab_file;
};

}  // namespace detail

using detail::ModelState;

struct SentenceModel::Impl : ModelState {};

namespace {

// Tokenizer files of a sentence-transformers directory, copied verbatim on save.
constexpr const char* kTokenizerFiles[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                           "special_tokens_map.json", "added_tokens.json"};

void apply_options(ModelState& m, const ModelOptions& opts) {
  const EncoderConfig& c = m.layout.encoder;
  const int64_t limit = c.max_tokens();
  if (opts.max_seq_length > 0) {
    DT_REQUIRE(opts.max_seq_length <= limit, "max_seq_length ", opts.max_seq_length,
               " exceeds what the model's position embeddings allow (", limit, ")");
    m.layout.max_seq_length = opts.max_seq_length;
  } else if (opts.max_seq_length < 0) {
    DT_FAIL("max_seq_length must be positive (or 0 for the model's own), got ", opts.max_seq_length);
  } else if (m.layout.max_seq_length <= 0) {
    m.layout.max_seq_length = static_cast<int>(std::min<int64_t>(256, limit));
  }
  if (opts.pooling != "auto") m.layout.pooling = pooling_mode_name(parse_pooling_mode(opts.pooling));
  m.pooling = parse_pooling_mode(m.layout.pooling);
  if (opts.normalize == "true") m.layout.normalize = true;
  else if (opts.normalize == "false") m.layout.normalize = false;
  else DT_REQUIRE(opts.normalize == "auto", "normalize must be auto, true or false, got '", opts.normalize, "'");
  if (opts.dropout >= 0) {
    DT_REQUIRE(opts.dropout < 1, "dropout must be in [0, 1), got ", opts.dropout);
    m.hidden_dropout = m.attention_dropout = opts.dropout;
  } else {
    m.hidden_dropout = c.hidden_dropout_prob;
    m.attention_dropout = c.attention_probs_dropout_prob;
  }
}

// Hugging Face task-head checkpoints prefix the base model ("bert.embeddings...").
void strip_base_prefix(std::vector<NamedTensor>& tensors, const std::string& arch) {
  const std::string prefix = arch + ".";
  if (find_tensor(tensors, "embeddings.word_embeddings.weight") ||
      !find_tensor(tensors, prefix + "embeddings.word_embeddings.weight"))
    return;
  for (auto& t : tensors)
    if (t.name.compare(0, prefix.size(), prefix) == 0) t.name = t.name.substr(prefix.size());
}

std::vector<std::string> read_vocab_lines(const std::string& path) {
  std::string text;
  Env::Default()->read_file(path, &text).throw_if_error();
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

void check_ids(const at::Tensor& ids, const at::Tensor& mask, int64_t vocab_size) {
  DT_REQUIRE(ids.dim() == 2, "input_ids must be [batch, tokens], got ", ids.dim(), " dimensions");
  DT_REQUIRE(mask.sizes() == ids.sizes(), "attention_mask shape ", mask.sizes(),
             " differs from input_ids shape ", ids.sizes());
  DT_REQUIRE(!at::isFloatingType(ids.scalar_type()), "input_ids must be integers, got ",
             c10::toString(ids.scalar_type()));
  DT_REQUIRE(ids.size(1) > 0, "input_ids has no tokens");
  if (ids.numel() == 0) return;
  at::Tensor range = at::stack({ids.min(), ids.max()}).cpu();
  const int64_t lo = range[0].item<int64_t>(), hi = range[1].item<int64_t>();
  DT_REQUIRE(lo >= 0 && hi < vocab_size, "token id ", lo < 0 ? lo : hi,
             " is outside the model's vocabulary of ", vocab_size);
}

// CPU inference runs the batch in slices whose largest activation ([rows, heads, T, T]
// scores, [rows, T, intermediate] FFN states) stays near this size. Each row's result is
// independent of the others, and small buffers are recycled by malloc where large ones go
// back to the kernel and return as fresh pages on every layer: slicing a 64 x 128 MiniLM
// batch into ~10-row pieces made the forward 2-3x faster on the development machines.
constexpr int64_t kInferenceSliceBytes = int64_t{8} << 20;

int64_t inference_slice_rows(const EncoderConfig& c, int64_t T) {
  const int64_t per_row = 4 * std::max({c.num_attention_heads * T * T, T * c.intermediate_size,
                                        3 * T * c.hidden_size});
  return std::max<int64_t>(1, kInferenceSliceBytes / per_row);
}

// fn over row slices of (ids, mask), concatenated; one call when slicing does not apply
// (gradients wanted, or a GPU, where larger batches are faster).
at::Tensor sliced(const at::Tensor& ids, const at::Tensor& mask, const EncoderConfig& c,
                  const std::function<at::Tensor(const at::Tensor&, const at::Tensor&)>& fn) {
  const int64_t B = ids.size(0);
  const int64_t rows = inference_slice_rows(c, ids.size(1));
  if (at::GradMode::is_enabled() || !ids.device().is_cpu() || B <= rows) return fn(ids, mask);
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < B; start += rows) {
    const int64_t n = std::min(rows, B - start);
    parts.push_back(fn(ids.narrow(0, start, n), mask.narrow(0, start, n)));
  }
  return at::cat(parts);
}

// The layer a tensor belongs to ("encoder.layer.3.attention..." -> 3), else -1.
int64_t layer_of(const std::string& name) {
  static const std::string prefix = "encoder.layer.";
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  return std::stoll(name.substr(prefix.size()));
}

// ModelOptions.num_layers: the model's first layers, as sentence-transformers users cut a
// model trained with AdaptiveLayerLoss (auto_model.encoder.layer[:n]; 0 leaves the
// embeddings' output, its prior layer 0); config.json says so when it is saved.
void keep_layers(ModelState& m, int num_layers, const EncoderExtras& extras) {
  const int64_t total = m.layout.encoder.num_hidden_layers;
  if (num_layers < 0 || num_layers == total) return;
  DT_REQUIRE(num_layers <= total, "num_layers ", num_layers, " must be at most the model's ", total, " layers");
  const ParameterSet& s = m.encoder->state();
  std::vector<NamedTensor> kept;
  for (const auto* list : {&s.parameters(), &s.buffers()})
    for (const NamedTensor& t : *list)
      if (layer_of(t.name) < num_layers) kept.push_back(t);
  m.layout.encoder.num_hidden_layers = num_layers;
  m.encoder = make_encoder(m.layout.encoder, extras);
  m.encoder->state().load(kept, "the model's first layers", m.encoder->ignorable());
}

EncoderRuntime runtime(const ModelState& m) {
  EncoderRuntime rt;
  rt.pack_tokens = m.pack_tokens;
  rt.checkpoint = m.checkpoint;
  if (m.training) {
    rt.hidden_dropout = m.hidden_dropout;
    rt.attention_dropout = m.attention_dropout;
  }
  return rt;
}

// The runtime of a forward that returns embeddings: CLS pooling reads position 0 alone.
EncoderRuntime embedding_runtime(const ModelState& m) {
  EncoderRuntime rt = runtime(m);
  rt.first_token_only = m.pooling == PoolingMode::kCls;
  return rt;
}

// Token states [B, T, H] -> the model's embeddings: pooled, and normalised when it normalises.
at::Tensor embedding_of(const ModelState& m, const at::Tensor& states, const at::Tensor& mask) {
  at::Tensor pooled = pool(states, mask, m.pooling);
  return m.layout.normalize ? l2_normalize(pooled) : pooled;
}

}  // namespace

SentenceModel::SentenceModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SentenceModel::SentenceModel(SentenceModel&&) noexcept = default;
SentenceModel& SentenceModel::operator=(SentenceModel&&) noexcept = default;
SentenceModel::~SentenceModel() = default;

SentenceModel SentenceModel::load(const std::string& dir, const ModelOptions& opts) {
  auto m = std::make_unique<Impl>();
  m->layout = read_model_dir(dir);
  SafetensorsFile file = read_safetensors(m->layout.weights_path).value();
  strip_base_prefix(file.tensors, m->layout.encoder.architecture);
  EncoderExtras extras;
  extras.pooler = find_tensor(file.tensors, "pooler.dense.weight") || find_tensor(file.tensors, "pooler.dense.bias");
  extras.position_ids = find_tensor(file.tensors, "embeddings.position_ids") != nullptr;
  m->encoder = make_encoder(m->layout.encoder, extras);
  m->encoder->state().load(file.tensors, m->layout.weights_path, m->encoder->ignorable());
  keep_layers(*m, opts.num_layers, extras);
  apply_options(*m, opts);
  m->tokenizer_dir = m->layout.transformer_dir;
  const std::string vocab = (fs::path(m->tokenizer_dir) / "vocab.txt").string();
  if (fs::exists(vocab)) m->vocab_file = vocab;
  LOG(INFO) << "loaded " << m->layout.encoder.architecture << " model from " << dir << " ("
            << m->layout.encoder.num_hidden_layers << " layers, hidden " << m->layout.encoder.hidden_size
            << ", pooling " << m->layout.pooling << (m->layout.normalize ? ", normalized" : "") << ")";
  return SentenceModel(std::move(m));
}

SentenceModel SentenceModel::init(const InitOptions& init, const ModelOptions& opts) {
  DT_REQUIRE(!init.vocab.empty(), "model.init needs a vocabulary file (vocab.txt)");
  const std::vector<std::string> vocab = read_vocab_lines(init.vocab);
  DT_REQUIRE(!vocab.empty(), init.vocab, ": the vocabulary is empty");
  int64_t pad = -1;
  for (size_t i = 0; i < vocab.size() && pad < 0; ++i)
    if (vocab[i] == "[PAD]") pad = static_cast<int64_t>(i);
  DT_REQUIRE(pad >= 0, init.vocab, ": no [PAD] token in the vocabulary (a BERT vocab.txt is expected)");
  DT_REQUIRE(init.hidden_size > 0 && init.num_layers > 0 && init.num_heads > 0 &&
                 init.intermediate_size > 0 && init.max_position > 0,
             "model.init: hidden_size, num_layers, num_heads, intermediate_size and max_position must be positive");
  DT_REQUIRE(init.hidden_size % init.num_heads == 0, "model.init: num_heads ", init.num_heads,
             " does not divide hidden_size ", init.hidden_size);

  auto m = std::make_unique<Impl>();
  m->layout.encoder = bert_config(static_cast<int64_t>(vocab.size()), init.hidden_size, init.num_layers,
                                  init.num_heads, init.intermediate_size, init.max_position, pad);
  m->layout.pooling = "mean";
  m->layout.normalize = true;
  m->layout.similarity_fn_name = "cosine";
  EncoderExtras extras;
  extras.pooler = true;  // BertModel has one; sentence-transformers loads it silently
  m->encoder = make_encoder(m->layout.encoder, extras);
  m->encoder->init_weights(init.seed);
  keep_layers(*m, opts.num_layers, extras);
  apply_options(*m, opts);
  m->vocab_file = init.vocab;
  return SentenceModel(std::move(m));
}

at::Tensor SentenceModel::token_embeddings(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  const at::Device dev = device();
  check_ids(input_ids, attention_mask, impl_->layout.encoder.vocab_size);
  const EncoderRuntime rt = runtime(*impl_);
  const Encoder& enc = *impl_->encoder;
  return sliced(input_ids.to(dev, at::kLong), attention_mask.to(dev), enc.config(),
                [&](const at::Tensor& ids, const at::Tensor& mask) { return enc.forward(ids, mask, rt); });
}

at::Tensor SentenceModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                  const std::vector<int64_t>& prior, std::vector<at::Tensor>* prior_embeddings) {
  if (prior.empty()) return forward(input_ids, attention_mask);
  DT_CHECK(prior_embeddings != nullptr, "SentenceModel::forward: prior layers without an output");
  check_ids(input_ids, attention_mask, impl_->layout.encoder.vocab_size);
  EncoderRuntime rt = embedding_runtime(*impl_);
  rt.prior_layers = prior;
  std::vector<at::Tensor> states;
  rt.prior_states = &states;
  const at::Device dev = device();
  const at::Tensor mask = attention_mask.to(dev);
  at::Tensor last = embedding_of(*impl_, impl_->encoder->forward(input_ids.to(dev, at::kLong), mask, rt), mask);
  DT_CHECK(states.size() == prior.size(), "the encoder returned ", states.size(), " of ", prior.size(),
           " prior hidden states");
  for (const at::Tensor& st : states) prior_embeddings->push_back(embedding_of(*impl_, st, mask));
  return last;
}

at::Tensor SentenceModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  const at::Device dev = device();
  check_ids(input_ids, attention_mask, impl_->layout.encoder.vocab_size);
  const Encoder& enc = *impl_->encoder;
  const EncoderRuntime rt = embedding_runtime(*impl_);
  return sliced(input_ids.to(dev, at::kLong), attention_mask.to(dev), enc.config(),
                [&](const at::Tensor& ids, const at::Tensor& mask) {
                  return embedding_of(*impl_, enc.forward(ids, mask, rt), mask);
                });
}

std::vector<NamedTensor>& SentenceModel::parameters() { return impl_->encoder->state().parameters(); }
void SentenceModel::set_training(bool on) { impl_->training = on; }
bool SentenceModel::training() const { return impl_->training; }
void SentenceModel::set_token_packing(bool on) { impl_->pack_tokens = on; }
void SentenceModel::set_gradient_checkpointing(bool on) { impl_->checkpoint = on; }
void SentenceModel::to(const at::Device& device) { impl_->encoder->state().to(device); }
at::Device SentenceModel::device() const {
  return impl_->encoder->state().parameters().front().tensor.device();
}
int64_t SentenceModel::dim() const { return impl_->layout.encoder.hidden_size; }
int64_t SentenceModel::num_layers() const { return impl_->layout.encoder.num_hidden_layers; }
int SentenceModel::max_seq_length() const { return impl_->layout.max_seq_length; }
std::string SentenceModel::architecture() const { return impl_->layout.encoder.architecture; }
std::string SentenceModel::prompt(const std::string& name) const {
  auto it = impl_->layout.prompts.find(name);
  return it == impl_->layout.prompts.end() ? "" : it->second;
}

std::string SentenceModel::default_prompt() const {
  const std::string& name = impl_->layout.default_prompt_name;
  return name.empty() ? "" : prompt(name);
}
std::string SentenceModel::query_prompt() const {
  const auto it = impl_->layout.prompts.find("query");
  return it == impl_->layout.prompts.end() ? default_prompt() : it->second;
}
std::string SentenceModel::document_prompt() const {
  for (const char* name : {"document", "passage", "corpus"})
    if (auto it = impl_->layout.prompts.find(name); it != impl_->layout.prompts.end()) return it->second;
  return default_prompt();
}
std::string SentenceModel::pooling() const { return impl_->layout.pooling; }
std::string SentenceModel::similarity_fn_name() const {
  return impl_->layout.similarity_fn_name.empty() ? "cosine" : impl_->layout.similarity_fn_name;
}
bool SentenceModel::normalize() const { return impl_->layout.normalize; }
bool SentenceModel::do_lower_case() const { return impl_->layout.do_lower_case; }
const std::string& SentenceModel::tokenizer_dir() const { return impl_->tokenizer_dir; }
const std::string& SentenceModel::vocab_file() const { return impl_->vocab_file; }
const EncoderConfig& SentenceModel::config() const { return impl_->layout.encoder; }
int64_t SentenceModel::pad_token_id() const { return impl_->layout.encoder.pad_token_id; }

std::vector<NamedTensor> SentenceModel::state() const {
  const ParameterSet& s = impl_->encoder->state();
  std::vector<NamedTensor> out = s.parameters();
  out.insert(out.end(), s.buffers().begin(), s.buffers().end());
  return out;
}

void SentenceModel::load_state(const std::vector<NamedTensor>& tensors) {
  impl_->encoder->state().load(tensors, "model state", impl_->encoder->ignorable());
}

void SentenceModel::save(const std::string& dir, Env* env) const {
  if (!env) env = Env::Default();
  env->make_dirs(dir).throw_if_error();
  const auto out = [&](const std::string& name) { return (fs::path(dir) / name).string(); };
  write_safetensors(out("model.safetensors"), state(), {{"format", "pt"}}, env).throw_if_error();
  write_model_dir_configs(dir, impl_->layout, env).throw_if_error();

  auto copy = [&](const std::string& from, const std::string& to) {
    std::error_code ec;
    if (fs::exists(to) && fs::equivalent(from, to, ec)) return;  // saving over the source
    std::string data;
    env->read_file(from, &data).throw_if_error();
    env->write_file_atomic(to, data).throw_if_error();
  };
  if (!impl_->tokenizer_dir.empty()) {
    for (const char* name : kTokenizerFiles) {
      const std::string from = (fs::path(impl_->tokenizer_dir) / name).string();
      if (fs::exists(from)) copy(from, out(name));
    }
    return;
  }
  // A model from init: its vocabulary plus the configuration of a lower-cased BERT
  // WordPiece tokenizer (as bert-base-uncased ships it).
  if (!impl_->vocab_file.empty()) copy(impl_->vocab_file, out("vocab.txt"));
  Json special = Json::object();
  special["unk_token"] = "[UNK]";
  special["sep_token"] = "[SEP]";
  special["pad_token"] = "[PAD]";
  special["cls_token"] = "[CLS]";
  special["mask_token"] = "[MASK]";
  Json tok = special;
  tok["do_lower_case"] = true;
  tok["do_basic_tokenize"] = true;
  tok["never_split"] = nullptr;
  tok["tokenize_chinese_chars"] = true;
  tok["strip_accents"] = nullptr;
  tok["model_max_length"] = impl_->layout.encoder.max_position_embeddings;
  tok["clean_up_tokenization_spaces"] = true;
  tok["tokenizer_class"] = "BertTokenizer";
  write_json_file(out("special_tokens_map.json"), special, env).throw_if_error();
  write_json_file(out("tokenizer_config.json"), tok, env).throw_if_error();
}

}  // namespace disttune
