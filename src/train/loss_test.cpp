// Every loss against the Python reference (tests/ref/gen_train_golden.py): the sum of the
// ranks' shares equals the reference loss of the whole batch, and each rank's gradient
// w.r.t. its own rows equals those rows of the reference gradient. Run at 1, 2 and 4
// ranks, with batches that do and do not divide evenly.
#include "train/loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <set>

#include "common/check.h"
#include "train/distill.h"
#include "train/grad_cache.h"
#include "train/gist.h"
#include "train/matryoshka.h"
#include "train/mnrl.h"
#include "train/train_test_util.h"

namespace disttune {
namespace {

using namespace train_test;

constexpr double kLossTol = 1e-6;  // relative to max(1, |loss|)
constexpr double kGradTol = 1e-5;  // rel_error of the gradient block

struct CaseResult {
  double loss;                     // sum of the shares over ranks
  std::vector<at::Tensor> grads;   // this rank's rows
  Slice slice;
  std::vector<std::vector<at::Tensor>> layer_grads = {};  // AdaptiveLayerLoss: per prior layer, per column
};

CaseResult run_case(Dist& d, const json& c, Loss& loss) {
  const int64_t rows = c.at("columns")[0].at("shape")[0].get<int64_t>();
  CaseResult out{0, {}, rank_slice(rows, d.world_size, d.rank)};
  LossBatch batch;
  std::vector<at::Tensor> leaves;
  const auto rows_of = [&](const json& columns) {
    std::vector<at::Tensor> out_cols;
    for (const json& col : columns) {
      at::Tensor t = tensor_from(col).narrow(0, out.slice.begin, out.slice.count).clone();
      leaves.push_back(t.requires_grad_(true));
      out_cols.push_back(t);
    }
    return out_cols;
  };
  batch.columns = rows_of(c.at("columns"));
  if (c.contains("layers"))
    for (const json& layer : c.at("layers")) batch.layers.push_back(rows_of(layer));
  if (c.contains("labels"))
    batch.labels = tensor_from(c.at("labels")).narrow(0, out.slice.begin, out.slice.count);
  if (c.contains("guide"))
    for (const json& col : c.at("guide"))
      batch.guide.push_back(tensor_from(col).narrow(0, out.slice.begin, out.slice.count));
  at::Tensor share = loss.forward(d, batch);
  EXPECT_EQ(share.scalar_type(), at::kFloat);
  torch::autograd::backward({share});
  out.loss = d.comm->all_reduce_scalar(share.item<double>(), ReduceOp::Sum);
  for (auto& l : leaves) out.grads.push_back(l.grad());
  const size_t ncols = batch.columns.size();
  for (size_t i = 0; i < batch.layers.size(); ++i)
    out.layer_grads.emplace_back(out.grads.begin() + static_cast<int64_t>(ncols * (i + 1)),
                                 out.grads.begin() + static_cast<int64_t>(ncols * (i + 2)));
  out.grads.resize(ncols);
  return out;
}

void expect_grads_match(const std::string& name, const json& ref_grads, const std::vector<at::Tensor>& grads,
                        const Slice& slice) {
  ASSERT_EQ(grads.size(), ref_grads.size()) << name;
  for (size_t k = 0; k < grads.size(); ++k) {
    ASSERT_TRUE(grads[k].defined()) << name << " column " << k;
    at::Tensor ref_grad = tensor_from(ref_grads[k]);
    at::Tensor mine_ref = ref_grad.narrow(0, slice.begin, slice.count);
    // Relative to the whole reference gradient, so that a rank holding only near-zero rows
    // is judged on the same scale as the others.
    const double scale = std::max(ref_grad.abs().max().item<double>(), 1e-30);
    const double err = slice.count == 0 ? 0.0
                       : (grads[k].to(at::kDouble) - mine_ref.to(at::kDouble)).abs().max().item<double>() / scale;
    EXPECT_LT(err, kGradTol) << name << " column " << k;
  }
}

void expect_matches_golden(const json& c, const CaseResult& r) {
  const std::string name = c.at("name").get<std::string>();
  const double ref = c.at("loss").get<double>();
  EXPECT_NEAR(r.loss, ref, kLossTol * std::max(1.0, std::abs(ref))) << name;
  expect_grads_match(name, c.at("grads"), r.grads, r.slice);
  ASSERT_EQ(r.layer_grads.size(), c.contains("layer_grads") ? c.at("layer_grads").size() : 0u) << name;
  for (size_t i = 0; i < r.layer_grads.size(); ++i)
    expect_grads_match(str_cat(name, " prior layer ", i), c.at("layer_grads")[i], r.layer_grads[i], r.slice);
}

TEST(MpiLossGolden, EveryLossMatchesThePythonReference) {
  Dist& d = dist();
  json g = load_golden("losses.json");
  ASSERT_GE(g.at("cases").size(), 10u);
  double worst_loss = 0;
  for (const json& c : g.at("cases")) {
    std::unique_ptr<Loss> loss = make_loss(loss_config(c.at("config")));
    CaseResult r = run_case(d, c, *loss);
    expect_matches_golden(c, r);
    worst_loss = std::max(worst_loss, std::abs(r.loss - c.at("loss").get<double>()));
  }
  RecordProperty("worst_loss_abs_error", std::to_string(worst_loss));
}

TEST(MpiLossGolden, GradCacheOnReadyEmbeddingsIsTheLossItCaches) {
  Dist& d = dist();
  json g = load_golden("losses.json");
  int checked = 0;
  for (const json& c : g.at("cases")) {
    const std::string name = c.at("config").at("name");
    if ((name != "mnrl" && name != "gist") || c.contains("layers")) continue;  // adaptive: no cache
    std::unique_ptr<Loss> loss = make_loss(loss_config(c.at("config"), {"loss.name=cached_" + name}));
    ASSERT_NE(dynamic_cast<GradCache*>(loss.get()), nullptr);
    expect_matches_golden(c, run_case(d, c, *loss));
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST(MpiLossGolden, BF16EmbeddingsAreUpcastAndTheLossIsFloat32) {
  Dist& d = dist();
  const int64_t rows = 2 * d.world_size;
  at::Tensor a = at::randn({rows, 8}).narrow(0, 2 * d.rank, 2);
  at::Tensor p = at::randn({rows, 8}).narrow(0, 2 * d.rank, 2);
  Mnrl mnrl;
  at::Tensor ab = a.to(at::kBFloat16).requires_grad_(true);
  at::Tensor l = mnrl.forward(d, {{ab, p.to(at::kBFloat16)}, {}, {}});
  EXPECT_EQ(l.scalar_type(), at::kFloat);
  torch::autograd::backward({l});
  EXPECT_EQ(ab.grad().scalar_type(), at::kBFloat16);
  at::Tensor lf = mnrl.forward(d, {{a.to(at::kBFloat16).to(at::kFloat), p.to(at::kBFloat16).to(at::kFloat)}, {}, {}});
  EXPECT_NEAR(l.item<double>(), lf.item<double>(), 1e-6);
}

// A rank's loss sees the other ranks' positives as negatives: its mean over its own anchors
// differs from the local-only MNRL, and the shares sum to the single-process loss.
TEST(MpiLossGolden, RanksSeeNegativesFromOtherRanks) {
  Dist& d = dist();
  json g = load_golden("losses.json");
  const json* c = nullptr;
  for (const json& x : g.at("cases"))
    if (x.at("name") == "mnrl_hard_negatives") c = &x;
  ASSERT_NE(c, nullptr);
  const int64_t rows = c->at("columns")[0].at("shape")[0].get<int64_t>();
  const Slice s = rank_slice(rows, d.world_size, d.rank);
  std::vector<at::Tensor> full, mine;
  for (const json& col : c->at("columns")) {
    full.push_back(tensor_from(col));
    mine.push_back(full.back().narrow(0, s.begin, s.count));
  }
  Mnrl mnrl;
  const double share = mnrl.forward(d, {mine, {}, {}}).item<double>();
  const double local_only = mnrl.forward(local_dist(), {mine, {}, {}}).item<double>();
  const double single = mnrl.forward(local_dist(), {full, {}, {}}).item<double>();
  // This rank's anchors, averaged: share x global rows / local rows.
  const double mine_mean = share * rows / s.count;
  if (d.world_size > 1) {
    EXPECT_GT(mine_mean - local_only, 1e-3) << "no cross-rank negatives seen";
  }
  EXPECT_NEAR(d.comm->all_reduce_scalar(share, ReduceOp::Sum), single, 1e-6 * std::max(1.0, single));
}

using test::error_of;

TEST(LossConfig, MakesTheNamedLossWithSentenceTransformersDefaults) {
  EXPECT_EQ(make_loss(Config())->name(), "mnrl");
  EXPECT_EQ(make_loss(loss_config({{"name", "mnrl"}, {"symmetric", true}}))->name(), "mnrl(symmetric)");
  auto m = make_loss(loss_config({{"name", "mnrl"}}));
  EXPECT_DOUBLE_EQ(dynamic_cast<Mnrl&>(*m).scale(), 20.0);
  EXPECT_FALSE(dynamic_cast<Mnrl&>(*m).symmetric());
  EXPECT_EQ(make_loss(loss_config({{"name", "triplet"}}))->name(), "triplet");
  EXPECT_EQ(make_loss(loss_config({{"name", "cosent"}}))->name(), "cosent");
  EXPECT_EQ(make_loss(loss_config({{"name", "contrastive"}}))->name(), "contrastive");
  EXPECT_EQ(make_loss(loss_config({{"name", "online_contrastive"}}))->name(), "online_contrastive");
  EXPECT_EQ(make_loss(loss_config({{"name", "angle"}}))->name(), "angle");
  EXPECT_EQ(make_loss(loss_config({{"name", "cosine_similarity"}}))->name(), "cosine_similarity");
  EXPECT_TRUE(make_loss(loss_config({{"name", "cosine_similarity"}}))->needs_labels());
  auto mat = make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_dims", {64, 768, 256}}}));
  auto& mm = dynamic_cast<Matryoshka&>(*mat);
  EXPECT_EQ(mm.dims(), (std::vector<int64_t>{768, 256, 64}));
  EXPECT_EQ(mm.weights(), (std::vector<double>{1, 1, 1}));
  auto cached = make_loss(loss_config({{"name", "cached_mnrl"}, {"matryoshka_dims", {8, 4}}},
                                      {"training.mini_batch_size=16"}));
  auto& cm = dynamic_cast<GradCache&>(*cached);
  EXPECT_EQ(cm.mini_batch_size(), 16);
  EXPECT_NE(dynamic_cast<const Matryoshka*>(&cm.inner()), nullptr);
  // The run's first line names what GradCache wraps.
  EXPECT_EQ(cm.name(), "cached_mnrl(matryoshka(mnrl))");
  EXPECT_EQ(make_loss(loss_config({{"name", "cached_mnrl"}}))->name(), "cached_mnrl");
  // GISTEmbedLoss's defaults: temperature 0.01, absolute margin 0, both contrasts.
  auto gist = make_loss(loss_config({{"name", "gist"}}));
  const Gist::Options& go = dynamic_cast<Gist&>(*gist).options();
  EXPECT_DOUBLE_EQ(go.temperature, 0.01);
  EXPECT_EQ(go.strategy, Gist::Margin::Absolute);
  EXPECT_DOUBLE_EQ(go.margin, 0.0);
  EXPECT_TRUE(go.contrast_anchors && go.contrast_positives);
  EXPECT_TRUE(gist->needs_guide());
  EXPECT_TRUE(make_loss(loss_config({{"name", "gist"}, {"matryoshka_dims", {8, 4}}}))->needs_guide());
  EXPECT_FALSE(make_loss(loss_config({{"name", "mnrl"}}))->needs_guide());
  auto cached_gist = make_loss(loss_config({{"name", "cached_gist"}, {"matryoshka_dims", {8, 4}}},
                                           {"training.mini_batch_size=4"}));
  EXPECT_EQ(cached_gist->name(), "cached_gist(matryoshka(gist))");
  EXPECT_TRUE(cached_gist->needs_guide());
  EXPECT_EQ(make_loss(loss_config({{"name", "cached_gist"}}))->name(), "cached_gist");
  // MarginMSELoss scores with pairwise_dot_score unless told otherwise; a label width that is
  // neither a margin per negative nor a score per text is a broken invariant
  auto margin = make_loss(loss_config({{"name", "margin_mse"}}));
  EXPECT_TRUE(margin->needs_labels());
  const at::Tensor q = at::randn({3, 4}), p = at::randn({3, 4}), n = at::randn({3, 4});
  const at::Tensor teacher = at::randn({3});
  const double dot = ((q * p).sum(1) - (q * n).sum(1) - teacher).pow(2).mean().item<double>();
  EXPECT_NEAR(margin->forward(local_dist(), {{q, p, n}, teacher, {}}).item<double>(), dot, 1e-5 * dot);
  // (the run checks refuse such data first, naming data.columns)
  EXPECT_THROW(margin->forward(local_dist(), {{q, p, n}, at::randn({3, 3}), {}}), InternalError);
  EXPECT_TRUE(margin->takes_label_width(1, 3) && margin->takes_label_width(2, 3) && !margin->takes_label_width(3, 3));
  // DistillKLDivLoss: temperature 1 by default (sentence-transformers since v5.0.1), the
  // teacher's scores only; Matryoshka and the defaults of gist are unchanged.
  auto kl = make_loss(loss_config({{"name", "distill_kl_div"}, {"matryoshka_dims", {4, 2}}}));
  EXPECT_TRUE(kl->takes_label_width(2, 3) && !kl->takes_label_width(1, 3));
  auto plain_kl = make_loss(loss_config({{"name", "distill_kl_div"}}));
  EXPECT_DOUBLE_EQ(dynamic_cast<DistillKlDiv&>(*plain_kl).temperature(), 1.0);
  auto gist_t = make_loss(loss_config({{"name", "gist"}, {"temperature", 0.05}}));
  EXPECT_DOUBLE_EQ(dynamic_cast<Gist&>(*gist_t).options().temperature, 0.05);
}

TEST(LossConfig, BadCombinationsNameTheKey) {
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "triplet"}, {"symmetric", true}})); })
                .find("loss.symmetric"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "mnrl"}, {"margin", 0.3}})); })
                .find("loss.margin"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "cosent"}, {"distance", "cosine"}})); })
                .find("loss.distance"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "triplet"}, {"scale", 5.0}})); })
                .find("loss.scale"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "cosine_similarity"}, {"scale", 5.0}})); })
                .find("loss.scale"), std::string::npos);
  // AnglE splits each embedding into real and imaginary halves.
  EXPECT_NE(error_of([] {
              make_loss(loss_config({{"name", "angle"}, {"matryoshka_dims", {16, 7}}}))
                  ->forward(local_dist(), {{at::randn({2, 16}), at::randn({2, 16})}, at::zeros({2}), {}});
            }).find("angle needs an even embedding dimension"), std::string::npos);
  EXPECT_NE(error_of([] {
              make_loss(loss_config({{"name", "mnrl"}}, {"training.mini_batch_size=4"}));
            }).find("training.mini_batch_size"), std::string::npos);
  EXPECT_NE(error_of([] {
              make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_dims", {8, 4}},
                                     {"matryoshka_weights", {1.0}}}));
            }).find("loss.matryoshka_weights"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_weights", {1.0}}})); })
                .find("loss.matryoshka_weights"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "mnrl"}, {"temperature", 0.05}})); })
                .find("loss.temperature: only gist, cached_gist and distill_kl_div read it, not mnrl"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "distill_kl_div"}, {"temperature", 0.0}})); })
                .find("loss.temperature: must be > 0 (or -1: the sentence-transformers default)"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "gist"}}, {"training.mini_batch_size=4"})); })
                .find("training.mini_batch_size"), std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "triplet"}, {"similarity", "dot"}})); })
                .find("loss.similarity: only mnrl, cached_mnrl, margin_mse and distill_kl_div take a similarity, not "
                      "triplet"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_loss(loss_config({{"name", "margin_mse"}, {"scale", 2.0}})); })
                .find("loss.scale"), std::string::npos);
  // MNRL's directions, partition modes and hardness, as sentence-transformers checks them.
  for (const auto& [loss, message] : std::vector<std::pair<json, std::string>>{
           {{{"name", "mnrl"}, {"directions", {"doc_to_query"}}},
            "loss.directions: must hold query_to_doc: its scores hold the positive pair"},
           {{{"name", "mnrl"}, {"directions", {"query_to_doc", "doc_to_doc"}}, {"partition_mode", "per_direction"}},
            "loss.partition_mode: per_direction takes query_to_doc and doc_to_query only"},
           {{{"name", "mnrl"}, {"symmetric", true}, {"directions", {"query_to_doc", "query_to_query"}}},
            "loss.directions: loss.symmetric is directions [query_to_doc, doc_to_query] with partition_mode "
            "per_direction; set one or the other"},
           {{{"name", "mnrl"}, {"hardness_strength", 9.0}}, "loss.hardness_strength: set but loss.hardness_mode is none"},
           {{{"name", "mnrl"}, {"hardness_mode", "hard_negatives"}},
            "loss.hardness_mode: has no effect at loss.hardness_strength 0"},
           {{{"name", "cosent"}, {"partition_mode", "joint"}},
            "loss.partition_mode: only mnrl and cached_mnrl read it, not cosent"},
           {{{"name", "gist"}, {"directions", {"query_to_doc"}}},
            "loss.directions: only mnrl and cached_mnrl read it, not gist"}})
    EXPECT_NE(error_of([&] { make_loss(loss_config(loss)); }).find(message), std::string::npos) << loss.dump();
  EXPECT_NE(error_of([] { loss_config({{"name", "mnrl"}, {"directions", {"query_to_doc", "doc_to_docs"}}}); })
                .find("loss.directions: expected a list of query_to_doc|query_to_query|doc_to_query|doc_to_doc, got "
                      "[query_to_doc, doc_to_docs]"),
            std::string::npos);
  // The symmetric loss is the per-direction pair of directions, and names itself so.
  EXPECT_EQ(make_loss(loss_config({{"name", "mnrl"}, {"directions", {"query_to_doc", "doc_to_query"}},
                                   {"partition_mode", "per_direction"}}))->name(), "mnrl(symmetric)");
  EXPECT_EQ(make_loss(loss_config({{"name", "cached_mnrl"},
                                   {"directions", {"query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"}},
                                   {"hardness_mode", "in_batch_negatives"}, {"hardness_strength", 9.0}},
                                  {"training.mini_batch_size=4"}))->name(),
            "cached_mnrl(q2d+q2q+d2q+d2d joint, hardness in-batch 9)");
  // The batch triplet losses: BatchHardTripletLossDistanceFunction has no manhattan, and the
  // soft margin has no margin.
  for (const auto& [loss, message] : std::vector<std::pair<json, std::string>>{
           {{{"name", "batch_all_triplet"}, {"distance", "manhattan"}},
            "loss.distance: batch_all_triplet takes euclidean or cosine"},
           {{{"name", "batch_hard_soft_margin_triplet"}, {"margin", 1.0}}, "loss.margin: only"},
           {{{"name", "batch_hard_triplet"}, {"scale", 2.0}}, "loss.scale: only"}})
    EXPECT_NE(error_of([&loss = loss] { make_loss(loss_config(loss)); }).find(message), std::string::npos) << message;
  for (const char* name : {"batch_hard_triplet", "batch_hard_soft_margin_triplet", "batch_semi_hard_triplet",
                           "batch_all_triplet"}) {
    auto loss = make_loss(loss_config({{"name", name}, {"matryoshka_dims", {4, 2}}}));
    EXPECT_TRUE(loss->takes_class_labels() && loss->needs_labels()) << name;
    EXPECT_EQ(loss->name(), std::string("matryoshka(") + name + ")");
    EXPECT_EQ(loss->max_columns(), 1);
  }
  EXPECT_FALSE(make_loss(loss_config({{"name", "cosent"}}))->takes_class_labels());
}

