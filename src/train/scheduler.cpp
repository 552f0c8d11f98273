#include "train/scheduler.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "config/config.h"

namespace disttune {

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "constant") return ScheduleKind::Constant;
  DT_FAIL("unknown scheduler '", name, "' (expected linear, cosine or constant)");
}

int64_t warmup_steps_for(int64_t total_steps, int64_t warmup_steps, double warmup_ratio) {
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

LrSchedule::LrSchedule(ScheduleKind kind, double base_lr, int64_t total_steps, int64_t warmup_steps)
    : kind_(kind), base_lr_(base_lr), total_(total_steps), warmup_(warmup_steps) {
  DT_CHECK(total_ >= 0 && warmup_ >= 0, "LrSchedule: negative step counts");
}

double LrSchedule::factor(int64_t step) const {
  const double s = static_cast<double>(step), w = static_cast<double>(warmup_);
  if (step < warmup_) return s / std::max(1.0, w);
  switch (kind_) {
    case ScheduleKind::Constant: return 1.0;
    case ScheduleKind::Linear:
      return std::max(0.0, static_cast<double>(total_ - step) /
                               std::max(1.0, static_cast<double>(total_ - warmup_)));
    case ScheduleKind::Cosine: {
      const double progress = static_cast<double>(step - warmup_) /
                              std::max(1.0, static_cast<double>(total_ - warmup_));
      const double num_cycles = 0.5;
      return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * num_cycles * 2.0 * progress)));
    }
  }
  return 1.0;
}

LrSchedule make_schedule(const Config& cfg, int64_t total_steps) {
  const int64_t warmup = warmup_steps_for(total_steps, cfg.get_int("training.warmup_steps"),
                                          cfg.get_float("training.warmup_ratio"));
  return LrSchedule(parse_schedule(cfg.get_string("training.scheduler")),
                    cfg.get_float("training.learning_rate"), total_steps, warmup);
}

}  // namespace disttune
