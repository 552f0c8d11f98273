#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <glog/logging.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/check.h"
#include "common/cpu_isa.h"
#include "common/env.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/progress.h"
#include "config/config.h"
#include "data/bm25.h"
#include "data/random.h"
#include "data/multi_sampler.h"
#include "data/sampler.h"
#include "data/token_store.h"
#include "dist/dist.h"
#include "embed/embedder.h"
#include "eval/ir_metrics.h"
#include "eval/model_evaluator.h"
#include "io/checkpoint.h"
#include "model/autocast.h"
#include "model/linear.h"
#include "model/sentence_model.h"
#include "train/grad_cache.h"
#include "train/clip.h"
#include "train/export.h"
#include "train/grad_reducer.h"
#include "train/grad_scaler.h"
#include "train/loss.h"
#include "train/metrics_log.h"
#include "train/model_setup.h"
#include "train/optimizer.h"
#include "train/plateau.h"
#include "train/report.h"
#include "train/run_data.h"
#include "train/scheduler.h"

namespace disttune {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

json metrics_json(const std::map<std::string, double>& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

std::string fmt_metric(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

class Trainer {
 public:
  Trainer(Dist& d, const Config& cfg);
  void run();

 private:
  void setup_device();
  void broadcast_parameters();
  int64_t count_total_steps() const;
  bool finished() const;       // the steps or epochs done, or stopped early
  bool stopped_early() const;  // eval.early_stopping_patience evaluations without improvement
  // One training dataset: data.train (sources_[0], "data") or an entry of datasets:, with its
  // configuration (the loss.* and data.* it trains with), rows, tokens and loss.
  struct Source {
    std::string name;
    Config cfg;
    std::optional<TextDataset> own;  // an entry's file; data.train lives in data_
    const TextDataset* data = nullptr;
    std::vector<int64_t> rows;
    std::optional<TokenStore> store;
    std::map<std::string, std::string> prompts;  // its training.prompts: role -> prompt
    std::unique_ptr<Loss> loss;
    GradCache* cached = nullptr;
  };
  void add_source(const std::string& name, Config cfg);
  void setup_guide();
  void train_step(Source& src, const std::vector<int64_t>& batch);
  at::Tensor embed_ids(SentenceModel& model, const Tokenizer& tokenizer,
                       const std::vector<std::vector<int32_t>>& ids,
                       const std::vector<int64_t>& prior = {}, std::vector<at::Tensor>* prior_embeddings = nullptr);
  at::Tensor embed_guide(const Source& src, size_t role, const std::vector<int64_t>& rows,
                         const std::vector<std::vector<int32_t>>& ids);
  std::map<std::string, double> evaluate(Embedder& emb, bool test, const std::string& label);
  void eval_and_save(bool eval_due, bool save_due);
  void save_checkpoint();
  bool resume();
  void load_model(const Checkpoint& c);
  void finish();
  void log_train_window();

  Dist& d_;
  const Config& cfg_;
  std::string out_, ckpt_dir_;
  at::Device device_ = at::kCPU;
  bool autocast_ = false;
  at::ScalarType compute_dtype_ = at::kFloat;

  SentenceModel model_;
  std::optional<Guide> guide_;  // loss.guide (gist), loss.teacher (mse): frozen, in eval mode
  std::unique_ptr<Embedder> embedder_;
  RunData data_;
  std::map<std::string, std::string> prompts_;  // training.prompts: role -> prompt
  // The role's training prompt, else `otherwise`.
  std::string role_prompt(const std::string& role, const std::string& otherwise = "") const {
    const auto it = prompts_.find(role);
    return it == prompts_.end() ? otherwise : it->second;
  }
  int max_len_ = 0;

  std::vector<std::unique_ptr<Source>> sources_;
  NamedParameters trainable_;
  std::vector<at::Tensor> trainable_tensors_;
  std::unique_ptr<AdamW> opt_;
  std::unique_ptr<GradReducer> reducer_;
  std::optional<LrSchedule> sched_;
  std::optional<Plateau> plateau_;  // reduce_lr_on_plateau: the rate, stepped by each validation
  GradScaler scaler_;
  std::unique_ptr<MultiDatasetSampler> sampler_;
  ModelEvalOptions eval_opt_;
  std::string metric_;

  TrainState st_;
  int64_t total_steps_ = 0, accum_ = 1, global_batch_ = 1, epochs_ = 1, max_steps_ = -1;
  int64_t patience_ = 0;  // eval.early_stopping_patience (0: off)
  double patience_threshold_ = 0;
  ScoreFunction score_ = ScoreFunction::Cosine;  // what evaluation scores with (eval.similarity)
  MetricsLog log_;
  std::unique_ptr<Progress> bar_;
  std::map<std::string, double> last_eval_;
  std::vector<NamedTensor> best_state_;  // in memory once this process has seen a best
  // Logging window.
  double win_loss_ = 0, win_norm_ = 0;
  int64_t win_steps_ = 0, win_rows_ = 0;
  Clock::time_point win_start_ = Clock::now();
  double last_lr_ = 0;
};

Trainer::Trainer(Dist& d, const Config& cfg)
    : d_(d),
      cfg_(cfg),
      out_(cfg.get_string("output.dir")),
      ckpt_dir_(out_ + "/checkpoints"),
      model_(model_from_config(cfg)),
      scaler_(GradScalerOptions{.enabled = cfg.get_string("training.precision") == "fp16"}),
      log_(out_ + "/metrics.jsonl", d.is_root()) {
  accum_ = cfg.get_int("training.gradient_accumulation_steps");
  global_batch_ = cfg.get_int("training.global_batch_size");
  epochs_ = cfg.get_int("training.epochs");
  max_steps_ = cfg.get_int("training.max_steps");
  patience_ = cfg.get_int("eval.early_stopping_patience");
  patience_threshold_ = cfg.get_float("eval.early_stopping_threshold");
  if (d.is_root()) {
    Env::Default()->make_dirs(ckpt_dir_).throw_if_error();
    Env::Default()->make_dirs(out_ + "/logs").throw_if_error();
    if (const int n = remove_checkpoint_temporaries(ckpt_dir_))
      LOG(WARNING) << "removed " << n << " incomplete checkpoint file(s) of an interrupted save";
    check_export_target(out_ + "/final");  // refused now rather than after training
  }
  d.comm->barrier();
  log_init(d.rank, out_ + "/logs");
  dist_set_timeout(cfg.get_float("distributed.timeout_s"));
  setup_device();
  model_.set_gradient_checkpointing(cfg.get_bool("training.gradient_checkpointing"));
  broadcast_parameters();
  embedder_ = std::make_unique<Embedder>(model_, Embedder::tokenizer_for(model_));
  max_len_ = model_.max_seq_length();

  data_ = load_run_data(d, cfg);
  add_source("data", cfg);
  for (const std::string& name : cfg.dataset_names()) add_source(name, cfg.dataset_config(name));
  if (data_.evaluated()) {
    score_ = run_score_function(cfg);
    check_eval_metric(cfg, data_.eval_format, data_.binary_labels, score_);
  }
  const bool validates = data_.evaluated() && data_.has_val();
  if (patience_ > 0 && !validates)
    cfg.fail("eval.early_stopping_patience", "needs a validation split to evaluate, and this run has none");
  if (cfg.get_bool("eval.on_start") && !validates)
    cfg.fail("eval.on_start", "needs a validation split to evaluate, and this run has none");
  std::vector<std::pair<const Config*, const TextDataset*>> views;
  for (const auto& src : sources_) views.emplace_back(&src->cfg, src->data);
  const auto prompts = dataset_prompts(cfg, views);
  for (size_t k = 0; k < sources_.size(); ++k) sources_[k]->prompts = prompts[k];
  prompts_ = prompts.front();
  for (auto& src : sources_) {
    TokenStoreSpec spec = token_store_spec(src->cfg, max_len_);
    // Each dataset's tokens in a store of its own, even where two read one file otherwise.
    if (src->name != "data") spec.cache_dir += "/datasets/" + src->name;
    TokenStoreBuild build;
    src->store.emplace(open_or_build_token_store(d, *src->data, embedder_->tokenizer(), spec, &build));
    const std::string what = src->name == "data" ? "data: " + data_.describe()
                                                 : str_cat("datasets.", src->name, ": train ", src->rows.size(),
                                                           " rows, loss ", src->loss->name());
    print0(what, "; tokens: ", build.built ? "built " : "reused ", src->store->path(),
           build.built ? " (" + build.reason + ")" : "");
  }
  setup_guide();
  for (auto& p : model_.parameters()) {
    // The pooler takes no part in sentence embeddings (as in sentence-transformers).
    if (p.name.rfind("pooler.", 0) == 0) continue;
    trainable_.emplace_back(p.name, p.tensor);
    trainable_tensors_.push_back(p.tensor);
  }
  AdamWOptions ao;
  ao.beta1 = cfg.get_float("training.adam_beta1");
  ao.beta2 = cfg.get_float("training.adam_beta2");
  ao.eps = cfg.get_float("training.adam_epsilon");
  ao.weight_decay = cfg.get_float("training.weight_decay");
  opt_ = std::make_unique<AdamW>(trainable_, ao);
  reducer_ = std::make_unique<GradReducer>(d, trainable_tensors_, bucket_bytes_from(cfg));
  const uint64_t seed = static_cast<uint64_t>(cfg.get_int("training.seed"));
  const BatchSamplerKind kind = parse_batch_sampler(cfg.get_string("training.batch_sampler"));
  std::vector<GlobalBatchSampler> samplers;
  for (const auto& src : sources_) {
    const uint64_t own_seed = dataset_sampler_seed(seed, static_cast<int>(samplers.size()));
    samplers.emplace_back(*src->data, src->rows, global_batch_, own_seed, kind, cfg.get_bool("training.drop_last"));
    if (samplers.back().batches_in_epoch() == 0)
      cfg.fail("training.drop_last", str_cat("no full global batch of ", global_batch_, " in the ", src->rows.size(),
                                             " training rows", src->name == "data" ? "" : " of datasets." + src->name,
                                             ": nothing to train"));
  }
  sampler_ = std::make_unique<MultiDatasetSampler>(
      std::move(samplers), seed, parse_multi_dataset_sampler(cfg.get_string("training.multi_dataset_batch_sampler")));
  total_steps_ = count_total_steps();
  sched_.emplace(make_schedule(cfg, total_steps_));
  if (sched_->kind() == ScheduleKind::ReduceLrOnPlateau) {
    // make_schedule refused eval.strategy no, as Hugging Face does; a run without a
    // validation split has nothing to step it either.
    if (!(data_.evaluated() && data_.has_val()))
      cfg.fail("training.scheduler", "reduce_lr_on_plateau changes the rate at validation evaluations, by "
                                     "eval.metric; this run has none (eval.strategy, a validation split)");
    plateau_.emplace(sched_->options(), cfg.get_float("training.learning_rate"));
  }

  eval_opt_.ir.k = cfg.get_int_list("eval.k");
  eval_opt_.ir.dims = cfg.get_int_list("loss.matryoshka_dims");
  eval_opt_.similarity.dims = eval_opt_.ir.dims;
  eval_opt_.triplet.dims = eval_opt_.ir.dims;
  eval_opt_.ir.score = eval_opt_.similarity.score = eval_opt_.triplet.score = score_;
  eval_opt_.classify = data_.binary_labels;
  eval_opt_.ir.chunk_rows = cfg.get_int("eval.chunk_rows");
  eval_opt_.batch_size = cfg.get_int("eval.batch_size");
  eval_opt_.max_length = max_len_;
  // Evaluation embeds each role's texts as training does (training.prompts); a role without
  // a training prompt gets the prompt sentence-transformers' evaluator would give it: its
  // IR evaluator embeds queries with encode_query (here model.query_prompt first) and
  // documents with encode_document, the others everything with encode.
  const std::string plain = model_.default_prompt();
  eval_opt_.query_prompt = role_prompt("anchor", query_prompt(cfg, model_));
  eval_opt_.corpus_prompt = role_prompt("positive", model_.document_prompt());
  eval_opt_.sentence1_prompt = role_prompt("sentence1", plain);
  eval_opt_.sentence2_prompt = role_prompt("sentence2", plain);
  eval_opt_.anchor_prompt = role_prompt("anchor", plain);
  eval_opt_.positive_prompt = role_prompt("positive", plain);
  for (size_t k = 2; data_.eval_format == DataFormat::Triplets && k < data_.eval_roles.size(); ++k)
    eval_opt_.negative_prompts.push_back(role_prompt(data_.eval_roles[k], plain));
  if (data_.triplet_eval) {  // every text of a labeled-texts triplet is a text, as in training
    eval_opt_.anchor_prompt = eval_opt_.positive_prompt = role_prompt("text", plain);
    eval_opt_.negative_prompts = {eval_opt_.anchor_prompt};
  }
  metric_ = run_eval_metric(cfg, data_.eval_format, score_);
}

void Trainer::add_source(const std::string& name, Config cfg) {
  auto src = std::make_unique<Source>();
  src->name = name;
  src->cfg = std::move(cfg);
  if (name == "data") {
    src->data = &data_.train;
    src->rows = data_.train_rows;
  } else {
    src->own = read_train_file(src->cfg);
    src->data = &*src->own;
    src->rows = src->own->all_rows();
  }
  src->loss = make_loss(src->cfg);
  src->cached = dynamic_cast<GradCache*>(src->loss.get());
  // What the data decides is refused before the token store is built.
  check_loss_takes_data(src->cfg, *src->loss, *src->data);
  sources_.push_back(std::move(src));
}

// The frozen model of the losses that need one (gist's guide, mse's teacher), loaded once:
// every dataset whose loss needs it names the same one.
void Trainer::setup_guide() {
  const Source* first = nullptr;
  std::string key;
  for (const auto& src : sources_) {
    if (!src->loss->needs_guide()) continue;
    const std::string k = frozen_model_key(src->cfg.get_string("loss.name"));
    if (!first) {
      first = src.get();
      key = k;
    } else if (k != key || src->cfg.get_string(k) != first->cfg.get_string(key)) {
      src->cfg.fail(k, str_cat("differs from ", first->name == "data" ? "" : "datasets." + first->name + ": ", key,
                               " ('", first->cfg.get_string(key), "'): a run loads one frozen model for its losses"));
    }
  }
  if (!first) return;
  const Config& cfg = first->cfg;
  guide_.emplace(guide_from_config(cfg, key, embedder_->tokenizer(), max_len_));
  guide_->model.to(device_);
  if (key == "loss.teacher" && guide_->model.dim() != model_.dim())
    cfg.fail(key, str_cat("the teacher embeds in ", guide_->model.dim(), " dimensions and the model in ",
                          model_.dim(), "; mse regresses one onto the other"));
  print0(key.substr(5), ": ", cfg.get_string(key), " (", guide_->model.architecture(), ", dim ", guide_->model.dim(),
         guide_->tokenizer ? str_cat(", its own tokenizer, ", guide_->model.max_seq_length(), " tokens)")
                           : std::string(", the model's token ids)"));
}

void Trainer::setup_device() {
  const std::string want = cfg_.get_string("training.device");
  const int gpus = at::detail::getCUDAHooks().getNumGPUs();
  if (want == "cuda" && gpus == 0) cfg_.fail("training.device", "no CUDA device is available");
  if (want == "cuda" || (want == "auto" && gpus > 0))
    device_ = at::Device(at::kCUDA, static_cast<at::DeviceIndex>(d_.local_rank % gpus));
  const std::string prec = cfg_.get_string("training.precision");
  if (prec == "fp16" && device_.is_cpu())
    cfg_.fail("training.precision", "fp16 needs a CUDA device; this run is on the CPU (use bf16 or fp32)");
  if (prec == "bf16" && device_.is_cpu() && !cpu_has_bf16())
    LOG(WARNING) << "training.precision bf16 on a CPU without AVX512-BF16 or AMX: oneDNN emulates the "
                    "bf16 products, slower than fp32 ones";
  autocast_ = prec != "fp32";
  compute_dtype_ = prec == "bf16" ? at::kBFloat16 : prec == "fp16" ? at::kHalf : at::kFloat;
  const std::string backend = cfg_.get_string("distributed.backend");
  if (backend == "nccl" && device_.is_cpu())
    cfg_.fail("distributed.backend", "nccl needs CUDA tensors; this run is on the CPU");
  if (backend == "mpi" && device_.is_cuda() && d_.world_size > 1)
    cfg_.fail("distributed.backend", "mpi carries CPU tensors; use nccl (or auto) on CUDA");
  if (device_.is_cuda()) {
    model_.to(device_);
    if (d_.world_size > 1) dist_enable_nccl(d_, device_.index());
  }
  LOG(INFO) << "device " << device_ << ", precision " << prec << ", " << d_.threads << " threads, "
            << (!device_.is_cpu() ? ""
                : autocast_ ? "encoder products in bf16 on ATen (CPU autocast), "
                            : str_cat("encoder projections on ", linear_backend(), ", "))
            << d_.blas;
}

// Every rank starts from rank 0's parameters, whatever produced them.
void Trainer::broadcast_parameters() {
  if (d_.world_size == 1) return;
  at::NoGradGuard no_grad;
  for (auto& p : model_.parameters()) {
    at::Tensor t = p.tensor.detach();
    d_.comm_for(t).broadcast(t, 0);
  }
}

int64_t Trainer::count_total_steps() const {
  if (max_steps_ > 0) return max_steps_;
  int64_t total = 0;
  for (int64_t e = 0; e < epochs_; ++e) total += sampler_->plan_epoch(e).num_batches();
  return total;
}

bool Trainer::finished() const {
  return (max_steps_ > 0 ? st_.step >= max_steps_ : st_.epoch >= epochs_) || stopped_early();
}

bool Trainer::stopped_early() const { return patience_ > 0 && st_.evals_without_improvement >= patience_; }

at::Tensor Trainer::embed_ids(SentenceModel& model, const Tokenizer& tokenizer,
                              const std::vector<std::vector<int32_t>>& ids, const std::vector<int64_t>& prior,
                              std::vector<at::Tensor>* prior_embeddings) {
  AutocastScope ac(autocast_, compute_dtype_, device_.type());
  const int32_t pad = static_cast<int32_t>(model.pad_token_id());
  if (ids.empty()) {
    // A rank without rows in this batch still takes part in the collectives of the loss and
    // its backward: a zero-row slice of a real forward keeps it in the autograd graph.
    const std::vector<std::vector<int32_t>> one{tokenizer.encode("", 2)};
    TokenBatch tb = pad_batch(one, pad);
    const size_t first = prior_embeddings ? prior_embeddings->size() : 0;
    at::Tensor last = model.forward(tb.input_ids, tb.attention_mask, prior, prior_embeddings).narrow(0, 0, 0);
    for (size_t i = first; prior_embeddings && i < prior_embeddings->size(); ++i)
      (*prior_embeddings)[i] = (*prior_embeddings)[i].narrow(0, 0, 0);
    return last;
  }
  TokenBatch tb = pad_batch(ids, pad);
  return model.forward(tb.input_ids, tb.attention_mask, prior, prior_embeddings);
}

// The guide's embeddings of one role of this rank's rows: of the model's token ids, or of
// the texts (with the role's training prompt) as the guide's own tokenizer reads them; in
// GradCache's mini-batches, so that its activations stay within theirs.
at::Tensor Trainer::embed_guide(const Source& src, size_t role, const std::vector<int64_t>& rows,
                                const std::vector<std::vector<int32_t>>& ids) {
  at::NoGradGuard frozen;
  std::vector<std::vector<int32_t>> own;
  if (guide_->tokenizer) {
    const auto it = src.prompts.find(src.data->roles[role]);
    const std::string prompt = it == src.prompts.end() ? "" : it->second;
    std::vector<std::string> texts;
    for (int64_t r : rows) texts.push_back(prompt + src.data->columns[role][static_cast<size_t>(r)]);
    own = guide_->tokenizer->encode_batch(texts, guide_->model.max_seq_length());
  }
  const auto& all = guide_->tokenizer ? own : ids;
  const Tokenizer& tok = guide_->tokenizer ? *guide_->tokenizer : embedder_->tokenizer();
  const size_t n = all.size();
  const GradCache* cached = src.cached;
  const size_t mb = cached && cached->mini_batch_size() > 0 ? static_cast<size_t>(cached->mini_batch_size()) : n;
  if (n <= mb) return embed_ids(guide_->model, tok, all);
  std::vector<at::Tensor> parts;
  for (size_t b = 0; b < n; b += mb)
    parts.push_back(embed_ids(guide_->model, tok, {all.begin() + b, all.begin() + std::min(n, b + mb)}));
  return at::cat(parts, 0);
}

void Trainer::train_step(Source& src, const std::vector<int64_t>& batch) {
  Loss& loss_fn = *src.loss;
  const TextDataset& data = *src.data;
  const int64_t rows = static_cast<int64_t>(batch.size());
  const uint64_t seed = static_cast<uint64_t>(cfg_.get_int("training.seed"));
  reducer_->zero_grad();
  double share = 0;
  const double scale = scaler_.scale();
  // Micro-batches of global_batch_size / accumulation rows, as the Hugging Face trainer feeds
  // its accumulation steps: a shorter batch (an epoch's last, or a no_duplicates tail) has
  // fewer of them, the last one partial, so none is ever empty (MNRL cannot score an empty
  // one). Each micro-batch's loss counts by its share of the batch's rows: 1 / accumulation
  // for a full batch, as the trainer divides it, and for a shorter one still the mean over its
  // rows, so a loss that is a mean over rows gets one step over the whole batch at any size.
  const int64_t micro_rows = global_batch_ / accum_;
  for (int64_t mb = 0; mb < rows; mb += micro_rows) {
    const int64_t me = std::min(rows, mb + micro_rows);
    const int64_t k = mb / micro_rows;
    const double weight = static_cast<double>(me - mb) / static_cast<double>(rows);
    auto [lb, le] = GlobalBatchSampler::rank_slice(me - mb, d_.rank, d_.world_size);
    std::vector<int64_t> local(batch.begin() + mb + lb, batch.begin() + mb + le);
    // Dropout streams depend only on (seed, step, micro-step, rank): a resumed run draws
    // exactly what the uninterrupted run would have.
    at::manual_seed(derive_seed(derive_seed(seed ^ 0xD50F7u, static_cast<uint64_t>(st_.step)),
                                static_cast<uint64_t>(k * 65536 + d_.rank)));
    // The loss's own draws (Matryoshka's dims) must agree across ranks: no rank in the seed.
    loss_fn.begin_step(derive_seed(derive_seed(seed ^ 0x4D4154u, static_cast<uint64_t>(st_.step)),
                                  static_cast<uint64_t>(k)));
    failpoint("train.forward");
    std::vector<std::vector<std::vector<int32_t>>> ids;
    for (const auto& role : data.roles) ids.push_back(src.store->rows(role, local));
    at::Tensor labels;
    if (!data.scores.empty()) {
      const int64_t w = data.score_width;
      std::vector<float> s;
      for (int64_t r : local) {
        const auto row = data.scores.begin() + r * w;
        s.insert(s.end(), row, row + w);
      }
      labels = at::tensor(s, at::kFloat);
      if (w > 1) labels = labels.view({-1, w});
      if (device_.is_cuda()) labels = labels.to(device_);
    }
    const double grad_scale = scale * weight;
    const size_t guide_roles = static_cast<size_t>(loss_fn.guide_columns(static_cast<int>(ids.size())));
    if (src.cached) {
      EmbedFn fn = [&](int role, int64_t b, int64_t e) {
        std::vector<std::vector<int32_t>> part(ids[role].begin() + b, ids[role].begin() + e);
        return embed_ids(model_, embedder_->tokenizer(), part);
      };
      std::vector<at::Tensor> guide;
      for (size_t k = 0; guide_ && k < guide_roles; ++k) guide.push_back(embed_guide(src, k, local, ids[k]));
      share += src.cached->step(d_, fn, static_cast<int>(ids.size()), static_cast<int64_t>(local.size()), labels,
                                grad_scale, guide) *
               weight;
    } else {
      LossBatch lbatch;
      // AdaptiveLayerLoss: the drawn prior hidden states come out of the same forward.
      const std::vector<int64_t> prior = loss_fn.prior_layers(model_.num_layers());
      if (!prior.empty()) lbatch.layers.resize(static_cast<size_t>(model_.num_layers()));
      for (const auto& role_ids : ids) {
        std::vector<at::Tensor> layers;
        lbatch.columns.push_back(embed_ids(model_, embedder_->tokenizer(), role_ids, prior, &layers));
        for (size_t i = 0; i < layers.size(); ++i) lbatch.layers[static_cast<size_t>(prior[i])].push_back(layers[i]);
      }
      lbatch.labels = labels;
      for (size_t k = 0; guide_ && k < guide_roles; ++k) lbatch.guide.push_back(embed_guide(src, k, local, ids[k]));
      at::Tensor l = loss_fn.forward(d_, lbatch);
      if (failpoint("train.loss")) l = l * std::numeric_limits<float>::quiet_NaN();
      share += l.item<double>() * weight;
      (l * grad_scale).backward();
    }
  }
  if (failpoint("train.grad") && !trainable_tensors_.empty() && trainable_tensors_[0].grad().defined())
    trainable_tensors_[0].mutable_grad().fill_(std::numeric_limits<float>::quiet_NaN());
  const double loss = d_.comm->all_reduce_scalar(share, ReduceOp::Sum);
  reducer_->all_reduce();
  bool skip = false;
  if (scaler_.enabled()) {
    const bool found_inf = scaler_.unscale(d_, trainable_tensors_);
    scaler_.update(found_inf);
    st_.loss_scale = scaler_.scale();
    st_.loss_scale_good_steps = scaler_.growth_tracker();
    if (found_inf) {
      skip = true;
      LOG(WARNING) << "step " << st_.step << ": fp16 gradients overflowed; step skipped";
    }
  }
  const double max_norm = cfg_.get_float("training.max_grad_norm");
  // The clipping coefficient is applied by the optimizer's pass (train/clip.h).
  ClipCoefficient clip;
  if (!skip) clip = max_norm > 0 ? clip_coefficient(trainable_tensors_, max_norm)
                                 : ClipCoefficient{grad_norm(trainable_tensors_), 1.0f};
  const double norm = clip.norm;
  if (!skip && (!std::isfinite(loss) || !std::isfinite(norm))) {
    std::string lines;
    for (size_t i = 0; i < batch.size() && i < 16; ++i)
      lines += (i ? ", " : "") + std::to_string(data.lines[batch[i]]);
    const std::string what = str_cat("step ", st_.step, ": ", std::isfinite(loss) ? "gradient norm" : "loss",
                                     " is ", std::isfinite(loss) ? norm : loss, " (batch of ", rows,
                                     " rows; ", data.source, " lines ", lines,
                                     batch.size() > 16 ? ", ..." : "", ")");
    if (cfg_.get_string("training.on_nan") == "stop")
      DT_FAIL(what, "; stopping (training.on_nan: stop)");
    warn0(what, "; step skipped (training.on_nan: skip)");
    skip = true;
  }
  if (skip) {
    ++st_.skipped_steps;
  } else {
    last_lr_ = plateau_ ? plateau_->lr() : sched_->lr(st_.step);
    opt_->step(last_lr_, clip.coef);
    win_loss_ += loss;
    win_norm_ += norm;
    ++win_steps_;
  }
  win_rows_ += rows;
  st_.samples_seen += rows;
  ++st_.step;
  ++st_.batch_in_epoch;
}

void Trainer::log_train_window() {
  if (win_steps_ == 0) return;
  const double secs = std::chrono::duration<double>(Clock::now() - win_start_).count();
  const double epoch = st_.epoch + static_cast<double>(st_.batch_in_epoch) /
                                       std::max<int64_t>(1, sampler_->batches_in_epoch());
  const json row = {{"step", st_.step},
                    {"epoch", epoch},
                    {"split", "train"},
                    {"loss", win_loss_ / win_steps_},
                    {"learning_rate", last_lr_},
                    {"grad_norm", win_norm_ / win_steps_},
                    {"pairs_per_s", secs > 0 ? win_rows_ / secs : 0.0}};
  log_.write(row);
  LOG(INFO) << row.dump();
  char post[160];
  std::snprintf(post, sizeof post, "loss=%.4f lr=%.2e pairs/s=%.0f", win_loss_ / win_steps_,
                last_lr_, secs > 0 ? win_rows_ / secs : 0.0);
  if (bar_) bar_->set_postfix(post);
  win_loss_ = win_norm_ = 0;
  win_steps_ = win_rows_ = 0;
  win_start_ = Clock::now();
}

// The validation or the test split: by retrieval (and triplet accuracy for triplets) or, for
// scored pairs, by score correlation.
std::map<std::string, double> Trainer::evaluate(Embedder& emb, bool test, const std::string& label) {
  ModelEvalOptions o = eval_opt_;
  if (d_.is_root() && !bar_) o.progress = label;
  if (data_.similarity_eval)
    return evaluate_model_similarity(d_, emb, test ? data_.test_scored : data_.val_scored, o);
  if (data_.triplet_eval) return evaluate_model_triplets(d_, emb, test ? data_.test_triplets : data_.val_triplets, o);
  std::map<std::string, double> m = evaluate_model(d_, emb, test ? data_.test_set : data_.val_set, o);
  const TripletSet& triplets = test ? data_.test_triplets : data_.val_triplets;
  if (!triplets.empty()) m.merge(evaluate_model_triplets(d_, emb, triplets, o));
  return m;
}

void Trainer::eval_and_save(bool eval_due, bool save_due) {
  if (eval_due && data_.has_val()) {
    last_eval_ = evaluate(*embedder_, false, "eval");
    json row = metrics_json(last_eval_);
    row["step"] = st_.step;
    row["epoch"] = st_.epoch + static_cast<double>(st_.batch_in_epoch) /
                                   std::max<int64_t>(1, sampler_->batches_in_epoch());
    row["split"] = "val";
    log_.write(row);
    LOG(INFO) << row.dump();
    const double v = last_eval_.at(metric_);
    if (plateau_) {
      const double before = plateau_->lr();
      if (plateau_->step(v))
        print0("reduce_lr_on_plateau: ", metric_, " has not improved in ", sched_->options().plateau_patience + 1,
               " evaluation(s); learning rate ", before, " -> ", plateau_->lr());
    }
    // Early stopping counts as Hugging Face's EarlyStoppingCallback does, against the best
    // before this evaluation: an evaluation improves when there is none yet or it beats the
    // best by more than the threshold (a smaller gain still becomes the best).
    const bool improved = st_.best_step < 0 || (v > st_.best_metric && v - st_.best_metric > patience_threshold_);
    st_.evals_without_improvement = improved ? 0 : st_.evals_without_improvement + 1;
    if (v > st_.best_metric) {
      st_.best_metric = v;
      st_.best_step = st_.step;
      if (cfg_.get_bool("eval.load_best_model_at_end")) {
        best_state_.clear();
        for (const auto& t : model_.state()) best_state_.push_back({t.name, t.tensor.detach().to(at::kCPU).clone()});
      }
    }
    const std::string msg = str_cat("eval step ", st_.step, ": ", metric_, " ", fmt_metric(v),
                                    st_.best_step < 0 ? std::string(" (no best yet)")
                                                      : str_cat(" (best ", fmt_metric(st_.best_metric),
                                                                " at step ", st_.best_step, ")"));
    if (bar_) bar_->set_postfix(msg);
    if (d_.is_root() && !isatty(fileno(stdout))) print0(msg);
    if (stopped_early())
      print0("early stopping at step ", st_.step, ": ", metric_, " has not improved",
             patience_threshold_ > 0 ? str_cat(" by more than ", patience_threshold_) : std::string(), " in ",
             patience_, " evaluation(s) (eval.early_stopping_patience)");
  }
  if (save_due) save_checkpoint();
}

void Trainer::save_checkpoint() {
  const std::string path = ckpt_dir_ + "/" + checkpoint_name(st_.step);
  if (d_.is_root()) {
    Checkpoint c;
    c.state = st_;
    for (const auto& t : model_.state()) c.model.emplace_back(t.name, t.tensor.detach());
    for (const auto& [name, _] : trainable_) {
      const AdamWState& s = opt_->state(name);
      if (!s.exp_avg.defined()) continue;
      c.optimizer.emplace_back("exp_avg/" + name, s.exp_avg);
      c.optimizer.emplace_back("exp_avg_sq/" + name, s.exp_avg_sq);
      c.optimizer.emplace_back("step/" + name, at::tensor({s.step}, at::kLong));
    }
    c.scheduler = {{"name", cfg_.get_string("training.scheduler")},
                   {"base_lr", std::to_string(cfg_.get_float("training.learning_rate"))},
                   {"total_steps", std::to_string(sched_->total_steps())},
                   {"warmup_steps", std::to_string(sched_->warmup_steps())}};
    if (plateau_) c.scheduler.merge(plateau_->attributes());
    const SamplerState ss = sampler_->state();
    c.sampler = {{"epoch", std::to_string(ss.epoch)},
                 {"position", std::to_string(ss.position)},
                 {"seed", std::to_string(ss.seed)},
                 {"fingerprint", std::to_string(ss.fingerprint)}};
    c.rng = {{"scheme", "per-step"}, {"seed", std::to_string(cfg_.get_int("training.seed"))}};
    c.world_size = d_.world_size;
    c.global_batch_size = global_batch_;
    c.config_yaml = cfg_.to_yaml();
    c.metrics_json = metrics_json(last_eval_).dump();
    // Throws (ending the job on every rank through dist_fatal) when the write fails; older
    // checkpoints are pruned only once the new one is durably published.
    write_checkpoint(path, c);
    prune_checkpoints(ckpt_dir_, cfg_.get_int("checkpoint.keep_last"), st_.best_step);
    LOG(INFO) << "saved " << path;
  }
  d_.comm->barrier();
}

bool Trainer::resume() {
  const std::string mode = cfg_.get_string("checkpoint.resume");
  if (mode == "never") return false;
  std::string path;
  if (mode == "auto") {
    const std::vector<std::string> all = list_checkpoints(ckpt_dir_);
    for (auto it = all.rbegin(); it != all.rend() && path.empty(); ++it) {
      try {
        read_checkpoint_info(*it);
        path = *it;
      } catch (const UserError& e) {
        warn0("skipping checkpoint that cannot be used: ", e.what());
      }
    }
    if (path.empty()) return false;
  } else {
    path = mode;
    if (!Env::Default()->file_exists(path)) cfg_.fail("checkpoint.resume", "'" + path + "' does not exist");
  }
  Checkpoint c = read_checkpoint(path);
  const int64_t gb = global_batch_;
  if (c.global_batch_size != gb)
    cfg_.fail("training.global_batch_size",
              str_cat(path, " was trained at global batch ", c.global_batch_size,
                      "; a run continues only at the same global batch size (it is ", gb, ")"));
  load_model(c);
  for (const auto& [name, _] : trainable_) {
    AdamWState s;
    for (auto& [k, t] : c.optimizer) {
      if (k == "exp_avg/" + name) s.exp_avg = t.to(device_);
      if (k == "exp_avg_sq/" + name) s.exp_avg_sq = t.to(device_);
      if (k == "step/" + name) s.step = t.item<int64_t>();
    }
    if (s.exp_avg.defined()) opt_->set_state(name, s);
  }
  st_ = c.state;
  if (plateau_) plateau_->restore(Plateau::from_attributes(c.scheduler));
  scaler_.load_state(st_.loss_scale, st_.loss_scale_good_steps);
  if (!finished()) {
    SamplerState ss;
    ss.epoch = std::stoll(c.sampler.at("epoch"));
    ss.position = std::stoll(c.sampler.at("position"));
    ss.seed = std::stoull(c.sampler.at("seed"));
    ss.fingerprint = std::stoull(c.sampler.at("fingerprint"));
    sampler_->restore(ss);
  }
  if (!c.metrics_json.empty()) {
    json m = json::parse(c.metrics_json, nullptr, false);
    // An undefined figure (a correlation over constant values: NaN) was written as null.
    if (m.is_object())
      for (auto& [k, v] : m.items()) last_eval_[k] = v.is_number() ? v.get<double>() : std::nan("");
  }
  log_.truncate_after(st_.step);
  if (c.world_size != d_.world_size)
    warn0(path, " was written at world size ", c.world_size, ", resuming at ", d_.world_size,
          ": the batches are the same, dropout draws differ");
  print0("resumed from ", path, " (step ", st_.step, ", epoch ", st_.epoch, ")");
  return true;
}

void Trainer::load_model(const Checkpoint& c) {
  std::vector<NamedTensor> state;
  for (auto& [n, t] : c.model) state.push_back({n, t});
  model_.load_state(state);
}

void Trainer::run() {
  const bool resumed = resume();
  if (!resumed) sampler_->set_epoch(0);
  std::string losses;
  for (const auto& src : sources_)
    losses += sources_.size() == 1 ? src->loss->name()
                                   : str_cat(losses.empty() ? "" : ", ", src->name, ": ", src->loss->name());
  print0("train: world size ", d_.world_size, " x ", d_.threads, " threads on ",
         device_.is_cuda() ? "CUDA" : "CPU", "; model ", model_.architecture(), " dim ",
         model_.dim(), "; ", total_steps_, " steps (", sched_->warmup_steps(), " warmup) of ",
         global_batch_, " pairs; loss ", losses);
  const std::string eval_strategy = cfg_.get_string("eval.strategy");
  const std::string save_strategy = cfg_.get_string("checkpoint.save_strategy");
  const int64_t eval_steps = cfg_.get_int("eval.steps"), save_steps = cfg_.get_int("checkpoint.save_steps");
  const int64_t logging_steps = cfg_.get_int("training.logging_steps");
  bar_ = std::make_unique<Progress>("train", total_steps_, "step");
  bar_->update(st_.step);
  // The base model on the validation split, as step 0 (Hugging Face's eval_on_start): it is a
  // candidate for the best model and the first evaluation early stopping counts.
  if (!resumed && cfg_.get_bool("eval.on_start")) {
    model_.set_training(false);
    eval_and_save(true, false);
  }
  model_.set_training(true);
  int64_t saved_at = -1;
  while (!finished()) {
    std::vector<int64_t> batch;
    int source = 0;
    if (!sampler_->next(&source, &batch)) {
      // Only drop_last can leave an epoch without a batch (no_duplicates on texts most rows
      // share); with max_steps the loop would not end.
      if (st_.batch_in_epoch == 0)
        cfg_.fail("training.drop_last", str_cat("epoch ", st_.epoch, " has no full global batch of ", global_batch_));
      ++st_.epoch;
      st_.batch_in_epoch = 0;
      if (!finished()) sampler_->set_epoch(st_.epoch);
      log_train_window();
      model_.set_training(false);
      eval_and_save(eval_strategy == "epoch", save_strategy == "epoch");
      if (save_strategy == "epoch") saved_at = st_.step;
      model_.set_training(true);
      continue;
    }
    train_step(*sources_[static_cast<size_t>(source)], batch);
    bar_->update(1);
    if (st_.step % logging_steps == 0) log_train_window();
    const bool eval_due = eval_strategy == "steps" && st_.step % eval_steps == 0;
    const bool save_due = save_strategy == "steps" && st_.step % save_steps == 0;
    if (eval_due || save_due) {
      model_.set_training(false);
      eval_and_save(eval_due, save_due);
      if (save_due) saved_at = st_.step;
      model_.set_training(true);
    }
  }
  log_train_window();
  model_.set_training(false);
  if (saved_at != st_.step && save_strategy != "no") save_checkpoint();
  bar_->finish();
  bar_.reset();
  finish();
}

void Trainer::finish() {
  if (cfg_.get_bool("eval.load_best_model_at_end") && st_.best_step >= 0 &&
      st_.best_step != st_.step) {
    if (!best_state_.empty()) {
      model_.load_state(best_state_);
    } else {
      const std::string best = ckpt_dir_ + "/" + checkpoint_name(st_.best_step);
      if (Env::Default()->file_exists(best))
        load_model(read_checkpoint(best));
      else
        warn0("the best model (step ", st_.best_step, ") has no checkpoint left; exporting the last");
    }
    print0("loaded the best model: step ", st_.best_step, ", ", metric_, " ",
           fmt_metric(st_.best_metric));
  }
  const std::string final_dir = out_ + "/final";
  if (d_.is_root()) export_model_dir(model_, final_dir);
  d_.comm->barrier();
  print0("exported ", final_dir);

  if (!cfg_.get_bool("eval.test") || !data_.has_test()) return;
  ReportInput rep;
  rep.metrics = run_metric_names(cfg_, data_.eval_format, data_.binary_labels, score_);
  rep.tuned = evaluate(*embedder_, true, "test (fine-tuned)");
  {
    SentenceModel base = model_from_config(cfg_);
    if (device_.is_cuda()) base.to(device_);
    Embedder base_emb(base, Embedder::tokenizer_for(base));
    rep.base = evaluate(base_emb, true, "test (base)");
  }
  if (cfg_.get_bool("eval.bm25_baseline") && !data_.retrieval_eval)
    warn0("eval.bm25_baseline: BM25 ranks documents for a query; ",
          data_.triplet_eval ? "labeled texts" : data_format_name(data_.eval_format),
          " have none, so the report has no BM25 column");
  if (cfg_.get_bool("eval.bm25_baseline") && data_.retrieval_eval) {
    const IrSet& t = data_.test_set;
    Bm25Index index(t.corpus);
    const IrCutoffs cut = ir_cutoffs_from_k(eval_opt_.ir.k);
    std::vector<std::vector<int64_t>> ranked;
    for (const auto& hits : index.search_many(t.queries, cut.max_k())) {
      ranked.emplace_back();
      for (const auto& h : hits) ranked.back().push_back(h.doc);
    }
    rep.bm25 = ir_metric_map(compute_ir_metrics(ranked, t.relevant, cut), "", score_function_name(score_));
  }
  rep.split_description =
      data_.similarity_eval ? str_cat("test split: ", data_.test_scored.scores.size(), " scored pairs")
      : data_.triplet_eval  ? str_cat("test split: ", data_.test_triplets.triplets(), " triplets of labeled texts")
          : str_cat("test split: ", data_.test_set.queries.size(), " queries over ",
                    data_.test_set.corpus.size(), " documents",
                    data_.test_triplets.empty() ? ""
                        : str_cat(", ", data_.test_triplets.triplets(), " triplets"));
  for (const auto& [name, m] : std::vector<std::pair<std::string, const std::map<std::string, double>*>>{
           {"base", &rep.base}, {"fine-tuned", &rep.tuned}, {"bm25", &rep.bm25}}) {
    if (m->empty()) continue;
    json row = metrics_json(*m);
    row["step"] = st_.step;
    row["epoch"] = st_.epoch;
    row["split"] = "test";
    row["model"] = name;
    log_.write(row);
  }
  const std::string md = report_markdown(rep);
  print0("\n", md);
  if (d_.is_root()) {
    Env::Default()->write_file_atomic(out_ + "/report.md", md).throw_if_error();
    Env::Default()->write_file_atomic(out_ + "/report.json", report_json(rep).dump(2) + "\n").throw_if_error();
  }
}

}  // namespace

void train(Dist& d, const Config& cfg) {
  Trainer t(d, cfg);
  t.run();
}

}  // namespace disttune
