// OUTPUT/metrics.jsonl: one JSON object per line — training loss every logging_steps and
// every evaluation — written by rank 0, flushed per line so that a crash loses at most the
// line being written.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

namespace disttune {

class MetricsLog {
 public:
  // `enabled` false (ranks other than 0): every call is a no-op.
  MetricsLog(std::string path, bool enabled);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Drops lines logged after `step` (a resumed run repeats them), atomically.
  void truncate_after(int64_t step);
  void write(const nlohmann::json& row);
  const std::string& path() const { return path_; }

 private:
  void open();
  std::string path_;
  bool enabled_;
  std::FILE* f_ = nullptr;
};

}  // namespace disttune