// n_dims_per_step: each step is the weighted sum over a subset of the dims, drawn from the
// step's seed alone (so every rank and a resumed run draw the same), every dim drawn in time.
TEST(MpiLossGolden, MatryoshkaTakesNDimsPerStepFromTheStepSeed) {
  Dist& d = dist();
  const int64_t rows = 3 * d.world_size;
  const Slice s = rank_slice(rows, d.world_size, d.rank);
  at::manual_seed(11);
  std::vector<at::Tensor> cols;
  for (int k = 0; k < 3; ++k) cols.push_back(at::randn({rows, 16}).narrow(0, s.begin, s.count));
  const LossBatch batch{cols, {}, {}};
  auto all = make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_dims", {16, 8, 4}},
                                    {"matryoshka_weights", {1.0, 2.0, 0.5}}}));
  auto some = make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_dims", {16, 8, 4}},
                                     {"matryoshka_weights", {1.0, 2.0, 0.5}}},
                                    {"loss.matryoshka_n_dims_per_step=2"}));
  auto& m = dynamic_cast<Matryoshka&>(*some);
  EXPECT_DOUBLE_EQ(some->loss_matrices(2), all->loss_matrices(2) * 2 / 3);
  // One term per dim, alone (dims sorted 16, 8, 4 with their weights).
  std::vector<double> term;
  for (int64_t dim : {16, 8, 4}) {
    const double w = dim == 16 ? 1.0 : dim == 8 ? 2.0 : 0.5;
    auto one = make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_dims", {dim}}, {"matryoshka_weights", {w}}}));
    term.push_back(one->forward(d, batch).item<double>());
  }
  std::set<size_t> drawn;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    some->begin_step(seed);
    const std::vector<size_t> idx = m.step_dims();
    ASSERT_EQ(idx.size(), 2u);
    EXPECT_LT(idx[0], idx[1]);
    drawn.insert(idx.begin(), idx.end());
    EXPECT_NEAR(some->forward(d, batch).item<double>(), term[idx[0]] + term[idx[1]], 1e-5);
    some->begin_step(seed);
    EXPECT_EQ(m.step_dims(), idx);
    // Every rank drew the same dims.
    const double first = d.comm->all_reduce_scalar(static_cast<double>(idx[0] * 3 + idx[1]), ReduceOp::Max);
    EXPECT_EQ(first, static_cast<double>(idx[0] * 3 + idx[1]));
  }
  EXPECT_EQ(drawn.size(), 3u);
  EXPECT_NE(error_of([] {
              make_loss(loss_config({{"name", "mnrl"}}, {"loss.matryoshka_n_dims_per_step=1"}));
            }).find("loss.matryoshka_n_dims_per_step: set but loss.matryoshka_dims is empty"), std::string::npos);
  EXPECT_NE(error_of([] {
              make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_dims", {8}}}, {"loss.matryoshka_n_dims_per_step=0"}));
            }).find("must be >= 1"), std::string::npos);
}

