// reduce_lr_on_plateau: torch.optim.lr_scheduler.ReduceLROnPlateau as the Hugging Face
// trainer drives it (lr_scheduler_type "reduce_lr_on_plateau"): the learning rate starts at
// training.learning_rate with no warmup and changes only at validation evaluations, each one
// stepping the scheduler with the value of eval.metric (metric_for_best_model).
//
// Per evaluation: an improvement (mode max: above best x (1 + threshold), or best + threshold
// with threshold_mode abs; mode min: below best x (1 - threshold) / best - threshold) makes
// it the best and clears the bad count, else the count grows; during a cooldown the count is
// held at 0; a count above `patience` multiplies the rate by `factor` (not below min_lr, and
// not at all when the change would be eps or less) and starts `cooldown` evaluations.
//
// Deviation: mode defaults to max, since every metric disttune selects by is a score; torch's
// default (min), which Hugging Face leaves in place, would treat the score as a loss.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "train/scheduler.h"

namespace disttune {

struct PlateauState {
  double lr = 0;
  double best = 0;             // +-inf before the first evaluation
  int64_t bad_evals = 0;       // num_bad_epochs
  int64_t cooldown_left = 0;   // cooldown_counter
  int64_t evals = 0;           // evaluations seen (last_epoch + 1)
};

class Plateau {
 public:
  Plateau(const ScheduleOptions& options, double base_lr);
  // One evaluation's metric; true when it reduced the learning rate.
  bool step(double metric);
  double lr() const { return st_.lr; }
  const PlateauState& state() const { return st_; }
  void restore(const PlateauState& s) { st_ = s; }
  // The state as checkpoint attributes (exact decimal round trip) and back; from_attributes
  // throws UserError for a missing or malformed one.
  std::map<std::string, std::string> attributes() const;
  static PlateauState from_attributes(const std::map<std::string, std::string>& attrs);

 private:
  bool better(double metric) const;
  ScheduleOptions opt_;
  PlateauState st_;
};

}  // namespace disttune
