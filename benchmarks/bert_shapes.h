// Parameter names and shapes of a BERT encoder (Hugging Face naming), for benchmarks that
// need a realistic parameter list without a model: all-MiniLM-L6-v2 is 384 x 6 layers
// (22.7M parameters), bge-base-en-v1.5 768 x 12 (109.5M). benchmarks/ref_adamw.py builds
// the same list.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace disttune::bench {

inline std::vector<std::pair<std::string, std::vector<int64_t>>> bert_shapes(int64_t hidden,
                                                                            int64_t layers) {
  const int64_t vocab = 30522, positions = 512, inter = 4 * hidden;
  std::vector<std::pair<std::string, std::vector<int64_t>>> s{
      {"embeddings.word_embeddings.weight", {vocab, hidden}},
      {"embeddings.position_embeddings.weight", {positions, hidden}},
      {"embeddings.token_type_embeddings.weight", {2, hidden}},
      {"embeddings.LayerNorm.weight", {hidden}},
      {"embeddings.LayerNorm.bias", {hidden}}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense"}) {
      s.push_back({p + m + ".weight", {hidden, hidden}});
      s.push_back({p + m + ".bias", {hidden}});
    }
    s.push_back({p + "attention.output.LayerNorm.weight", {hidden}});
    s.push_back({p + "attention.output.LayerNorm.bias", {hidden}});
    s.push_back({p + "intermediate.dense.weight", {inter, hidden}});
    s.push_back({p + "intermediate.dense.bias", {inter}});
    s.push_back({p + "output.dense.weight", {hidden, inter}});
    s.push_back({p + "output.dense.bias", {hidden}});
    s.push_back({p + "output.LayerNorm.weight", {hidden}});
    s.push_back({p + "output.LayerNorm.bias", {hidden}});
  }
  s.push_back({"pooler.dense.weight", {hidden, hidden}});
  s.push_back({"pooler.dense.bias", {hidden}});
  return s;
}

}  // namespace disttune::bench
