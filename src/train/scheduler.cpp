#include "train/scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <vector>

#include "common/check.h"
#include "config/config.h"

namespace disttune {
namespace {

const std::map<std::string, ScheduleKind>& schedule_names() {
  static const std::map<std::string, ScheduleKind> names{
      {"linear", ScheduleKind::Linear},
      {"cosine", ScheduleKind::Cosine},
      {"cosine_with_restarts", ScheduleKind::CosineWithRestarts},
      {"polynomial", ScheduleKind::Polynomial},
      {"constant", ScheduleKind::Constant},
      {"constant_with_warmup", ScheduleKind::ConstantWithWarmup},
      {"inverse_sqrt", ScheduleKind::InverseSqrt},
      {"cosine_with_min_lr", ScheduleKind::CosineWithMinLr},
      {"warmup_stable_decay", ScheduleKind::WarmupStableDecay},
      {"reduce_lr_on_plateau", ScheduleKind::ReduceLrOnPlateau}};
  return names;
}

// The lr_scheduler_kwargs each kind takes (Hugging Face passes none to the others).
std::set<std::string> kwargs_of(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Cosine:
    case ScheduleKind::CosineWithRestarts: return {"num_cycles"};
    case ScheduleKind::Polynomial: return {"lr_end", "power"};
    case ScheduleKind::CosineWithMinLr: return {"num_cycles", "min_lr", "min_lr_rate"};
    case ScheduleKind::WarmupStableDecay:
      return {"num_decay_steps", "num_stable_steps", "warmup_type", "decay_type", "min_lr_ratio", "num_cycles"};
    case ScheduleKind::ReduceLrOnPlateau:
      return {"mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps"};
    default: return {};
  }
}

// The shapes of warmup_stable_decay's two ramps, at progress p in [0, 1].
double ramp_up(const std::string& type, double p) {
  if (type == "cosine") return 0.5 * (1.0 - std::cos(M_PI * p));
  if (type == "1-sqrt") return 1.0 - std::sqrt(1.0 - p);
  return p;
}
double ramp_down(const std::string& type, double p, double num_cycles) {
  if (type == "cosine") return 0.5 * (1.0 + std::cos(M_PI * num_cycles * 2.0 * p));
  if (type == "1-sqrt") return 1.0 - std::sqrt(p);
  return 1.0 - p;
}

}  // namespace

ScheduleKind parse_schedule(const std::string& name) {
  const auto it = schedule_names().find(name);
  if (it != schedule_names().end()) return it->second;
  std::string all;
  for (const auto& [n, kind] : schedule_names()) all += (all.empty() ? "" : ", ") + n;
  DT_FAIL("unknown scheduler '", name, "' (expected one of ", all, ")");
}

