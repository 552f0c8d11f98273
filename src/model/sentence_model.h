// SentenceModel: a sentence-transformers bi-encoder (Transformer -> Pooling [-> Normalize])
// loaded from, and saved to, a sentence-transformers model directory. It takes token ids
// (the tokenizer lives elsewhere) and returns differentiable float32 embeddings.
//
//   SentenceModel m = SentenceModel::load("all-MiniLM-L6-v2");
//   at::Tensor emb = m.forward(input_ids, attention_mask);   // [B, 384], L2-normalised
//
// Parameters are float32 leaves with requires_grad and Hugging Face names, in Hugging
// Face order. pooler.dense.* (when the file has it) is kept for round trips but, as in
// sentence-transformers, takes no part in the embedding: its gradient stays undefined, so
// optimisers and gradient reductions must skip parameters without a gradient.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/named_tensor.h"

namespace disttune {

class Env;
struct EncoderConfig;

struct ModelOptions {              // config overrides; defaults mean "as the directory says"
  int max_seq_length = 0;          // 0: sentence_bert_config.json, else 256 (as ST)
  std::string pooling = "auto";    // auto|mean|cls|max|lasttoken|mean_sqrt_len
  std::string normalize = "auto";  // auto|true|false
  double dropout = -1;             // -1: config.json values; else hidden and attention dropout
  int num_layers = -1;             // -1: all; else the first num_layers layers (0: the embeddings
                                   // alone), the model cut as AdaptiveLayerLoss trains it to be
};

struct InitOptions {
  std::string vocab;  // vocab.txt: one token per line; must hold [PAD]
  int hidden_size = 128, num_layers = 2, num_heads = 2, intermediate_size = 512, max_position = 512;
  uint64_t seed = 0;
};

class SentenceModel {
 public:
  // Reads a sentence-transformers (or plain Hugging Face) directory; throws UserError.
  static SentenceModel load(const std::string& dir, const ModelOptions& opts = {});
  // A randomly initialised BERT as Hugging Face initialises one (normal(0, 0.02) weights,
  // zero biases, LayerNorm 1/0, zero padding row), deterministic per seed; mean pooling and
  // normalisation unless `opts` say otherwise. Throws UserError.
  static SentenceModel init(const InitOptions& init, const ModelOptions& opts = {});

  SentenceModel(SentenceModel&&) noexcept;
  SentenceModel& operator=(SentenceModel&&) noexcept;
  ~SentenceModel();

  // input_ids, attention_mask: [B, T] integer tensors (any device; moved to the model's).
  // Returns pooled (and, when normalising, L2-normalised) float32 embeddings [B, dim].
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask);
  // forward(), and besides it the embeddings pooled (and normalised) as forward() pools them
  // from earlier hidden states (AdaptiveLayerLoss): `prior` indexes Hugging Face's
  // hidden_states (0 the embeddings' output, i layer i's; ascending, below num_layers()), and
  // *prior_embeddings receives one [B, dim] tensor per index. Not sliced: for training.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const std::vector<int64_t>& prior, std::vector<at::Tensor>* prior_embeddings);
  // The encoder's last hidden state [B, T, H] (padded positions hold unspecified values).
  at::Tensor token_embeddings(const at::Tensor& input_ids, const at::Tensor& attention_mask);

  std::vector<NamedTensor>& parameters();  // HF names, fixed order; leaves with requires_grad
  void set_training(bool on);              // dropout on/off (off by default = eval mode)
  bool training() const;
  // Token packing (model/token_packing.h), on by default; off runs every padded position
  // through the encoder as Hugging Face does (the same embeddings: benchmarks and tests).
  void set_token_packing(bool on);
  // Gradient checkpointing (model/checkpoint.h) of each encoder layer while gradients are
  // recorded: the same embeddings and gradients, less activation memory, one more forward.
  void set_gradient_checkpointing(bool on);
  void to(const at::Device& device);
  at::Device device() const;

  int64_t dim() const;  // embedding dimension
  int64_t num_layers() const;  // transformer layers (config.json num_hidden_layers)
  int max_seq_length() const;
  std::string architecture() const;                   // "bert" | "mpnet"
  std::string prompt(const std::string& name) const;  // e.g. prompt("query"); "" if none
  // The prompts sentence-transformers' encode methods prepend when given none: encode the
  // default prompt (default_prompt_name's); encode_query "query", else the default;
  // encode_document "document", else "passage", else "corpus", else the default. "" if none.
  std::string default_prompt() const;
  std::string query_prompt() const;
  std::string document_prompt() const;
  std::string pooling() const;
  bool normalize() const;
  // config_sentence_transformers.json similarity_fn_name; "cosine" where it names none, as
  // sentence-transformers defaults it.
  std::string similarity_fn_name() const;
  bool do_lower_case() const;                 // sentence_bert_config.json do_lower_case
  const std::string& tokenizer_dir() const;   // where the tokenizer files come from ("" for init)
  const std::string& vocab_file() const;      // vocab.txt to tokenize with ("" if none)
  const EncoderConfig& config() const;
  int64_t pad_token_id() const;               // the id batches are padded with

  // Writes a complete sentence-transformers directory (config.json, model.safetensors,
  // tokenizer files, modules.json, sentence_bert_config.json, 1_Pooling/config.json,
  // 2_Normalize/ when normalising, config_sentence_transformers.json), each file atomically.
  // Throws UserError on I/O failure.
  void save(const std::string& dir, Env* env = nullptr) const;

  // Copies values in by name (parameters required; buffers optional). Missing, unexpected
  // or mis-shaped tensors throw UserError naming the tensor. Used by checkpoints.
  void load_state(const std::vector<NamedTensor>& tensors);
  // Parameters followed by buffers, as save() writes them to model.safetensors.
  std::vector<NamedTensor> state() const;

 private:
  struct Impl;
  explicit SentenceModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace disttune
