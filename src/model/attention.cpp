#include "model/attention.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include <ATen/ExpandUtils.h>
#include <ATen/Parallel.h>
#include <c10/util/Optional.h>  // c10::optional: its own class in libtorch 1.x, an alias of std::optional in 2.x
#include <torch/csrc/autograd/custom_function.h>

#include "common/check.h"
#include "model/bf16_rows.h"
#include "model/cpu_gemm.h"
#include "model/cpu_tensor.h"
#include "model/dropout.h"
#include "model/softmax_rows.h"

namespace disttune {
namespace {

// The fused kernel's one additive mask: the padding and position biases summed, either of
// them possibly absent (then the other, or undefined).
at::Tensor summed_bias(const at::Tensor& padding, const at::Tensor& position) {
  if (padding.defined() && position.defined()) return padding + position;
  return padding.defined() ? padding : position;
}

// An undefined tensor as nullopt: what kernels taking optional tensors expect for "none".
c10::optional<at::Tensor> optional_of(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

}  // namespace

at::Tensor padding_bias(const at::Tensor& attention_mask, at::ScalarType dtype) {
  const double lowest = dtype == at::kHalf     ? -65504.0
                        : dtype == at::kBFloat16 ? -3.3895313892515355e38
                        : dtype == at::kDouble   ? std::numeric_limits<double>::lowest()
                                                 : static_cast<double>(std::numeric_limits<float>::lowest());
  at::Tensor keep = attention_mask.to(dtype);
  return (1.0 - keep).mul_(lowest).view({keep.size(0), 1, 1, keep.size(1)});
}

AttentionBias make_attention_bias(const at::Tensor& padding, const at::Tensor& position) {
  AttentionBias b{padding, position, {}};
  // The explicit path keeps the [B, 1, 1, T] padding bias and the [1, heads, T, T] position
  // bias separate (two broadcast adds) instead of materialising their [B, heads, T, T] sum.
  if (kFusedAttention) b.fused = summed_bias(padding, position);
  return b;
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const AttentionBias& bias, double dropout_p, bool q_scaled) {
#if TORCH_VERSION_MAJOR >= 2
  DT_CHECK(!q_scaled, "the fused attention kernel scales q itself");
  // make_attention_bias adds the biases once per forward; a bias built field by field gets
  // the sum here. No mask is nullopt: an undefined tensor fails the kernel's dtype check.
  const at::Tensor mask = bias.fused.defined() ? bias.fused : summed_bias(bias.padding, bias.position);
  return at::scaled_dot_product_attention(q, k, v, optional_of(mask), dropout_p, /*is_causal=*/false);
#else
  // Scaling q (B*T*H elements) is cheaper than scaling the scores (B*heads*T*T).
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor scores = at::matmul(q_scaled ? q : q * scale, k.transpose(-2, -1));
  // In place: matmul's backward does not need its output.
  if (bias.position.defined()) scores.add_(bias.position);
  if (bias.padding.defined()) scores.add_(bias.padding);
  at::Tensor probs = at::softmax(scores, -1);
  probs = dropout(probs, dropout_p);  // x itself at p = 0
  return at::matmul(probs, v);
#endif
}

namespace {

// The heads of one [B, T, 3H] qkv buffer and of the [B, T, H] context as strided matrices:
// head h of row b starts at (b T + t) * stride + offset + h d.
struct HeadLayout {
  int64_t B, T, heads, d, H;
  int64_t pairs() const { return B * heads; }
  int64_t row(int64_t i) const { return i / heads; }
  int64_t head(int64_t i) const { return i % heads; }
  // Offset of (b, h)'s first element in a [B, T, width] buffer, `part` H-wide blocks in.
  int64_t at(int64_t i, int64_t width, int64_t part) const {
    return row(i) * T * width + part * H + head(i) * d;
  }
};

// One head's [T, d] block of a [B, T, width] buffer as a float32 matrix: where it lies, or
// staged in scratch.
struct HeadBlock {
  float* p;
  int64_t ld;
};

// A [B, T, width] float32 or bf16 buffer, seen one head block at a time. Float32 blocks are
// read and written in place; bf16 blocks (training.precision bf16: qkv, the context and their
// gradients are autocast's bf16 products) are widened into the caller's scratch, and written
// there and rounded into the buffer by store(), so each head's arithmetic runs in float32
// while it sits in the cache, where whole-tensor casts would stream [B, T, 3H] through
// memory twice more per pass.
class HeadBuffer {
 public:
  HeadBuffer(const HeadLayout& L, const at::Tensor& t) : L_(L), width_(t.size(2)) {
    if (t.scalar_type() == at::kBFloat16) {
      bits_ = bf16_bits(t);
    } else {
      floats_ = t.data_ptr<float>();
    }
  }