int64_t warmup_steps_for(int64_t total_steps, int64_t warmup_steps, double warmup_ratio) {
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

LrSchedule::LrSchedule(ScheduleKind kind, double base_lr, int64_t total_steps, int64_t warmup_steps,
                       ScheduleOptions options)
    : kind_(kind), base_lr_(base_lr), total_(total_steps), warmup_(warmup_steps), opt_(std::move(options)) {
  DT_CHECK(total_ >= 0 && warmup_ >= 0, "LrSchedule: negative step counts");
  if (opt_.num_cycles < 0) opt_.num_cycles = kind == ScheduleKind::CosineWithRestarts ? 1.0 : 0.5;
  if (kind == ScheduleKind::Constant || kind == ScheduleKind::ReduceLrOnPlateau) warmup_ = 0;
  if (kind == ScheduleKind::WarmupStableDecay) {
    DT_CHECK(opt_.num_decay_steps >= 0, "LrSchedule: warmup_stable_decay without num_decay_steps");
    if (opt_.num_stable_steps < 0) opt_.num_stable_steps = total_ - warmup_ - opt_.num_decay_steps;
  }
}

double LrSchedule::factor(int64_t step) const {
  const double s = static_cast<double>(step), w = static_cast<double>(warmup_);
  const double cycles = opt_.num_cycles;
  if (kind_ == ScheduleKind::WarmupStableDecay) {
    const double floor = opt_.min_lr_ratio;
    const int64_t decay_begin = warmup_ + opt_.num_stable_steps;
    if (step < warmup_)
      return std::max(0.0, ramp_up(opt_.warmup_type, s / std::max(1.0, w)) * (1.0 - floor) + floor);
    if (step < decay_begin) return 1.0;
    if (step < decay_begin + opt_.num_decay_steps) {
      const double p = static_cast<double>(step - decay_begin) /
                       std::max(1.0, static_cast<double>(opt_.num_decay_steps));
      return std::max(0.0, ramp_down(opt_.decay_type, p, cycles) * (1.0 - floor) + floor);
    }
    return floor;
  }
  if (step < warmup_) return s / std::max(1.0, w);
  const double progress = (s - w) / std::max(1.0, static_cast<double>(total_ - warmup_));
  switch (kind_) {
    case ScheduleKind::Constant:
    case ScheduleKind::ConstantWithWarmup:
    case ScheduleKind::ReduceLrOnPlateau: return 1.0;
    case ScheduleKind::Linear:
      return std::max(0.0, static_cast<double>(total_ - step) /
                               std::max(1.0, static_cast<double>(total_ - warmup_)));
    case ScheduleKind::Cosine: return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * cycles * 2.0 * progress)));
    case ScheduleKind::CosineWithRestarts:
      if (progress >= 1.0) return 0.0;
      return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * std::fmod(cycles * progress, 1.0))));
    case ScheduleKind::Polynomial: {
      if (step > total_) return opt_.lr_end / base_lr_;
      const double remaining = 1.0 - (s - w) / static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
      return ((base_lr_ - opt_.lr_end) * std::pow(remaining, opt_.power) + opt_.lr_end) / base_lr_;
    }
    case ScheduleKind::InverseSqrt: {
      const double timescale = warmup_ > 0 ? w : 10000.0;
      return 1.0 / std::sqrt((s + timescale - w) / timescale);
    }
    case ScheduleKind::CosineWithMinLr: {
      const double f = 0.5 * (1.0 + std::cos(M_PI * cycles * 2.0 * progress));
      return std::max(0.0, f * (1.0 - opt_.min_lr_rate) + opt_.min_lr_rate);
    }
    case ScheduleKind::WarmupStableDecay: break;  // above
  }
  return 1.0;
}

