#include "train/plateau.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "common/check.h"

namespace disttune {

Plateau::Plateau(const ScheduleOptions& options, double base_lr) : opt_(options) {
  st_.lr = base_lr;
  const double inf = std::numeric_limits<double>::infinity();
  st_.best = opt_.plateau_mode == "max" ? -inf : inf;
}

bool Plateau::better(double a) const {
  const double best = st_.best, t = opt_.plateau_threshold;
  const bool rel = opt_.plateau_threshold_mode == "rel";
  if (opt_.plateau_mode == "max") return rel ? a > best * (t + 1) : a > best + t;
  return rel ? a < best * (1 - t) : a < best - t;
}

bool Plateau::step(double metric) {
  ++st_.evals;
  if (better(metric)) {
    st_.best = metric;
    st_.bad_evals = 0;
  } else {
    ++st_.bad_evals;
  }
  if (st_.cooldown_left > 0) {
    --st_.cooldown_left;
    st_.bad_evals = 0;
  }
  if (st_.bad_evals <= opt_.plateau_patience) return false;
  st_.cooldown_left = opt_.plateau_cooldown;
  st_.bad_evals = 0;
  const double lower = std::max(st_.lr * opt_.plateau_factor, opt_.plateau_min_lr);
  if (st_.lr - lower <= opt_.plateau_eps) return false;
  st_.lr = lower;
  return true;
}

std::map<std::string, std::string> Plateau::attributes() const {
  auto exact = [](double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  return {{"plateau_lr", exact(st_.lr)},
          {"plateau_best", exact(st_.best)},
          {"plateau_bad_evals", std::to_string(st_.bad_evals)},
          {"plateau_cooldown_left", std::to_string(st_.cooldown_left)},
          {"plateau_evals", std::to_string(st_.evals)}};
}

PlateauState Plateau::from_attributes(const std::map<std::string, std::string>& attrs) {
  auto get = [&](const char* key) -> const std::string& {
    const auto it = attrs.find(key);
    DT_REQUIRE(it != attrs.end(), "checkpoint /scheduler has no ", key,
               " (it was not written by a reduce_lr_on_plateau run)");
    return it->second;
  };
  auto number = [&](const char* key) {
    const std::string& s = get(key);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    DT_REQUIRE(!s.empty() && *end == '\0', "checkpoint /scheduler ", key, ": not a number: '", s, "'");
    return v;
  };
  PlateauState s;
  s.lr = number("plateau_lr");
  s.best = number("plateau_best");
  s.bad_evals = static_cast<int64_t>(number("plateau_bad_evals"));
  s.cooldown_left = static_cast<int64_t>(number("plateau_cooldown_left"));
  s.evals = static_cast<int64_t>(number("plateau_evals"));
  return s;
}

}  // namespace disttune