  // Block `part` (0, 1, 2: q, k, v of a qkv buffer) of pair i; `stage`: T x d floats.
  HeadBlock read(int64_t i, int64_t part, float* stage) const {
    if (floats_) return {floats_ + L_.at(i, width_, part), width_};
    bf16_rows_to_float(bits_ + L_.at(i, width_, part), width_, L_.T, L_.d, stage, L_.d);
    return {stage, L_.d};
  }
  // Where to compute block `part` of pair i; store() puts it in the buffer.
  HeadBlock write(int64_t i, int64_t part, float* stage) const {
    if (floats_) return {floats_ + L_.at(i, width_, part), width_};
    return {stage, L_.d};
  }
  bool staged() const { return bits_ != nullptr; }
  void store(int64_t i, int64_t part, const HeadBlock& block) const {
    if (bits_) float_rows_to_bf16(block.p, block.ld, L_.T, L_.d, bits_ + L_.at(i, width_, part), width_);
  }

 private:
  const HeadLayout& L_;
  int64_t width_;
  float* floats_ = nullptr;
  uint16_t* bits_ = nullptr;
};

// Runs fn(i, scratch) for every (row, head) pair i, the pairs spread over the intra-op
// threads; each product inside then runs on its thread alone (small products gain nothing
// from a team). `scratch`: `floats` floats of the calling thread's, reused across its pairs.
template <typename F>
void for_each_head(const HeadLayout& L, int64_t floats, const F& fn) {
  at::parallel_for(0, L.pairs(), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(floats));
    for (int64_t i = begin; i < end; ++i) fn(i, scratch.data());
  });
}

// One (row, head) pair at a time, start to end: its [T, T] scores are computed, biased,
// soft-maxed, dropped out and multiplied into the context while they sit in L1/L2 (48 x 48
// floats are 9 KB), and likewise the backward's; only the probabilities go to memory (saved
// for backward, in float32), where whole-tensor passes over [B, heads, T, T] would stream
// them 5-6 more times (bias add, softmax, dropout; softmax backward, dropout, the
// probabilities again).
struct CpuAttention : public torch::autograd::Function<CpuAttention> {
  // qkv [B, T, 3H] contiguous, float32 or bf16 (the context and d qkv take its dtype);
  // padding [B, 1, 1, T]; position [1 or B, heads, T, T], may need a gradient (MPNet's
  // relative attention bias); the padding bias never does. Biases in float32.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkv, int64_t heads,
                            const c10::optional<at::Tensor>& padding, const c10::optional<at::Tensor>& position,
                            double dropout_p) {
    const int64_t B = qkv.size(0), T = qkv.size(1), H = qkv.size(2) / 3, TT = T * T;
    const HeadLayout L{B, T, heads, H / heads, H};
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(L.d)));
    const at::Tensor pad = padding ? padding->contiguous() : at::Tensor();
    const at::Tensor pos = position ? position->contiguous() : at::Tensor();
    const float* pad_p = pad.defined() ? pad.data_ptr<float>() : nullptr;
    const float* pos_p = pos.defined() ? pos.data_ptr<float>() : nullptr;
    const bool pos_per_row = pos.defined() && pos.size(0) == B && B > 1;
    // model/dropout.h's mask of the whole [B, heads, T, T], from one key drawn as the explicit
    // path's dropout() draws it: one seed, the same mask on both paths.
    at::Tensor keep;
    if (dropout_p > 0) keep = dropout_mask({B, heads, T, T}, dropout_p, draw_dropout_key());
    const uint8_t* keep_p = keep.defined() ? keep.data_ptr<uint8_t>() : nullptr;

    at::Tensor probs = at::empty({B, heads, T, T}, qkv.options().dtype(at::kFloat));
    at::Tensor out = at::empty({B, T, H}, qkv.options());
    float* pr = probs.data_ptr<float>();
    const HeadBuffer x(L, qkv), o(L, out);
    const int64_t Td = T * L.d, dropped_size = keep_p ? TT : 0;
    for_each_head(L, dropped_size + (x.staged() ? 4 * Td : 0), [&](int64_t i, float* scratch) {
      float* stage = scratch + dropped_size;
      const HeadBlock q = x.read(i, 0, stage), k = x.read(i, 1, stage + Td), v = x.read(i, 2, stage + 2 * Td);
      float* p = pr + i * TT;
      cpu_sgemm(false, true, T, T, L.d, scale, q.p, q.ld, k.p, k.ld, 0.0f, p, T);
      bias_softmax_rows(p, T, T, pad_p ? pad_p + L.row(i) * T : nullptr,
                        pos_p ? pos_p + ((pos_per_row ? L.row(i) : 0) * heads + L.head(i)) * TT : nullptr);
      const float* a = p;
      if (keep_p) {
        dropout_apply(p, keep_p + i * TT, scratch, TT, dropout_p);
        a = scratch;
      }
      const HeadBlock c = o.write(i, 0, stage + 3 * Td);
      cpu_sgemm(false, false, T, L.d, T, 1.0f, a, T, v.p, v.ld, 0.0f, c.p, c.ld);
      o.store(i, 0, c);
    });
    ctx->save_for_backward({qkv, probs, keep});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["dropout_p"] = dropout_p;
    ctx->saved_data["padding"] = padding.has_value();
    ctx->saved_data["position"] = position ? position->sizes().vec() : std::vector<int64_t>{};
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &qkv = saved[0], &probs = saved[1], &keep = saved[2];
    const int64_t B = qkv.size(0), T = qkv.size(1), H = qkv.size(2) / 3, TT = T * T;
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const HeadLayout L{B, T, heads, H / heads, H};
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(L.d)));
    const double dropout_p = ctx->saved_data["dropout_p"].toDouble();
    const at::Tensor g = grads[0].contiguous();  // [B, T, H], the context's dtype
    const float* pr = probs.data_ptr<float>();
    const uint8_t* keep_p = keep.defined() ? keep.data_ptr<uint8_t>() : nullptr;
    at::Tensor dqkv = at::empty_like(qkv);
    // Inputs: qkv, heads, padding, position, dropout_p; edges only for the tensors given
    // (qkv, then padding and position when present). The padding bias takes no gradient;
    // the position bias's is the scores' gradient summed to its shape, so only then are the
    // scores' gradients kept whole.
    const std::vector<int64_t> position = ctx->saved_data["position"].toIntVector();
    const size_t position_edge = ctx->saved_data["padding"].toBool() ? 2 : 1;
    const bool want_position = !position.empty() && ctx->needs_input_grad(position_edge);
    at::Tensor dscores = want_position ? at::empty({B, heads, T, T}, probs.options()) : at::Tensor();
    float* dsp = want_position ? dscores.data_ptr<float>() : nullptr;

    const HeadBuffer x(L, qkv), go(L, g), dx(L, dqkv);
    const int64_t Td = T * L.d;
    const bool staged = x.staged() || go.staged();
    for_each_head(L, 2 * TT + (staged ? 7 * Td : 0), [&](int64_t i, float* scratch) {
      float *ds = scratch, *a = scratch + TT, *stage = scratch + 2 * TT;
      const HeadBlock q = x.read(i, 0, stage), k = x.read(i, 1, stage + Td), v = x.read(i, 2, stage + 2 * Td);
      const HeadBlock gi = go.read(i, 0, stage + 3 * Td);
      const HeadBlock dq = dx.write(i, 0, stage + 4 * Td), dk = dx.write(i, 1, stage + 5 * Td),
                      dv = dx.write(i, 2, stage + 6 * Td);
      const float* p = pr + i * TT;
      // The probabilities after dropout: dv = a^T g, and d(a) = g v^T.
      if (keep_p) dropout_apply(p, keep_p + i * TT, a, TT, dropout_p);
      const float* pa = keep_p ? a : p;
      cpu_sgemm(false, true, T, T, L.d, 1.0f, gi.p, gi.ld, v.p, v.ld, 0.0f, ds, T);
      cpu_sgemm(true, false, T, L.d, T, 1.0f, pa, T, gi.p, gi.ld, 0.0f, dv.p, dv.ld);
      if (keep_p) {  // d(probs) = d(a) keep / (1 - p), through the scratch's second half
        dropout_apply(ds, keep_p + i * TT, a, TT, dropout_p);
        std::swap(ds, a);
      }
      softmax_backward_rows(ds, p, T, T);  // the scores' gradient (before scaling)
      if (dsp) std::memcpy(dsp + i * TT, ds, TT * sizeof(float));
      // dq = scale ds k, dk = scale ds^T q
      cpu_sgemm(false, false, T, L.d, T, scale, ds, T, k.p, k.ld, 0.0f, dq.p, dq.ld);
      cpu_sgemm(true, false, T, L.d, T, scale, ds, T, q.p, q.ld, 0.0f, dk.p, dk.ld);
      dx.store(i, 0, dq);
      dx.store(i, 1, dk);
      dx.store(i, 2, dv);
    });
    at::Tensor dposition;
    if (want_position) dposition = at::sum_to(dscores, position);
    return {dqkv, at::Tensor(), at::Tensor(), dposition, at::Tensor()};
  }
};

