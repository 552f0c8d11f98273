// Encoder: a transformer that maps token ids to contextual token states, with Hugging Face
// parameter names so that model.safetensors files and checkpoints map one to one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/encoder_config.h"
#include "model/parameter_set.h"

namespace disttune {

struct EncoderRuntime {
  double hidden_dropout = 0;     // probabilities in effect for this forward pass;
  double attention_dropout = 0;  // zero in eval mode
  bool pack_tokens = true;       // TokenPacking: per-token work on real tokens only
  // The caller reads position 0 alone (CLS pooling): forward may return [B, 1, H], the last
  // layer run for the first tokens only (run_layers in model/transformer_layer.h).
  bool first_token_only = false;
  bool checkpoint = false;  // gradient checkpointing of each layer while grad mode is on
  // Hidden states to hand back besides the last (AdaptiveLayerLoss pools them): indices into
  // Hugging Face's hidden_states, 0 the embeddings' output and i layer i's, ascending and
  // below num_hidden_layers. Their [B, T, H] states are appended to *prior_states.
  std::vector<int64_t> prior_layers;
  std::vector<at::Tensor>* prior_states = nullptr;
};

class Encoder {
 public:
  explicit Encoder(EncoderConfig config) : config_(std::move(config)) {}
  virtual ~Encoder() = default;
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // input_ids, attention_mask: [B, T] int64 on the parameters' device -> [B, T, H] (or
  // [B, 1, H] under rt.first_token_only).
  virtual at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                             const EncoderRuntime& rt) const = 0;

  const EncoderConfig& config() const { return config_; }
  ParameterSet& state() { return state_; }
  const ParameterSet& state() const { return state_; }
  // Tensor names a file may hold that this encoder neither needs nor keeps.
  virtual std::set<std::string> ignorable() const { return {}; }

  // Hugging Face _init_weights: linear and embedding weights ~ N(0, initializer_range),
  // biases 0, LayerNorm 1 / 0, embedding padding rows 0. Deterministic for a seed.
  void init_weights(uint64_t seed);

 protected:
  // Embedding tables whose padding row Hugging Face zeroes at init: (name, padding_idx).
  virtual std::vector<std::pair<std::string, int64_t>> padded_embeddings() const = 0;

  EncoderConfig config_;
  ParameterSet state_;
};

// What a weights file holds beyond the required parameters.
struct EncoderExtras {
  bool pooler = false;        // pooler.dense.{weight,bias} (kept for round trip; unused)
  bool position_ids = false;  // embeddings.position_ids buffer (kept for round trip; unused)
};

std::unique_ptr<Encoder> make_encoder(const EncoderConfig& config, const EncoderExtras& extras);

}  // namespace disttune
