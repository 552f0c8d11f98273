// Test helpers for src/train (header only, used by the *_test.cpp beside it): goldens from
// tests/ref/gen_train_golden.py, the tiny model that the Python reference defines the same
// way, a world-size-1 Dist for in-process single-rank comparisons, and a minimal training
// step (what the trainer will do) built from the pieces under test.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "dist/dist.h"
#include "test_util.h"
#include "train/grad_cache.h"
#include "train/clip.h"
#include "train/grad_reducer.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/scheduler.h"

namespace disttune::train_test {

using nlohmann::json;

inline json load_golden(const std::string& name) {
  const std::string path = test::source_dir() + "/tests/golden/train/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing golden " << path
                         << " (run /usr/bin/python3 tests/ref/gen_train_golden.py)";
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// {"shape": [...], "data": [...]} -> tensor of `dtype`.
inline at::Tensor tensor_from(const json& j, at::ScalarType dtype = at::kFloat) {
  std::vector<int64_t> shape = j.at("shape").get<std::vector<int64_t>>();
  std::vector<double> data = j.at("data").get<std::vector<double>>();
  return at::tensor(data, at::kDouble).reshape(shape).to(dtype);
}

// max |a - b| / max |b|: one relative error for a whole tensor (elements near zero do not
// blow it up; a wrong element of typical size does).
inline double rel_error(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor x = a.detach().to(at::kDouble), y = b.detach().to(at::kDouble);
  EXPECT_EQ(x.sizes(), y.sizes());
  const double scale = std::max(y.abs().max().item<double>(), 1e-30);
  return (x - y).abs().max().item<double>() / scale;
}

// Rows [begin, begin + count) of `total` that rank r of w holds: the first total % w ranks
// hold one row more (so uneven batches are covered too).
struct Slice {
  int64_t begin, count;
};
inline Slice rank_slice(int64_t total, int world, int rank) {
  const int64_t base = total / world, extra = total % world;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, base + (rank < extra ? 1 : 0)};
}

// A Dist of world size 1 inside any job: the "1 rank" side of equivalence tests.
inline Dist& local_dist() {
  static Dist* d = [] {
    auto* x = new Dist();
    x->comm = std::make_unique<LocalCommunicator>();
    return x;
  }();
  return *d;
}

// "loss.*" overrides from a golden's loss config.
inline Config loss_config(const json& cfg, std::vector<std::string> extra = {}) {
  std::vector<std::string> o{"loss.name=" + cfg.at("name").get<std::string>()};
  if (cfg.contains("scale")) o.push_back("loss.scale=" + cfg.at("scale").dump());
  if (cfg.contains("symmetric")) o.push_back("loss.symmetric=" + cfg.at("symmetric").dump());
  if (cfg.contains("margin")) o.push_back("loss.margin=" + cfg.at("margin").dump());
  if (cfg.contains("distance")) o.push_back("loss.distance=" + cfg.at("distance").get<std::string>());
  if (cfg.contains("similarity")) o.push_back("loss.similarity=" + cfg.at("similarity").get<std::string>());
  if (cfg.contains("matryoshka_dims")) o.push_back("loss.matryoshka_dims=" + cfg.at("matryoshka_dims").dump());
  if (cfg.contains("matryoshka_weights"))
    o.push_back("loss.matryoshka_weights=" + cfg.at("matryoshka_weights").dump());
  for (const char* key : {"temperature", "contrast_anchors", "contrast_positives"})
    if (cfg.contains(key)) o.push_back(std::string("loss.") + key + "=" + cfg.at(key).dump());
  for (const char* key : {"directions", "hardness_strength"})
    if (cfg.contains(key)) o.push_back(std::string("loss.") + key + "=" + cfg.at(key).dump());
  for (const char* key : {"partition_mode", "hardness_mode"})
    if (cfg.contains(key)) o.push_back(std::string("loss.") + key + "=" + cfg.at(key).get<std::string>());
  if (cfg.contains("margin_strategy"))
    o.push_back("loss.margin_strategy=" + cfg.at("margin_strategy").get<std::string>());
  for (const auto& [key, value] : cfg.items())
    if (key.rfind("adaptive_", 0) == 0)
      o.push_back("loss." + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
  for (auto& e : extra) o.push_back(e);
  return Config::from_yaml("{}", "test.yaml", o);
}

// The tiny model of gen_train_golden.py: ids [n, L] (0 = padding) -> word embeddings ->
// tanh(dense) per token -> (dropout) -> masked mean -> LayerNorm.
struct TinyModel {
  NamedParameters params;
  double dropout = 0.0;

  static TinyModel from_golden(const json& init) {
    TinyModel m;
    for (const char* name : {"embeddings.word_embeddings.weight", "dense.weight", "dense.bias",
                             "LayerNorm.weight", "LayerNorm.bias"})
      m.params.emplace_back(name, tensor_from(init.at(name)).set_requires_grad(true));
    return m;
  }
  const at::Tensor& p(size_t i) const { return params[i].second; }
  std::vector<at::Tensor> tensors() const {
    std::vector<at::Tensor> t;
    for (const auto& np : params) t.push_back(np.second);
    return t;
  }
  at::Tensor embed(const at::Tensor& ids) const {
    at::Tensor mask = (ids != 0).to(at::kFloat);
    at::Tensor h = at::tanh(at::linear(at::embedding(p(0), ids), p(1), p(2)));
    if (dropout > 0) h = at::dropout(h, dropout, /*train=*/true);
    at::Tensor pooled = (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, true).clamp_min(1e-9);
    return at::layer_norm(pooled, {p(1).size(0)}, p(3), p(4), 1e-12);
  }
};

// One training run as the trainer will do it: per optimizer step, the global batch is cut
// into `accum` micro-batches, each rank embeds its slice of each, the loss share (x 1/accum)
// is backpropagated (or GradCache::step does it), gradients are summed over ranks, clipped
// and AdamW steps with the schedule's learning rate.
struct RunOptions {
  int accum = 1;
  std::vector<std::string> overrides;  // extra config (e.g. loss.name=cached_mnrl)
  int64_t bucket_bytes = 25 << 20;
};
struct RunResult {
  std::vector<double> losses, grad_norms;
  TinyModel model;
};

inline RunResult run_training(Dist& d, const json& run, const RunOptions& opt = {}) {
  RunResult res{{}, {}, TinyModel::from_golden(run.at("init"))};
  TinyModel& model = res.model;
  Config cfg = loss_config(run.at("loss"), opt.overrides);
  std::unique_ptr<Loss> loss = make_loss(cfg);
  auto* cached = dynamic_cast<GradCache*>(loss.get());
  AdamWOptions ao;
  ao.weight_decay = run.at("weight_decay").get<double>();
  AdamW adamw(model.params, ao);
  GradReducer reducer(d, model.tensors(), opt.bucket_bytes);
  const int64_t steps = run.at("steps").get<int64_t>(), batch = run.at("batch").get<int64_t>();
  const int roles = run.at("roles").get<int>();
  LrSchedule sched(parse_schedule(run.at("scheduler").get<std::string>()), run.at("lr").get<double>(),
                   steps, warmup_steps_for(steps, 0, run.at("warmup_ratio").get<double>()));
  const double max_norm = run.at("max_grad_norm").get<double>();
  EXPECT_EQ(batch % opt.accum, 0);
  const int64_t micro = batch / opt.accum;
  for (int64_t s = 0; s < steps; ++s) {
    reducer.zero_grad();
    double share_sum = 0;
    for (int k = 0; k < opt.accum; ++k) {
      const Slice sl = rank_slice(micro, d.world_size, d.rank);
      const int64_t begin = k * micro + sl.begin;
      std::vector<at::Tensor> ids;
      for (int r = 0; r < roles; ++r)
        ids.push_back(tensor_from(run.at("batches")[s][r], at::kLong).narrow(0, begin, sl.count));
      at::Tensor labels;
      if (run.contains("labels")) labels = tensor_from(run.at("labels")[s]).narrow(0, begin, sl.count);
      const double scale = 1.0 / opt.accum;
      if (cached) {
        EmbedFn fn = [&](int role, int64_t b, int64_t e) {
          return model.embed(ids[role].narrow(0, b, e - b));
        };
        share_sum += cached->step(d, fn, roles, sl.count, labels, scale);
      } else {
        LossBatch lb;
        for (auto& t : ids) lb.columns.push_back(model.embed(t));
        lb.labels = labels;
        at::Tensor l = loss->forward(d, lb);
        share_sum += l.item<double>() * scale;
        torch::autograd::backward({l * scale});
      }
    }
    res.losses.push_back(d.comm->all_reduce_scalar(share_sum, ReduceOp::Sum));
    reducer.all_reduce();
    res.grad_norms.push_back(clip_grad_norm(model.tensors(), max_norm));
    adamw.step(sched.lr(s));
  }
  return res;
}

}  // namespace disttune::train_test
