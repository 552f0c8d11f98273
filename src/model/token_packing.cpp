#include "model/token_packing.h"

#include <algorithm>
#include <numeric>

#include "common/check.h"

namespace disttune {

namespace {

// A group is padded to its first (longest) row; a row at most this fraction of that length
// starts the next group. Attention costs ~rows x length^2, so a row pays at most 1/0.8^2 =
// 1.56 times its own scores; a group costs a few gathers, far below that for these sizes.
constexpr double kGroupRatio = 0.8;

at::Tensor long_tensor(const std::vector<int64_t>& v, const at::Device& device) {
  return at::tensor(v, at::kLong).to(device);
}

}  // namespace

TokenPacking TokenPacking::plan(const at::Tensor& attention_mask, bool enabled) {
  DT_CHECK(attention_mask.dim() == 2, "attention mask must be [B, T]");
  TokenPacking p;
  p.B_ = attention_mask.size(0);
  p.T_ = attention_mask.size(1);
  // Unpacked: one group, the whole padded batch.
  auto padded = [&] {
    Group whole;
    whole.rows = p.B_;
    whole.length = p.T_;
    whole.mask = attention_mask;
    p.groups_.push_back(whole);
    return p;
  };
  if (!enabled || p.B_ * p.T_ == 0) return padded();
  const at::Tensor m = attention_mask.to(at::kCPU, at::kLong).contiguous();
  const int64_t* mp = m.data_ptr<int64_t>();
  std::vector<int64_t> index, row_start(p.B_ + 1, 0), extent(p.B_, 0);
  for (int64_t b = 0; b < p.B_; ++b) {
    row_start[b] = static_cast<int64_t>(index.size());
    for (int64_t t = 0; t < p.T_; ++t)
      if (mp[b * p.T_ + t] != 0) {
        index.push_back(b * p.T_ + t);
        extent[b] = t + 1;
      }
  }
  row_start[p.B_] = static_cast<int64_t>(index.size());
  const int64_t N = row_start[p.B_];
  if (N == 0 || N * 16 > p.B_ * p.T_ * 15) return padded();
  const at::Device dev = attention_mask.device();
  p.index_ = long_tensor(index, dev);
  p.row_start_.assign(row_start.begin(), row_start.end() - 1);

  // Rows by extent, longest first (stable: equal rows keep their order); empty rows take no
  // part in attention (their states are the zeros unpack() gives).
  std::vector<int64_t> order(p.B_);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return extent[a] > extent[b]; });
  std::vector<int64_t> concat;  // packed positions in group order
  for (size_t i = 0; i < order.size() && extent[order[i]] > 0;) {
    const int64_t L = extent[order[i]];
    std::vector<int64_t> rows, src, dst;
    for (; i < order.size() && extent[order[i]] > 0 &&
           (rows.empty() || static_cast<double>(extent[order[i]]) > kGroupRatio * L);
         ++i) {
      const int64_t b = order[i], r = static_cast<int64_t>(rows.size());
      rows.push_back(b);
      for (int64_t k = row_start[b]; k < row_start[b + 1]; ++k) {
        src.push_back(k);
        dst.push_back(r * L + index[k] - b * p.T_);
      }
    }
    Group g;
    g.rows = static_cast<int64_t>(rows.size());
    g.length = L;
    g.src = long_tensor(src, dev);
    g.dst = long_tensor(dst, dev);
    g.mask = attention_mask.index_select(0, long_tensor(rows, dev)).narrow(1, 0, L);
    concat.insert(concat.end(), src.begin(), src.end());
    p.groups_.push_back(std::move(g));
  }
  std::vector<int64_t> inverse(N);
  for (int64_t j = 0; j < N; ++j) inverse[concat[j]] = j;
  p.inverse_ = long_tensor(inverse, dev);
  return p;
}

std::vector<int64_t> TokenPacking::group_rows() const {
  std::vector<int64_t> r;
  for (const Group& g : groups_) r.push_back(g.rows);
  return r;
}

at::Tensor TokenPacking::pack(const at::Tensor& padded) const {
  if (!active()) return padded;
  return padded.flatten(0, 1).index_select(0, index_);
}

at::Tensor TokenPacking::unpack(const at::Tensor& packed) const {
  if (!active()) return packed;
  const int64_t C = packed.size(-1);
  return at::zeros({B_ * T_, C}, packed.options()).index_copy(0, index_, packed).view({B_, T_, C});
}

at::Tensor TokenPacking::first(const at::Tensor& x) const {
  // The index goes to the device here, not in plan(): only CLS pooling's last layer asks.
  return active() ? x.index_select(0, long_tensor(row_start_, x.device())) : x.select(1, 0);
}

void TokenPacking::make_biases(const std::function<AttentionBias(const at::Tensor& group_mask)>& fn) {
  for (Group& g : groups_) g.bias = fn(g.mask);
}

template <typename Self, typename Fn>
void TokenPacking::for_each_differentiable_bias(Self& self, Fn fn) {
  for (auto& g : self.groups_)
    for (auto* t : {&g.bias.padding, &g.bias.position, &g.bias.fused})
      if (t->defined() && t->requires_grad()) fn(*t);
}

std::vector<at::Tensor> TokenPacking::differentiable_biases() const {
  std::vector<at::Tensor> out;
  for_each_differentiable_bias(*this, [&](const at::Tensor& t) { out.push_back(t); });
  return out;
}

TokenPacking TokenPacking::with_differentiable_biases(const std::vector<at::Tensor>& biases) const {
  TokenPacking out = *this;
  size_t k = 0;
  for_each_differentiable_bias(out, [&](at::Tensor& t) {
    DT_CHECK(k < biases.size(), "with_differentiable_biases: ", biases.size(), " biases for more");
    t = biases[k++];
  });
  DT_CHECK(k == biases.size(), "with_differentiable_biases: ", biases.size(), " biases for ", k);
  return out;
}

at::Tensor TokenPacking::attend(const at::Tensor& x, const AttendFn& fn) const {
  if (!active()) return fn(x, groups_.front().bias);
  const int64_t C = x.size(-1);
  std::vector<at::Tensor> parts;
  for (const Group& g : groups_) {
    const at::Tensor in = at::zeros({g.rows * g.length, C}, x.options())
                              .index_copy(0, g.dst, x.index_select(0, g.src))
                              .view({g.rows, g.length, C});
    const at::Tensor out = fn(in, g.bias);
    parts.push_back(out.reshape({g.rows * g.length, out.size(-1)}).index_select(0, g.dst));
  }
  return (parts.size() == 1 ? parts.front() : at::cat(parts)).index_select(0, inverse_);
}

}  // namespace disttune
