#include "model/encoder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include "model/bert.h"
#include "model/mpnet.h"

namespace disttune {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void Encoder::init_weights(uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto& p : state_.parameters()) {
    // Drawn on the CPU so that a seed gives the same model on every device.
    at::Tensor v;
    if (ends_with(p.name, "LayerNorm.weight")) v = at::ones(p.tensor.sizes());
    else if (ends_with(p.name, ".bias")) v = at::zeros(p.tensor.sizes());
    else v = at::empty(p.tensor.sizes()).normal_(0.0, config_.initializer_range, gen);
    for (const auto& [name, pad] : padded_embeddings())
      if (name == p.name) v[pad].zero_();
    p.tensor.copy_(v);
  }
}

std::unique_ptr<Encoder> make_encoder(const EncoderConfig& config, const EncoderExtras& extras) {
  if (config.architecture == "bert") return std::make_unique<BertEncoder>(config, extras);
  if (config.architecture == "mpnet") return std::make_unique<MpnetEncoder>(config, extras);
  DT_CHECK(false, "unknown architecture ", config.architecture);
  return nullptr;
}

}  // namespace disttune