// The kernel's layouts: CPU tensors, qkv float32 or bf16, biases float32, padding
// [B, 1, 1, T], position [1 or B, heads, T, T].
bool cpu_attention_applies(const at::Tensor& qkv, int64_t heads, const AttentionBias& bias) {
  auto cpu_float = [](const at::Tensor& t) {
    return !t.defined() || cpu_strided(t, at::kFloat);
  };
  const bool qkv_dtype = cpu_strided(qkv, at::kFloat) || cpu_strided(qkv, at::kBFloat16);
  if (kFusedAttention || !cpu_gemm_enabled() || qkv.dim() != 3 || qkv.numel() == 0 || !qkv_dtype ||
      !cpu_float(bias.padding) || !cpu_float(bias.position))
    return false;
  const int64_t B = qkv.size(0), T = qkv.size(1);
  const at::Tensor &pad = bias.padding, &pos = bias.position;
  return (!pad.defined() || pad.sizes() == at::IntArrayRef{B, 1, 1, T}) &&
         (!pos.defined() || (pos.dim() == 4 && (pos.size(0) == 1 || pos.size(0) == B) && pos.size(1) == heads &&
                             pos.size(2) == T && pos.size(3) == T));
}

}  // namespace

at::Tensor attention_qkv(const at::Tensor& qkv, int64_t heads, const AttentionBias& bias, double dropout_p) {
  const int64_t B = qkv.size(0), T = qkv.size(1), H = qkv.size(2) / 3, d = H / heads;
  DT_CHECK(qkv.dim() == 3 && qkv.size(2) == 3 * H && H == heads * d, "attention_qkv: qkv ", qkv.sizes(),
           " is not [B, T, 3 x ", heads, " heads x d]");
  if (cpu_attention_applies(qkv, heads, bias)) {
    return CpuAttention::apply(qkv.contiguous(), heads, optional_of(bias.padding), optional_of(bias.position),
                               dropout_p);
  }
  // split, not three selects (or narrows) of one [3, B, heads, T, d] view: split's backward
  // concatenates the three gradients once, where each select's backward materialises a
  // zero-filled gradient of the whole qkv and autograd sums the three (a bge-base step:
  // 96 fewer fills, adds and copies; a quarter fewer page faults).
  const std::vector<at::Tensor> parts = qkv.split(H, 2);
  auto per_head = [&](const at::Tensor& t) { return t.view({B, T, heads, d}).transpose(1, 2); };
  at::Tensor q = per_head(parts[0]);
  // The explicit attention path takes q pre-scaled; out of place, as a split output may
  // not be modified in place (the in-place form also cost a full-qkv clone in backward).
  if (!kFusedAttention) q = q * (1.0 / std::sqrt(static_cast<double>(d)));
  return attention(q, per_head(parts[1]), per_head(parts[2]), bias, dropout_p, !kFusedAttention)
      .transpose(1, 2)
      .reshape({B, T, H});
}

}  // namespace disttune
