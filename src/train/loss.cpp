#include "train/loss.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "config/config.h"
#include "dist/dist.h"
#include "train/adaptive_layer.h"
#include "train/batch_triplet.h"
#include "train/contrastive.h"
#include "train/cosent.h"
#include "train/cosine_similarity_loss.h"
#include "train/distill.h"
#include "train/gist.h"
#include "train/grad_cache.h"
#include "train/matryoshka.h"
#include "train/mnrl.h"
#include "train/triplet.h"

namespace disttune {

at::Tensor loss_dtype(const at::Tensor& embeddings) {
  return embeddings.scalar_type() == at::kFloat ? embeddings : embeddings.to(at::kFloat);
}

void check_loss_batch(const Loss& loss, const LossBatch& batch) {
  const int n = static_cast<int>(batch.columns.size());
  DT_CHECK(n >= loss.min_columns() && (loss.max_columns() < 0 || n <= loss.max_columns()),
           loss.name(), ": got ", n, " columns, takes ", loss.min_columns(), "..",
           loss.max_columns() < 0 ? std::string("any") : std::to_string(loss.max_columns()));
  const at::Tensor& first = batch.columns[0];
  for (const at::Tensor& c : batch.columns)
    DT_CHECK(c.dim() == 2 && c.size(0) == first.size(0) && c.size(1) == first.size(1),
             loss.name(), ": every column must be [rows, dim] of the same shape; got ",
             c.sizes(), " beside ", first.sizes());
  if (loss.needs_guide()) {
    const size_t want = static_cast<size_t>(loss.guide_columns(n));
    DT_CHECK(batch.guide.size() == want, loss.name(), ": needs the guide's embeddings of ", want, " columns, got ",
             batch.guide.size());
    for (const at::Tensor& g : batch.guide)
      DT_CHECK(g.dim() == 2 && g.size(0) == first.size(0) && g.size(1) == batch.guide[0].size(1),
               loss.name(), ": every guide column must be [rows, guide dim] of the same shape; got ", g.sizes());
  }
  if (loss.needs_labels())
    DT_CHECK(batch.labels.defined() && (batch.labels.dim() == 1 || batch.labels.dim() == 2) &&
                 batch.labels.size(0) == first.size(0),
             loss.name(), ": needs labels [", first.size(0), "] or [", first.size(0), ", n]");
}

WrappedLoss::WrappedLoss(std::unique_ptr<Loss> inner) : inner_(std::move(inner)) {
  DT_CHECK(inner_ != nullptr, "a wrapping loss needs an inner loss");
}

int64_t global_rows(Dist& d, const Loss& loss, const LossBatch& batch) {
  const int64_t total = d.comm->all_reduce_int(batch.columns[0].size(0), ReduceOp::Sum);
  DT_CHECK(total > 0, loss.name(), ": the global batch is empty");
  return total;
}

bool is_gist_loss(const std::string& name) { return name == "gist" || name == "cached_gist"; }

bool is_cached_loss(const std::string& name) { return name == "cached_mnrl" || name == "cached_gist"; }

const char* frozen_model_key(const std::string& name) {
  if (is_gist_loss(name)) return "loss.guide";
  if (name == "mse") return "loss.teacher";
  return nullptr;
}

namespace {

// loss.directions, partition_mode and hardness_* as sentence-transformers checks them; loss.symmetric
// is its MultipleNegativesSymmetricRankingLoss, directions [query_to_doc, doc_to_query] per direction.
Mnrl::Options mnrl_options(const Config& cfg, double scale, bool dot) {
  Mnrl::Options o;
  o.scale = scale;
  o.dot = dot;
  o.directions = 0;
  for (const std::string& dir : cfg.get_string_list("loss.directions")) o.directions |= parse_mnrl_direction(dir);
  if (!(o.directions & Mnrl::QueryToDoc))
    cfg.fail("loss.directions", "must hold query_to_doc: its scores hold the positive pair");
  o.per_direction = cfg.get_string("loss.partition_mode") == "per_direction";
  if (o.per_direction && (o.directions & (Mnrl::QueryToQuery | Mnrl::DocToDoc)))
    cfg.fail("loss.partition_mode", "per_direction takes query_to_doc and doc_to_query only: the candidates of "
                                    "query_to_query and doc_to_doc hold no positive pair (use joint)");
  if (cfg.get_bool("loss.symmetric")) {
    for (const char* key : {"loss.directions", "loss.partition_mode"})
      if (cfg.is_set(key))
        cfg.fail(key, "loss.symmetric is directions [query_to_doc, doc_to_query] with partition_mode per_direction; "
                      "set one or the other");
    o.directions = Mnrl::QueryToDoc | Mnrl::DocToQuery;
    o.per_direction = true;
  }
  o.hardness = parse_mnrl_hardness(cfg.get_string("loss.hardness_mode"));
  o.hardness_strength = cfg.get_float("loss.hardness_strength");
  if (o.hardness == Mnrl::Hardness::None && cfg.is_set("loss.hardness_strength"))
    cfg.fail("loss.hardness_strength", "set but loss.hardness_mode is none");
  if (o.hardness != Mnrl::Hardness::None && o.hardness_strength == 0)
    cfg.fail("loss.hardness_mode", "has no effect at loss.hardness_strength 0 (Lan et al. use 9, EmbeddingGemma 5)");
  return o;
}

}  // namespace

std::unique_ptr<Loss> make_loss(const Config& cfg) {
  const std::string name = cfg.get_string("loss.name");
  const bool mnrl_family = name == "mnrl" || name == "cached_mnrl";
  const bool gist = is_gist_loss(name);
  const bool cached = is_cached_loss(name);
  const bool pairwise = name == "triplet" || name == "contrastive" || name == "online_contrastive";
  const bool distill = name == "margin_mse" || name == "distill_kl_div";
  BatchTriplet::Kind batch_kind{};
  const bool batch_triplet = parse_batch_triplet(name, &batch_kind);
  const bool batch_margin = batch_triplet && batch_kind != BatchTriplet::Kind::HardSoftMargin;
  // Keys that only some losses read: set for another loss they would be silently ignored.
  if (cfg.is_set("loss.scale") && !(mnrl_family || name == "cosent" || name == "angle"))
    cfg.fail("loss.scale", "only mnrl, cached_mnrl, cosent and angle have a similarity scale, not " + name);
  if (cfg.get_bool("loss.symmetric") && !mnrl_family)
    cfg.fail("loss.symmetric", "only mnrl and cached_mnrl have a symmetric term, not " + name);
  for (const char* key : {"loss.directions", "loss.partition_mode", "loss.hardness_mode", "loss.hardness_strength"})
    if (cfg.is_set(key) && !mnrl_family) cfg.fail(key, "only mnrl and cached_mnrl read it, not " + name);
  if (cfg.get_string("loss.similarity") != "auto" && !mnrl_family && !distill)
    cfg.fail("loss.similarity",
             "only mnrl, cached_mnrl, margin_mse and distill_kl_div take a similarity, not " + name);
  if (cfg.is_set("loss.margin") && cfg.get_float("loss.margin") >= 0 && !pairwise && !gist && !batch_margin)
    cfg.fail("loss.margin", "only triplet, contrastive, online_contrastive, (cached_)gist, batch_hard_triplet, "
                            "batch_semi_hard_triplet and batch_all_triplet have a margin, not " + name);
  for (const char* key : {"loss.guide", "loss.margin_strategy", "loss.contrast_anchors", "loss.contrast_positives"})
    if (cfg.is_set(key) && !gist) cfg.fail(key, "only gist and cached_gist read it, not " + name);
  if (cfg.is_set("loss.teacher") && name != "mse") cfg.fail("loss.teacher", "only mse reads it, not " + name);
  if (cfg.is_set("loss.temperature") && !gist && name != "distill_kl_div")
    cfg.fail("loss.temperature", "only gist, cached_gist and distill_kl_div read it, not " + name);
  const double temperature = cfg.get_float("loss.temperature");
  if (temperature != -1 && temperature <= 0)
    cfg.fail("loss.temperature", "must be > 0 (or -1: the sentence-transformers default)");
  if (cfg.get_string("loss.distance") != "auto" && !pairwise && !batch_triplet)
    cfg.fail("loss.distance",
             "only triplet, contrastive, online_contrastive and the batch triplet losses take a distance, not " + name);
  if (batch_triplet && cfg.get_string("loss.distance") == "manhattan")
    cfg.fail("loss.distance", name + " takes euclidean or cosine (BatchHardTripletLossDistanceFunction's two)");
  // Several datasets may mix cached and plain losses: check_run_inputs asks that one of them be cached.
  const bool one_of_several = !cfg.context().empty() || !cfg.dataset_names().empty();
  if (cfg.get_int("training.mini_batch_size") > 0 && !cached && !one_of_several)
    cfg.fail("training.mini_batch_size",
             "only loss.name: cached_mnrl and cached_gist embed in mini-batches (leave it 0 for " + name + ")");

  const double scale = cfg.get_float("loss.scale");
  const double margin = cfg.get_float("loss.margin");
  const std::string distance = cfg.get_string("loss.distance");
  const std::string similarity = cfg.get_string("loss.similarity");
  std::unique_ptr<Loss> loss;
  if (mnrl_family) {
    loss = std::make_unique<Mnrl>(mnrl_options(cfg, scale, similarity == "dot"));
  } else if (name == "triplet") {
    loss = std::make_unique<Triplet>(distance == "auto" ? Distance::Euclidean : parse_distance(distance),
                                     margin < 0 ? 5.0 : margin);
  } else if (name == "contrastive") {
    loss = std::make_unique<Contrastive>(distance == "auto" ? Distance::Cosine : parse_distance(distance),
                                         margin < 0 ? 0.5 : margin);
  } else if (name == "online_contrastive") {
    loss = std::make_unique<OnlineContrastive>(distance == "auto" ? Distance::Cosine : parse_distance(distance),
                                               margin < 0 ? 0.5 : margin);
  } else if (gist) {
    Gist::Options o;
    o.temperature = temperature < 0 ? 0.01 : temperature;
    o.strategy = cfg.get_string("loss.margin_strategy") == "relative" ? Gist::Margin::Relative : Gist::Margin::Absolute;
    o.margin = margin < 0 ? 0.0 : margin;
    o.contrast_anchors = cfg.get_bool("loss.contrast_anchors");
    o.contrast_positives = cfg.get_bool("loss.contrast_positives");
    loss = std::make_unique<Gist>(o);
  } else if (name == "cosent" || name == "angle") {
    loss = std::make_unique<Cosent>(scale, name == "angle");
  } else if (name == "cosine_similarity") {
    loss = std::make_unique<CosineSimilarityLoss>();
  } else if (name == "margin_mse") {
    loss = std::make_unique<MarginMse>(similarity == "cosine");
  } else if (name == "distill_kl_div") {
    loss = std::make_unique<DistillKlDiv>(similarity == "cosine", temperature < 0 ? 1.0 : temperature);
  } else if (name == "mse") {
    loss = std::make_unique<Mse>();
  } else if (batch_triplet) {
    const Distance d = distance == "auto" ? Distance::Euclidean : parse_distance(distance);
    loss = std::make_unique<BatchTriplet>(batch_kind, d, margin < 0 ? 5.0 : margin);
  } else {
    cfg.fail("loss.name", "unknown loss '" + name + "'");
  }

  const auto& dims = cfg.get_int_list("loss.matryoshka_dims");
  const auto& weights = cfg.get_float_list("loss.matryoshka_weights");
  if (dims.empty() && !weights.empty())
    cfg.fail("loss.matryoshka_weights", "weights given but loss.matryoshka_dims is empty");
  const int64_t per_step = cfg.get_int("loss.matryoshka_n_dims_per_step");
  if (per_step == 0) cfg.fail("loss.matryoshka_n_dims_per_step", "must be >= 1 (or -1: every dim each step)");
  if (dims.empty() && cfg.is_set("loss.matryoshka_n_dims_per_step"))
    cfg.fail("loss.matryoshka_n_dims_per_step", "set but loss.matryoshka_dims is empty");
  if (!dims.empty()) {
    if (!weights.empty() && weights.size() != dims.size())
      cfg.fail("loss.matryoshka_weights",
               str_cat("has ", weights.size(), " weights for ", dims.size(), " dims"));
    loss = std::make_unique<Matryoshka>(std::move(loss), dims, weights,
                                        cfg.where("loss.matryoshka_dims") + ": loss.matryoshka_dims", per_step);
  }
  const bool adaptive = cfg.get_bool("loss.adaptive_layer");
  for (const char* key : {"loss.adaptive_n_layers_per_step", "loss.adaptive_last_layer_weight",
                          "loss.adaptive_prior_layers_weight", "loss.adaptive_kl_div_weight",
                          "loss.adaptive_kl_temperature", "loss.adaptive_layer_weighting"})
    if (!adaptive && cfg.is_set(key)) cfg.fail(key, "set but loss.adaptive_layer is false");
  if (adaptive) {
    // GradCache back-propagates each mini-batch's embeddings alone; the prior layers' states
    // would have to be cached with them (sentence-transformers warns the same).
    if (cached)
      cfg.fail("loss.adaptive_layer", "does not combine with " + name +
                                          " (its mini-batches keep no prior layers); use mnrl or gist");
    AdaptiveLayer::Options o;
    o.n_layers_per_step = cfg.get_int("loss.adaptive_n_layers_per_step");
    if (o.n_layers_per_step == 0)
      cfg.fail("loss.adaptive_n_layers_per_step", "must be >= 1 (or -1: every prior layer each step)");
    o.last_layer_weight = cfg.get_float("loss.adaptive_last_layer_weight");
    o.prior_layers_weight = cfg.get_float("loss.adaptive_prior_layers_weight");
    o.kl_div_weight = cfg.get_float("loss.adaptive_kl_div_weight");
    o.kl_temperature = cfg.get_float("loss.adaptive_kl_temperature");
    o.weighting = parse_layer_weighting(cfg.get_string("loss.adaptive_layer_weighting"));
    loss = std::make_unique<AdaptiveLayer>(std::move(loss), o);
  }
  // GradCache goes outside Matryoshka: the truncations are part of the loss on the cache.
  if (cached)
    loss = std::make_unique<GradCache>(std::move(loss), cfg.get_int("training.mini_batch_size"));
  return loss;
}

}  // namespace disttune
