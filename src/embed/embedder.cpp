#include "embed/embedder.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <numeric>

#include "common/check.h"
#include "common/failpoint.h"
#include "common/progress.h"
#include "dist/dist.h"
#include "model/sentence_model.h"

namespace disttune {
namespace {

// What the encoder tokenizes for a text: the prompt prefix, then the text.
std::string model_input(const EncodeOptions& opt, const std::string& text) {
  return opt.prefix.empty() ? text : opt.prefix + text;
}

}  // namespace

BatchGrid make_batch_grid(const std::vector<std::string>& texts, int64_t batch_size, int world,
                          const std::function<int64_t(int64_t)>& tokens) {
  DT_CHECK(batch_size > 0 && world > 0, "batch grid needs batch_size > 0 and world > 0");
  BatchGrid g;
  const int64_t n = static_cast<int64_t>(texts.size());
  g.order.resize(static_cast<size_t>(n));
  std::iota(g.order.begin(), g.order.end(), 0);
  std::stable_sort(g.order.begin(), g.order.end(), [&](int64_t a, int64_t b) {
    return texts[a].size() > texts[b].size();
  });
  for (int64_t b = 0; b < n; b += batch_size) g.batch_begin.push_back(b);
  g.batch_begin.push_back(n);
  // Cost of a batch ~ rows x its longest text (the first; the rows are of similar length), plus
  // a per-row constant of ~4 tokens; ranks split the total. One token ~ 4 characters.
  const int64_t nb = g.num_batches();
  std::vector<double> cost(static_cast<size_t>(nb));
  double total = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t rows = g.batch_begin[b + 1] - g.batch_begin[b];
    const int64_t first = g.order[g.batch_begin[b]];
    const double length = tokens ? 4.0 * static_cast<double>(tokens(first)) : static_cast<double>(texts[first].size());
    cost[b] = static_cast<double>(rows) * (16.0 + length);
    total += cost[b];
  }
  g.rank_batches.assign(static_cast<size_t>(world) + 1, nb);
  g.rank_batches[0] = 0;
  double acc = 0;
  int r = 1;
  for (int64_t b = 0; b < nb && r < world; ++b) {
    acc += cost[b];
    while (r < world && acc >= total * r / world) g.rank_batches[r++] = b + 1;
  }
  return g;
}

Tokenizer Embedder::tokenizer_for(const SentenceModel& model) {
  if (!model.tokenizer_dir().empty()) return Tokenizer::load(model.tokenizer_dir());
  DT_CHECK(!model.vocab_file().empty(), "model has neither a tokenizer directory nor a vocab");
  return Tokenizer::from_vocab_file(model.vocab_file(), true);
}

Embedder::Embedder(SentenceModel& model, Tokenizer tokenizer)
    : model_(model), tokenizer_(std::move(tokenizer)) {}

int Embedder::max_length(const EncodeOptions& opt) const {
  return opt.max_length > 0 ? opt.max_length : model_.max_seq_length();
}

void Embedder::encode_batches(const std::vector<std::string>& texts, const BatchGrid& grid,
                              int64_t first_batch, int64_t last_batch, const EncodeOptions& opt,
                              at::Tensor& out, at::Tensor& indices) {
  const int max_len = max_length(opt);
  const int64_t first_row = grid.batch_begin[first_batch];
  const int64_t rows = grid.batch_begin[last_batch] - first_row;
  out = at::empty({rows, model_.dim()}, at::kFloat);
  indices = at::empty({rows}, at::kLong);
  auto* idx = indices.data_ptr<int64_t>();
  std::unique_ptr<Progress> bar;
  if (!opt.progress.empty()) bar = std::make_unique<Progress>(opt.progress, rows, "texts");

  const bool was_training = model_.training();
  model_.set_training(false);
  at::NoGradGuard no_grad;
  std::vector<std::string> batch_texts;
  for (int64_t b = first_batch; b < last_batch; ++b) {
    failpoint("embed.batch");
    batch_texts.clear();
    for (int64_t i = grid.batch_begin[b]; i < grid.batch_begin[b + 1]; ++i) {
      const int64_t src = grid.order[i];
      idx[i - first_row] = src;
      batch_texts.push_back(model_input(opt, texts[src]));
    }
    TokenBatch tb = pad_batch(tokenizer_.encode_batch(batch_texts, max_len),
                              static_cast<int32_t>(model_.pad_token_id()));
    at::Tensor emb = model_.forward(tb.input_ids, tb.attention_mask);
    out.narrow(0, grid.batch_begin[b] - first_row, emb.size(0)).copy_(emb.to(at::kCPU, at::kFloat));
    if (bar) bar->update(emb.size(0));
  }
  model_.set_training(was_training);
  if (bar) bar->finish();
}

EncodedShard Embedder::encode_shard(Dist& d, const std::vector<std::string>& texts,
                                    const EncodeOptions& opt) {
  // Each batch's first text tokenized once more (1 / batch_size of the inputs), so that texts
  // truncated at max_length weigh what the encoder spends on them.
  const auto tokens = [&](int64_t i) {
    return static_cast<int64_t>(tokenizer_.encode(model_input(opt, texts[i]), max_length(opt)).size());
  };
  const BatchGrid grid = make_batch_grid(texts, opt.batch_size, d.world_size, tokens);
  EncodedShard s;
  encode_batches(texts, grid, grid.rank_batches[d.rank], grid.rank_batches[d.rank + 1], opt,
                 s.embeddings, s.indices);
  return s;
}

at::Tensor Embedder::encode_all(Dist& d, const std::vector<std::string>& texts,
                                const EncodeOptions& opt) {
  EncodedShard s = encode_shard(d, texts, opt);
  at::Tensor emb = d.comm->all_gatherv(s.embeddings);
  at::Tensor idx = d.comm->all_gatherv(s.indices);
  at::Tensor out = at::empty_like(emb);
  out.index_copy_(0, idx, emb);
  return out;
}

at::Tensor Embedder::encode(const std::vector<std::string>& texts, const EncodeOptions& opt) {
  const BatchGrid grid = make_batch_grid(texts, opt.batch_size, 1);
  at::Tensor emb, idx;
  encode_batches(texts, grid, 0, grid.num_batches(), opt, emb, idx);
  at::Tensor out = at::empty_like(emb);
  out.index_copy_(0, idx, emb);
  return out;
}

}  // namespace disttune
