// Pooling of token states into one vector per text, as sentence-transformers' Pooling and
// Normalize modules compute it. Padded positions (mask 0) never contribute.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace disttune {

enum class PoolingMode { kMean, kCls, kMax, kLastToken, kMeanSqrtLen };

// "mean" | "cls" | "max" | "lasttoken" | "mean_sqrt_len"; throws UserError otherwise.
PoolingMode parse_pooling_mode(const std::string& name);
std::string pooling_mode_name(PoolingMode mode);

// token_states [B, T, H], attention_mask [B, T] -> [B, H] (float32).
//  mean:          sum(states * mask) / max(sum(mask), 1e-9)
//  mean_sqrt_len: sum(states * mask) / sqrt(max(sum(mask), 1e-9))
//  cls:           states[:, 0]
//  max:           max over T after setting padded positions to -1e9
//  lasttoken:     the state of the last position whose mask is 1 (zeros for an empty row)
at::Tensor pool(const at::Tensor& token_states, const at::Tensor& attention_mask, PoolingMode mode);

// x / max(||x||_2, eps) along dim 1, as torch.nn.functional.normalize.
at::Tensor l2_normalize(const at::Tensor& x, double eps = 1e-12);

}  // namespace disttune
