// Training losses with sentence-transformers semantics, distributed over ranks.
//
// Normalisation rule (docs/training.md): the global loss is the mean over the global batch.
// Each rank's forward() returns its share, so that the sum of the shares over ranks is the
// global loss; backward through the differentiable all-gather delivers to each rank the
// exact gradient of the global loss w.r.t. its own rows, and parameter gradients are then
// summed over ranks (GradReducer). This stays exact when the batch does not split evenly.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace disttune {

struct Dist;
class Config;

struct LossBatch {                  // this rank's rows
  std::vector<at::Tensor> columns;  // per role: [b, dim] embeddings (anchor, positive,
                                    // negatives...) or (sentence1, sentence2)
  at::Tensor labels;                // scored pairs / contrastive: [b] float (undefined otherwise)
  std::vector<at::Tensor> guide;    // gist: the guide model's [b, guide dim] embeddings of
                                    // the same texts, per role (empty otherwise)
  // AdaptiveLayerLoss: per hidden state before the last (0 the embeddings' output, i layer
  // i's), the columns embedded from it; those prior_layers() does not name stay empty.
  std::vector<std::vector<at::Tensor>> layers = {};
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;
  // This rank's share of the global loss (summing over ranks gives the global mean loss);
  // differentiable w.r.t. batch.columns. Every rank must call it (it may all-gather).
  virtual at::Tensor forward(Dist& d, const LossBatch& batch) = 0;
  // Roles (columns) the loss takes: exactly `min_columns()` .. `max_columns()`
  // (max -1 = any number); and whether it reads batch.labels.
  virtual int min_columns() const = 0;
  virtual int max_columns() const = 0;
  virtual bool needs_labels() const { return false; }
  // Whether its labels are classes (labeled texts: the batch triplet losses) rather than
  // scores (scored pairs, the teacher's scores of a tuple).
  virtual bool takes_class_labels() const { return false; }
  // Whether labels of `width` numbers per row (batch.labels [b] when 1, else [b, width]) fit
  // `columns` text columns.
  virtual bool takes_label_width(int width, int /*columns*/) const { return width == 1; }
  // Whether it reads batch.guide (the trainer then runs the frozen model of
  // frozen_model_key(): gist's guide, mse's teacher), and of how many of `columns` columns.
  virtual bool needs_guide() const { return false; }
  virtual int guide_columns(int columns) const { return columns; }
  // How many float32 matrices of [this rank's rows, global rows] forward and backward hold at
  // once on `roles` roles (scores, probabilities, gradients): GradCache's memory estimate, an
  // upper bound. 3 per role bounds MNRL's (4.2 at 2 roles, 8.2 at 3; 5.2 and 8.5 symmetric,
  // measured with PyTorch at 4096 rows).
  virtual double loss_matrices(int roles) const { return 3.0 * roles; }
  // Whether batch.guide holds the targets of the model's embeddings (mse's teacher), which
  // MatryoshkaLoss truncates with them, rather than another model's view (gist's guide).
  virtual bool guide_is_target() const { return false; }
  // Called by the trainer before each micro-step's loss with a seed that every rank shares
  // and a resumed run repeats, for the loss's random choices (Matryoshka's n_dims_per_step).
  virtual void begin_step(uint64_t /*seed*/) {}
  // The hidden states before the last, of a model of `num_layers` layers, whose embeddings
  // forward() reads from batch.layers this step (ascending; after begin_step).
  virtual std::vector<int64_t> prior_layers(int64_t /*num_layers*/) const { return {}; }
};

// A loss around another (Matryoshka, AdaptiveLayer, GradCache): it takes what the inner loss
// takes, and passes the step's seed on unless it draws from it itself.
class WrappedLoss : public Loss {
 public:
  explicit WrappedLoss(std::unique_ptr<Loss> inner);
  int min_columns() const override { return inner_->min_columns(); }
  int max_columns() const override { return inner_->max_columns(); }
  bool needs_labels() const override { return inner_->needs_labels(); }
  bool takes_class_labels() const override { return inner_->takes_class_labels(); }
  bool takes_label_width(int width, int columns) const override { return inner_->takes_label_width(width, columns); }
  bool needs_guide() const override { return inner_->needs_guide(); }
  int guide_columns(int columns) const override { return inner_->guide_columns(columns); }
  bool guide_is_target() const override { return inner_->guide_is_target(); }
  double loss_matrices(int roles) const override { return inner_->loss_matrices(roles); }
  void begin_step(uint64_t seed) override { inner_->begin_step(seed); }
  std::vector<int64_t> prior_layers(int64_t num_layers) const override { return inner_->prior_layers(num_layers); }
  const Loss& inner() const { return *inner_; }

 protected:
  std::unique_ptr<Loss> inner_;
};

// The loss the loss.* keys describe (loss.name, loss.scale, loss.symmetric,
// loss.matryoshka_dims, loss.matryoshka_weights, loss.margin, loss.distance, and gist's
// loss.temperature, loss.margin_strategy, loss.contrast_*; cached_mnrl also reads
// training.mini_batch_size; loss.adaptive_* wrap it in AdaptiveLayerLoss; loss.guide is the
// trainer's). Throws UserError naming the key for a bad
// combination. `cached_mnrl` returns a GradCache (grad_cache.h), with or without
// Matryoshka inside it.
std::unique_ptr<Loss> make_loss(const Config& cfg);

// Whether loss.name `name` is GISTEmbedLoss (gist, cached_gist): it needs loss.guide.
bool is_gist_loss(const std::string& name);
// Whether loss.name `name` is a GradCache loss (cached_mnrl, cached_gist): it reads
// training.mini_batch_size.
bool is_cached_loss(const std::string& name);
// The key naming the frozen model that loss.name `name` reads through batch.guide:
// "loss.guide" (gist, cached_gist), "loss.teacher" (mse), or nullptr.
const char* frozen_model_key(const std::string& name);

// Checks `batch` against what `loss` takes; throws InternalError (the trainer builds
// batches from a validated config).
void check_loss_batch(const Loss& loss, const LossBatch& batch);

// The rows of the global batch (this rank's batch.columns[0] rows summed over ranks; a
// collective), for the losses that are a mean over them; InternalError when there are none.
int64_t global_rows(Dist& d, const Loss& loss, const LossBatch& batch);

// Embeddings as the loss computes them: float32 (bf16/fp16 embeddings are upcast).
at::Tensor loss_dtype(const at::Tensor& embeddings);

}  // namespace disttune
