// Token packing: the per-token work of an encoder (embeddings, Q/K/V and output
// projections, LayerNorms, feed-forward) runs on the N real tokens of a padded [B, T] batch
// instead of all B x T positions, and attention, which mixes the tokens of a sequence, runs
// on groups of rows of similar length, each padded only to its own longest row.
// sentence-transformers pads a batch to its longest text: with the financial QA pairs'
// lengths a 64-row batch is ~1/3 real tokens for the products and ~1/10 useful for
// attention's T^2 scores. The arithmetic of every real token is the one the padded forward
// does (padding never reaches a real token: attention masks it out); only the order of
// float operations inside the BLAS may differ.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "model/attention.h"

namespace disttune {

class TokenPacking {
 public:
  // Packs when at least 1/16 of the positions are padding (below that the gathers around
  // attention cost about what they save); otherwise, or when !enabled, the layout stays
  // padded and attention runs on the whole batch.
  static TokenPacking plan(const at::Tensor& attention_mask, bool enabled = true);

  bool active() const { return index_.defined(); }
  // Flattened positions (b * T + t) of the real tokens, in order: [N] int64.
  const at::Tensor& index() const { return index_; }
  // Rows of each attention group (one group, all rows, when inactive).
  std::vector<int64_t> group_rows() const;

  // [B, T, ...] (ids, positions, states) -> [N, ...] (differentiable; identity when inactive).
  at::Tensor pack(const at::Tensor& padded) const;
  // [N, C] -> [B, T, C] with zeros at the padding (differentiable; identity when inactive).
  at::Tensor unpack(const at::Tensor& packed) const;
  // The states at position 0 of every row: [N, C] -> [B, C], or [B, T, C] -> [B, C] when
  // inactive (differentiable). Every row's position 0 must be a token (mask 1).
  at::Tensor first(const at::Tensor& x) const;

  // Sets each group's attention biases from its mask ([rows, length], the original
  // positions 0..length-1 of its rows): padding, and for MPNet the relative positions.
  void make_biases(const std::function<AttentionBias(const at::Tensor& group_mask)>& fn);
  // The groups' bias tensors that carry gradient (MPNet's relative position bias, computed
  // from a parameter): what a checkpointed layer reads besides its input and parameters.
  std::vector<at::Tensor> differentiable_biases() const;
  // A copy whose differentiable biases are `biases`, in differentiable_biases()'s order.
  TokenPacking with_differentiable_biases(const std::vector<at::Tensor>& biases) const;
  // Attention over the groups: `fn` maps one group's [rows, length, C] input and biases to
  // [rows, length, H]. x is [N, C] when active (-> [N, H]), [B, T, C] otherwise (-> fn's).
  using AttendFn = std::function<at::Tensor(const at::Tensor& x, const AttentionBias& bias)>;
  at::Tensor attend(const at::Tensor& x, const AttendFn& fn) const;

 private:
  struct Group {
    int64_t rows = 0, length = 0;
    at::Tensor src;   // [n] positions in the packed tokens
    at::Tensor dst;   // [n] positions in the group's [rows * length] layout
    at::Tensor mask;  // [rows, length]
    AttentionBias bias;
  };
  at::Tensor index_;
  at::Tensor inverse_;  // packed position of each token in the groups' concatenated order
  std::vector<int64_t> row_start_;  // packed position of each row's first token
  std::vector<Group> groups_;
  int64_t B_ = 0, T_ = 0;
  // Each group's bias tensors that carry gradient, in one order (differentiable_biases).
  template <typename Self, typename Fn>
  static void for_each_differentiable_bias(Self& self, Fn fn);
};

}  // namespace disttune
