// Progress reporting for long loops, rank 0 only.
// On a terminal: one self-overwriting line "desc  37% |#######     | 370/1000 [00:12<00:20, 30.1 it/s] extra".
// Otherwise (logs, CI, SLURM output): a plain line every `plain_interval_s` seconds and at
// the end, so batch logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace disttune {

class Progress {
 public:
  // total <= 0: unknown total (no percentage or ETA).
  Progress(std::string desc, int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(int64_t n = 1);
  void set_postfix(std::string postfix) { postfix_ = std::move(postfix); }
  void finish();

  int64_t count() const { return count_; }
  double elapsed_s() const;
  // Rendering, exposed for tests.
  static std::string format_duration(double seconds);
  std::string render(int width) const;

  // For tests: force terminal or plain mode regardless of stdout.
  void set_mode_for_test(bool tty, double plain_interval_s);

 private:
  void draw(bool final);

  std::string desc_, unit_, postfix_;
  int64_t total_ = 0, count_ = 0;
  bool enabled_ = false, tty_ = false, finished_ = false;
  double plain_interval_s_ = 10.0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace disttune