// n_layers_per_step prior layers, drawn from the step's seed alike on every rank: the loss is
// the last layer's term plus the drawn layer's, as a loss over that prior layer alone.
TEST(MpiLossGolden, AdaptiveLayerDrawsItsLayersFromTheStepSeed) {
  Dist& d = dist();
  const int64_t rows = 3 * d.world_size;
  const Slice s = rank_slice(rows, d.world_size, d.rank);
  at::manual_seed(5);
  const auto columns = [&] {
    std::vector<at::Tensor> cols;
    for (int k = 0; k < 2; ++k) cols.push_back(at::randn({rows, 16}).narrow(0, s.begin, s.count));
    return cols;
  };
  LossBatch batch{columns(), {}, {}, {}};
  for (int l = 0; l < 4; ++l) batch.layers.push_back(columns());
  const json every{{"name", "mnrl"}, {"adaptive_layer", true}, {"adaptive_n_layers_per_step", -1}};
  auto all = make_loss(loss_config(every));
  std::vector<double> alone;  // the loss with prior layer l as the only one
  for (int l = 0; l < 4; ++l) {
    LossBatch one{batch.columns, {}, {}, {batch.layers[static_cast<size_t>(l)]}};
    alone.push_back(all->forward(d, one).item<double>());
  }
  auto some = make_loss(loss_config({{"name", "mnrl"}, {"adaptive_layer", true}}));
  std::set<int64_t> drawn;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    some->begin_step(seed);
    const std::vector<int64_t> layers = some->prior_layers(4);
    ASSERT_EQ(layers.size(), 1u);
    drawn.insert(layers[0]);
    EXPECT_NEAR(some->forward(d, batch).item<double>(), alone[static_cast<size_t>(layers[0])], 1e-5);
    EXPECT_EQ(d.comm->all_reduce_scalar(static_cast<double>(layers[0]), ReduceOp::Max),
              static_cast<double>(layers[0]));
  }
  EXPECT_EQ(drawn.size(), 4u);
  EXPECT_EQ(all->prior_layers(4), (std::vector<int64_t>{0, 1, 2, 3}));
  // A model of 0 layers has no prior state: the last layer's loss alone.
  const LossBatch bare{batch.columns, {}, {}, {}};
  EXPECT_NEAR(some->forward(d, bare).item<double>(), Mnrl().forward(d, bare).item<double>(), 1e-6);
  const auto message = [](const json& cfg, std::vector<std::string> extra = {}) {
    return error_of([&] { make_loss(loss_config(cfg, std::move(extra))); });
  };
  EXPECT_NE(message({{"name", "cached_mnrl"}, {"adaptive_layer", true}}, {"training.mini_batch_size=4"})
                .find("loss.adaptive_layer: does not combine with cached_mnrl"), std::string::npos);
  EXPECT_NE(message({{"name", "mnrl"}, {"adaptive_kl_temperature", 0.5}})
                .find("loss.adaptive_kl_temperature: set but loss.adaptive_layer is false"), std::string::npos);
  EXPECT_NE(message({{"name", "mnrl"}, {"adaptive_layer", true}, {"adaptive_n_layers_per_step", 0}})
                .find("loss.adaptive_n_layers_per_step: must be >= 1"), std::string::npos);
}

TEST(LossConfig, MatryoshkaDimLargerThanTheEmbeddingFailsAtFirstUseNamingTheKey) {
  auto loss = make_loss(loss_config({{"name", "mnrl"}, {"matryoshka_dims", {32, 8}}}));
  LossBatch b{{at::randn({2, 16}), at::randn({2, 16})}, {}, {}};
  const std::string e = error_of([&] { loss->forward(local_dist(), b); });
  EXPECT_NE(e.find("loss.matryoshka_dims"), std::string::npos) << e;
  EXPECT_NE(e.find("32"), std::string::npos) << e;
  EXPECT_NE(e.find("16"), std::string::npos) << e;
}

}  // namespace
}  // namespace disttune
