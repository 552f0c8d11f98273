// Multi-head scaled dot-product attention with additive biases, the core shared by BERT
// and MPNet: softmax(q k^T / sqrt(d) + padding [+ position]) v. On libtorch >= 2 it runs
// at::scaled_dot_product_attention (fused kernels on GPU); on 1.13 the explicit path, or,
// from the fused Q/K/V buffer on the CPU, the oneDNN kernel of attention_qkv.
#pragma once

#include <ATen/ATen.h>
#include <torch/version.h>

namespace disttune {

struct AttentionBias {
  at::Tensor padding;   // [B, 1, 1, T]: 0 for tokens, the dtype's lowest value for padding
  at::Tensor position;  // [1, heads, T, T] relative position bias (MPNet) or undefined
  at::Tensor fused;     // what the fused kernel receives (padding + position), when used
};

// Hugging Face's extended attention mask: (1 - mask) * lowest(dtype), shaped [B, 1, 1, T].
at::Tensor padding_bias(const at::Tensor& attention_mask, at::ScalarType dtype);

// Bundles the biases of one forward pass (computed once, used by every layer).
AttentionBias make_attention_bias(const at::Tensor& padding, const at::Tensor& position = {});

// Whether attention() runs libtorch's fused kernel (libtorch >= 2).
#if TORCH_VERSION_MAJOR >= 2
constexpr bool kFusedAttention = true;
#else
constexpr bool kFusedAttention = false;
#endif

// q, k, v: [B, heads, T, head_dim] -> [B, heads, T, head_dim]. Dropout on the attention
// probabilities when dropout_p > 0. `q_scaled`: q already carries the 1/sqrt(head_dim)
// factor (callers scale it in place where that saves a buffer; the fused kernel scales
// itself and must get q unscaled).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBias& bias, double dropout_p, bool q_scaled = false);

// Attention from the fused projection: qkv [B, T, 3H] (q, k, v side by side, each `heads`
// heads of H / heads) -> context [B, T, H]. On the CPU with oneDNN and libtorch 1.x, qkv
// float32 or bf16 (training.precision bf16) and the biases float32: one kernel that runs each
// (row, head) pair's products, biases, softmax and dropout while its scores sit in the cache,
// reading q, k and v where they lie and writing the context in place (model/cpu_gemm.h; bf16
// blocks are staged in float32, so the arithmetic is float32 and only the context and d qkv
// are rounded to bf16). Otherwise split + attention() above. Same values and gradients (qkv
// and a position bias), and under the same seed the same dropout mask, as the explicit path
// (bf16: as the explicit path in float32 on the same inputs, rounded once).
at::Tensor attention_qkv(const at::Tensor& qkv, int64_t heads, const AttentionBias& bias, double dropout_p);

}  // namespace disttune