LrSchedule make_schedule(const Config& cfg, int64_t total_steps) {
  const std::string name = cfg.get_string("training.scheduler");
  const ScheduleKind kind = parse_schedule(name);
  const double base_lr = cfg.get_float("training.learning_rate");
  if (kind == ScheduleKind::Constant || kind == ScheduleKind::ReduceLrOnPlateau) {
    // Hugging Face ignores the warmup here; a warmup asked for is refused rather than dropped.
    const bool steps = cfg.is_set("training.warmup_steps") && cfg.get_int("training.warmup_steps") > 0;
    if (steps || (cfg.is_set("training.warmup_ratio") && cfg.get_float("training.warmup_ratio") > 0))
      cfg.fail(steps ? "training.warmup_steps" : "training.warmup_ratio",
               kind == ScheduleKind::Constant
                   ? "training.scheduler: constant has no warmup (Hugging Face's get_constant_schedule); "
                     "use constant_with_warmup"
                   : "training.scheduler: reduce_lr_on_plateau has no warmup (Hugging Face's "
                     "get_reduce_on_plateau_schedule)");
  }

  const char* kwargs_key = "training.scheduler_kwargs";
  const auto& kwargs = cfg.get_string_map(kwargs_key);
  const std::set<std::string> takes = kwargs_of(kind);
  for (const auto& [key, value] : kwargs)
    if (!takes.count(key)) {
      std::string list;
      for (const std::string& k : takes) list += (list.empty() ? "" : ", ") + k;
      cfg.fail(kwargs_key, str_cat("'", key, "' is not an argument of the ", name, " schedule (",
                                   takes.empty() ? "it takes none" : "it takes " + list, ")"));
    }
  auto number = [&](const std::string& key, double lo) {
    const std::string& text = kwargs.at(key);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v) || v < lo)
      cfg.fail(kwargs_key, str_cat(key, ": expected a number >= ", lo, ", got '", text, "'"));
    return v;
  };
  // A whole number of `unit` (steps, evaluations).
  auto whole = [&](const std::string& key, const char* unit) {
    const double v = number(key, 0);
    if (v != std::floor(v))
      cfg.fail(kwargs_key, str_cat(key, ": expected a whole number of ", unit, ", got '", kwargs.at(key), "'"));
    return static_cast<int64_t>(v);
  };
  // One of `values`, named in the message as "a, b or c".
  auto one_of = [&](const std::string& key, const std::vector<std::string>& values) {
    const std::string& v = kwargs.at(key);
    if (std::find(values.begin(), values.end(), v) == values.end()) {
      std::string list;
      for (size_t i = 0; i < values.size(); ++i)
        list += (i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + values[i];
      cfg.fail(kwargs_key, str_cat(key, ": expected ", list, ", got '", v, "'"));
    }
    return v;
  };
  const std::vector<std::string> shapes = {"linear", "cosine", "1-sqrt"};
  ScheduleOptions o;
  if (kwargs.count("num_cycles")) o.num_cycles = number("num_cycles", 0);
  if (kwargs.count("lr_end")) o.lr_end = number("lr_end", 0);
  if (kwargs.count("power")) o.power = number("power", 0);
  if (kind == ScheduleKind::Polynomial && !(base_lr > o.lr_end))
    cfg.fail(kwargs_key, str_cat("lr_end (", o.lr_end, ") must be below training.learning_rate (", base_lr, ")"));
  if (kind == ScheduleKind::CosineWithMinLr) {
    if (kwargs.count("min_lr") == kwargs.count("min_lr_rate"))
      cfg.fail(kwargs.empty() ? "training.scheduler" : kwargs_key,
               "cosine_with_min_lr takes one of min_lr and min_lr_rate (training.scheduler_kwargs)");
    o.min_lr_rate = kwargs.count("min_lr") ? number("min_lr", 0) / base_lr : number("min_lr_rate", 0);
  }
  if (kind == ScheduleKind::WarmupStableDecay) {
    if (!kwargs.count("num_decay_steps"))
      cfg.fail(kwargs.empty() ? "training.scheduler" : kwargs_key,
               "warmup_stable_decay needs num_decay_steps (training.scheduler_kwargs)");
    o.num_decay_steps = whole("num_decay_steps", "steps");
    if (kwargs.count("num_stable_steps")) o.num_stable_steps = whole("num_stable_steps", "steps");
    if (kwargs.count("warmup_type")) o.warmup_type = one_of("warmup_type", shapes);
    if (kwargs.count("decay_type")) o.decay_type = one_of("decay_type", shapes);
    if (kwargs.count("min_lr_ratio")) o.min_lr_ratio = number("min_lr_ratio", 0);
  }
  if (kind == ScheduleKind::ReduceLrOnPlateau) {
    // As Hugging Face refuses it without an evaluation strategy (the trainer also refuses a
    // run without a validation split).
    if (cfg.get_string("eval.strategy") == "no")
      cfg.fail("training.scheduler", "reduce_lr_on_plateau changes the rate at validation evaluations, by "
                                     "eval.metric; eval.strategy is no");
    if (kwargs.count("mode")) o.plateau_mode = one_of("mode", {"max", "min"});
    if (kwargs.count("threshold_mode")) o.plateau_threshold_mode = one_of("threshold_mode", {"rel", "abs"});
    if (kwargs.count("factor")) o.plateau_factor = number("factor", 0);
    if (o.plateau_factor >= 1.0) cfg.fail(kwargs_key, "factor: must be below 1 (the rate is multiplied by it)");
    if (kwargs.count("patience")) o.plateau_patience = whole("patience", "evaluations");
    if (kwargs.count("cooldown")) o.plateau_cooldown = whole("cooldown", "evaluations");
    if (kwargs.count("threshold")) o.plateau_threshold = number("threshold", 0);
    if (kwargs.count("min_lr")) o.plateau_min_lr = number("min_lr", 0);
    if (kwargs.count("eps")) o.plateau_eps = number("eps", 0);
  }
  const int64_t warmup = warmup_steps_for(total_steps, cfg.get_int("training.warmup_steps"),
                                          cfg.get_float("training.warmup_ratio"));
  return LrSchedule(kind, base_lr, total_steps, warmup, o);
}

}  // namespace disttune
