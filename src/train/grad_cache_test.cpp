// GradCache: GradCache::step gives the loss and parameter gradients of Mnrl on the same
// batch, for any mini-batch size, at any world size, with Matryoshka inside, and with
// dropout (its random state is replayed).
#include "train/grad_cache.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "model/rng_state.h"
#include "train/gist.h"
#include "train/matryoshka.h"
#include "train/mnrl.h"
#include "train/train_test_util.h"

namespace disttune {
namespace {

using namespace train_test;

struct Grads {
  double loss;
  std::vector<at::Tensor> grads;
};

// This rank's slice of the golden run's first batch (or of its first `rows` rows), through
// `loss` (plain or cached).
Grads grads_of(Dist& d, const json& run, Loss& loss, double dropout = 0.0, int64_t rows = -1) {
  TinyModel model = TinyModel::from_golden(run.at("init"));
  model.dropout = dropout;
  const int roles = run.at("roles").get<int>();
  const Slice s = rank_slice(rows >= 0 ? rows : run.at("batch").get<int64_t>(), d.world_size, d.rank);
  std::vector<at::Tensor> ids;
  for (int r = 0; r < roles; ++r)
    ids.push_back(tensor_from(run.at("batches")[0][r], at::kLong).narrow(0, s.begin, s.count));
  Grads out;
  if (auto* cached = dynamic_cast<GradCache*>(&loss)) {
    EmbedFn fn = [&](int role, int64_t b, int64_t e) { return model.embed(ids[role].narrow(0, b, e - b)); };
    out.loss = cached->step(d, fn, roles, s.count);
  } else {
    LossBatch batch;
    for (auto& t : ids) batch.columns.push_back(model.embed(t));
    at::Tensor l = loss.forward(d, batch);
    torch::autograd::backward({l});
    out.loss = l.item<double>();
  }
  out.loss = d.comm->all_reduce_scalar(out.loss, ReduceOp::Sum);
  for (at::Tensor& p : model.tensors()) {
    // A rank without rows has nothing to backpropagate through the model (the trainer's
    // gradients are zeroed bucket views; here they stay undefined).
    at::Tensor g = p.grad().defined() ? p.grad().clone() : at::zeros_like(p);
    d.comm->all_reduce(g, ReduceOp::Sum);
    out.grads.push_back(g);
  }
  return out;
}

void expect_same(const Grads& a, const Grads& b, const std::string& what) {
  EXPECT_NEAR(a.loss, b.loss, 1e-6 * std::max(1.0, std::abs(b.loss))) << what;
  for (size_t i = 0; i < a.grads.size(); ++i) EXPECT_LT(rel_error(a.grads[i], b.grads[i]), 1e-5) << what << " param " << i;
}

TEST(MpiGradCache, EqualsMnrlForEveryMiniBatchSize) {
  Dist& d = dist();
  json g = load_golden("training.json");
  for (const json& run : g.at("runs")) {
    if (run.at("loss").at("name") != "mnrl") continue;
    const std::string name = run.at("name").get<std::string>();
    auto mnrl = make_loss(loss_config(run.at("loss")));
    const Grads ref = grads_of(d, run, *mnrl);
    // The Python parameter gradients of the same batch.
    TinyModel m = TinyModel::from_golden(run.at("init"));
    for (size_t i = 0; i < m.params.size(); ++i)
      EXPECT_LT(rel_error(ref.grads[i], tensor_from(run.at("first_grads").at(m.params[i].first))), 1e-5)
          << name << " " << m.params[i].first;
    EXPECT_NEAR(ref.loss, run.at("losses")[0].get<double>(), 1e-6 * std::abs(ref.loss)) << name;
    for (int mb : {0, 1, 2, 3}) {
      auto cached = make_loss(loss_config(run.at("loss"), {"loss.name=cached_mnrl",
                                                           "training.mini_batch_size=" + std::to_string(mb)}));
      expect_same(grads_of(d, run, *cached), ref, name + " mini-batch " + std::to_string(mb));
      GradCache recomputing(make_loss(loss_config(run.at("loss"))), mb, 0);
      expect_same(grads_of(d, run, recomputing), ref, name + " mini-batch " + std::to_string(mb) + ", all recomputed");
    }
  }
}

// A short batch (an epoch's last, a no_duplicates tail, a partial accumulation micro-batch)
// can leave ranks without rows: 1 row over 2 or 4 ranks. They still take part in the loss's
// collectives with zero-row embeddings, and the result is MNRL's on the rows there are.
TEST(MpiGradCache, RanksWithoutRowsTakePart) {
  Dist& d = dist();
  json g = load_golden("training.json");
  for (const json& run : g.at("runs")) {
    if (run.at("loss").at("name") != "mnrl") continue;
    for (int64_t rows : {int64_t{1}, int64_t{d.world_size - 1}}) {
      if (rows < 1) continue;
      const std::string what = run.at("name").get<std::string>() + ", " + std::to_string(rows) + " row(s)";
      auto mnrl = make_loss(loss_config(run.at("loss")));
      const Grads ref = grads_of(d, run, *mnrl, 0.0, rows);
      for (int mb : {0, 1}) {
        auto cached = make_loss(loss_config(run.at("loss"), {"loss.name=cached_mnrl",
                                                             "training.mini_batch_size=" + std::to_string(mb)}));
        expect_same(grads_of(d, run, *cached, 0.0, rows), ref, what + ", mini-batch " + std::to_string(mb));
      }
    }
  }
}

TEST(MpiGradCache, DropoutIsReplayedOnTheSecondPass) {
  Dist& d = dist();
  json g = load_golden("training.json");
  const json& run = g.at("runs")[0];
  // With the whole local batch as one mini-batch the random draws are those of Mnrl, so
  // with the same seed the gradients (dropout on) must agree, and the generator must end
  // where Mnrl leaves it.
  auto mnrl = make_loss(loss_config(run.at("loss")));
  auto cached = make_loss(loss_config(run.at("loss"), {"loss.name=cached_mnrl"}));
  at::manual_seed(1234 + d.rank);
  const Grads ref = grads_of(d, run, *mnrl, 0.3);
  const at::Tensor after_ref = capture_rng().cpu;
  at::manual_seed(1234 + d.rank);
  const Grads got = grads_of(d, run, *cached, 0.3);
  expect_same(got, ref, "dropout 0.3");
  EXPECT_TRUE(at::equal(capture_rng().cpu, after_ref));
  // Without the replay the second pass would draw new masks: the gradients would differ.
  at::manual_seed(999 + d.rank);
  const Grads other = grads_of(d, run, *mnrl, 0.3);
  double max_diff = 0;
  for (size_t i = 0; i < other.grads.size(); ++i) max_diff = std::max(max_diff, rel_error(other.grads[i], ref.grads[i]));
  EXPECT_GT(max_diff, 1e-3);
}

TEST(MpiGradCache, EachReEmbeddedMiniBatchEqualsItsFirstPass) {
  json g = load_golden("training.json");
  const json& run = g.at("runs")[0];
  TinyModel model = TinyModel::from_golden(run.at("init"));
  model.dropout = 0.5;
  at::Tensor ids = tensor_from(run.at("batches")[0][0], at::kLong);
  struct Call {
    at::Tensor out;
    bool grad;
  };
  std::map<std::pair<int, int64_t>, std::vector<Call>> seen;
  EmbedFn fn = [&](int role, int64_t b, int64_t e) {
    at::Tensor out = model.embed(ids.narrow(0, b, e - b));
    seen[{role, b}].push_back({out.detach().clone(), at::GradMode::is_enabled()});
    return out;
  };
  const int64_t rows = ids.size(0);
  for (const bool keep : {true, false}) {
    SCOPED_TRACE(keep ? "last mini-batch kept" : "every mini-batch embedded twice");
    GradCache cached(std::make_unique<Mnrl>(), 3, keep ? GradCache::kKeepLastBudget : 0);
    ASSERT_EQ(cached.keeps_last(rows, 3, 1), keep);
    seen.clear();
    cached.step(local_dist(), fn, 3, rows);
    EXPECT_EQ(seen.size(), 3u * 3u);  // 3 roles x ceil(8 / 3) chunks
    for (auto& [key, calls] : seen) {
      const std::string where = "role " + std::to_string(key.first) + " rows from " + std::to_string(key.second);
      if (keep && key == std::make_pair(2, int64_t{6})) {
        // The last mini-batch is embedded once, with its graph, and backpropagated from that.
        ASSERT_EQ(calls.size(), 1u) << where;
        EXPECT_TRUE(calls[0].grad) << where;
        continue;
      }
      ASSERT_EQ(calls.size(), 2u) << where;
      EXPECT_FALSE(calls[0].grad) << where;
      EXPECT_TRUE(calls[1].grad) << where;
      EXPECT_TRUE(at::equal(calls[0].out, calls[1].out)) << where;
    }
  }
}

TEST(MpiGradCache, KeepsTheLastGraphWhenTheLossMatricesAreSmall) {
  // 4 bytes x local rows x global rows x the loss's matrices (3 per role for MNRL) x
  // Matryoshka dims.
  const GradCache plain(std::make_unique<Mnrl>(), 16);
  EXPECT_TRUE(plain.keeps_last(64, 2, 8));       // global batch 512 on 8 ranks: 0.8 MB
  EXPECT_TRUE(plain.keeps_last(512, 2, 8));      // 4096 on 8: 50 MB
  EXPECT_FALSE(plain.keeps_last(8192, 2, 8));    // 65536 on 8: 12.9 GB
  EXPECT_FALSE(plain.keeps_last(1024, 3, 64));   // 65536 on 64 with a hard negative: 2.4 GB
  const GradCache matryoshka(
      std::make_unique<Matryoshka>(std::make_unique<Mnrl>(), std::vector<int64_t>{768, 512, 256, 128, 64},
                                   std::vector<double>(5, 1.0)),
      16);
  EXPECT_TRUE(matryoshka.keeps_last(64, 2, 8));
  EXPECT_FALSE(matryoshka.keeps_last(512, 2, 8));  // 252 MB over five dims
  // GISTEmbedLoss: 5 matrices per block of scores, the contrasts being blocks of their own.
  const GradCache gist(std::make_unique<Gist>(Gist::Options{}), 16);
  EXPECT_FALSE(gist.keeps_last(512, 2, 8));  // 3 blocks: 126 MB
  EXPECT_TRUE(gist.keeps_last(256, 2, 8));   // 31 MB
  Gist::Options no_contrasts;
  no_contrasts.contrast_anchors = no_contrasts.contrast_positives = false;
  const GradCache plain_gist(std::make_unique<Gist>(no_contrasts), 16);
  EXPECT_TRUE(plain_gist.keeps_last(512, 2, 8));  // 1 block: 42 MB
}

}  // namespace
}  // namespace disttune
