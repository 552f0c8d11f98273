#include "common/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "common/log.h"

namespace disttune {

Progress::Progress(std::string desc, int64_t total, std::string unit)
    : desc_(std::move(desc)), unit_(std::move(unit)), total_(total) {
  enabled_ = is_console_rank();
  tty_ = isatty(fileno(stdout)) != 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::set_mode_for_test(bool tty, double plain_interval_s) {
  tty_ = tty;
  plain_interval_s_ = plain_interval_s;
}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  auto t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                  static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(t / 60),
                  static_cast<long long>(t % 60));
  return buf;
}

std::string Progress::render(int width) const {
  const double el = elapsed_s();
  const double rate = el > 0 ? count_ / el : 0.0;
  char rate_buf[48];
  std::snprintf(rate_buf, sizeof rate_buf, rate >= 100 ? "%.0f %s/s" : "%.2f %s/s", rate,
                unit_.c_str());
  std::string line = desc_;
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(count_) / total_);
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(frac * 100));
    const int bar = std::max(10, std::min(30, width / 4));
    const int filled = static_cast<int>(frac * bar);
    const double eta = rate > 0 ? (total_ - count_) / rate : -1;
    line += str_cat(" ", pct, " |", std::string(filled, '#'), std::string(bar - filled, ' '),
                    "| ", count_, "/", total_, " [", format_duration(el), "<",
                    format_duration(eta), ", ", rate_buf, "]");
  } else {
    line += str_cat(" ", count_, " [", format_duration(el), ", ", rate_buf, "]");
  }
  if (!postfix_.empty()) line += " " + postfix_;
  return line;
}

void Progress::draw(bool final) {
  if (!enabled_) return;
  if (tty_) {
    std::string line = render(100);
    std::fprintf(stdout, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stdout, "%s\n", render(100).c_str());
  }
  std::fflush(stdout);
}

void Progress::update(int64_t n) {
  count_ += n;
  auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if ((tty_ && since >= 0.1) || (!tty_ && since >= plain_interval_s_)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

}  // namespace disttune
