// Learning-rate schedules as the Hugging Face trainer builds them (`lr_scheduler_type` and
// `lr_scheduler_kwargs`, LambdaLR semantics): the learning rate of optimizer step s
// (0-based) is base_lr x lambda(s). Every kind but `constant` starts with a linear warmup
// over `warmup` steps, then
//   linear:               decay to 0 at total_steps            (get_linear_schedule_with_warmup)
//   cosine:               num_cycles (0.5) cosine periods      (get_cosine_schedule_with_warmup)
//   cosine_with_restarts: num_cycles (1) half-cosines to 0     (..._with_hard_restarts_...)
//   polynomial:           (1 - progress)^power to lr_end       (get_polynomial_decay_...)
//   constant:             base_lr from step 0, no warmup       (get_constant_schedule)
//   constant_with_warmup: base_lr                              (get_constant_schedule_with_warmup)
//   inverse_sqrt:         1 / sqrt(1 + (s - warmup) / timescale), timescale = warmup or 10000
//   cosine_with_min_lr:   cosine down to min_lr (or min_lr_rate x base_lr)
//   warmup_stable_decay:  base_lr, then a decay over num_decay_steps (get_wsd_schedule)
//   reduce_lr_on_plateau: base_lr, no warmup; changed at evaluations by Plateau (plateau.h)
#pragma once

#include <cstdint>
#include <string>

namespace disttune {

class Config;

enum class ScheduleKind {
  Linear,
  Cosine,
  CosineWithRestarts,
  Polynomial,
  Constant,
  ConstantWithWarmup,
  InverseSqrt,
  CosineWithMinLr,
  WarmupStableDecay,
  ReduceLrOnPlateau
};
// The names of training.scheduler (Hugging Face's SchedulerType values).
ScheduleKind parse_schedule(const std::string& name);

// Hugging Face's lr_scheduler_kwargs for the kinds that take them (training.scheduler_kwargs).
struct ScheduleOptions {
  double num_cycles = -1;  // < 0: the kind's default (1 for cosine_with_restarts, else 0.5)
  double lr_end = 1e-7;    // polynomial
  double power = 1.0;      // polynomial
  double min_lr_rate = 0;  // cosine_with_min_lr (min_lr / base_lr)
  // warmup_stable_decay: num_decay_steps is required; num_stable_steps < 0 means total - warmup
  // - num_decay_steps; warmup_type and decay_type are linear, cosine or 1-sqrt.
  int64_t num_decay_steps = -1, num_stable_steps = -1;
  std::string warmup_type = "linear", decay_type = "cosine";
  double min_lr_ratio = 0;
  // reduce_lr_on_plateau: ReduceLROnPlateau's arguments (mode max by default: plateau.h).
  std::string plateau_mode = "max", plateau_threshold_mode = "rel";
  double plateau_factor = 0.1, plateau_threshold = 1e-4, plateau_min_lr = 0, plateau_eps = 1e-8;
  int64_t plateau_patience = 10, plateau_cooldown = 0;
};

// HF TrainingArguments.get_warmup_steps: warmup_steps when > 0, else
// ceil(warmup_ratio x total_steps).
int64_t warmup_steps_for(int64_t total_steps, int64_t warmup_steps, double warmup_ratio);

class LrSchedule {
 public:
  LrSchedule(ScheduleKind kind, double base_lr, int64_t total_steps, int64_t warmup_steps,
             ScheduleOptions options = {});
  double factor(int64_t step) const;  // lambda(step)
  double lr(int64_t step) const { return base_lr_ * factor(step); }
  ScheduleKind kind() const { return kind_; }
  int64_t total_steps() const { return total_; }
  int64_t warmup_steps() const { return warmup_; }
  const ScheduleOptions& options() const { return opt_; }

 private:
  ScheduleKind kind_;
  double base_lr_;
  int64_t total_, warmup_;
  ScheduleOptions opt_;
};

// From training.scheduler, training.scheduler_kwargs, training.learning_rate,
// training.warmup_steps and training.warmup_ratio; `total_steps` is the number of optimizer
// steps of the run. Throws UserError for a kwarg the kind does not take, a missing required
// one, or a warmup key set for `constant` (which has no warmup).
LrSchedule make_schedule(const Config& cfg, int64_t total_steps);

}  // namespace disttune
