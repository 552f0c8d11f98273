// Learning-rate schedules as the Hugging Face trainer builds them (LambdaLR semantics):
// the learning rate of optimizer step s (0-based) is base_lr x lambda(s), with a linear
// warmup over the first `warmup` steps then
//   linear:   decay to 0 at total_steps                (get_linear_schedule_with_warmup)
//   cosine:   half a cosine period to 0 at total_steps (get_cosine_schedule_with_warmup)
//   constant: stay at base_lr                          (get_constant_schedule_with_warmup)
#pragma once

#include <cstdint>
#include <string>

namespace disttune {

class Config;

enum class ScheduleKind { Linear, Cosine, Constant };
ScheduleKind parse_schedule(const std::string& name);  // linear | cosine | constant

// HF TrainingArguments.get_warmup_steps: warmup_steps when > 0, else
// ceil(warmup_ratio x total_steps).
int64_t warmup_steps_for(int64_t total_steps, int64_t warmup_steps, double warmup_ratio);

class LrSchedule {
 public:
  LrSchedule(ScheduleKind kind, double base_lr, int64_t total_steps, int64_t warmup_steps);
  double factor(int64_t step) const;  // lambda(step)
  double lr(int64_t step) const { return base_lr_ * factor(step); }
  ScheduleKind kind() const { return kind_; }
  int64_t total_steps() const { return total_; }
  int64_t warmup_steps() const { return warmup_; }

 private:
  ScheduleKind kind_;
  double base_lr_;
  int64_t total_, warmup_;
};

// From training.scheduler, training.learning_rate, training.warmup_steps and
// training.warmup_ratio; `total_steps` is the number of optimizer steps of the run.
LrSchedule make_schedule(const Config& cfg, int64_t total_steps);

}  // namespace disttune
