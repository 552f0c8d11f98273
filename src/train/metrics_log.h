// OUTPUT/metrics.jsonl: one JSON object per line — training loss every logging_steps and
// every evaluation — appended by rank 0 through the Env, one write per line, so that a crash
// loses at most the line being written. A line that fails to be written whole (disk full)
// is cut off again before the error is thrown, so the file never ends in a torn line that a
// later append would glue to the next row.
#pragma once

#include <nlohmann/json.hpp>

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
  // Throws UserError naming the file and the OS error when the line cannot be written.
  void write(const nlohmann::json& row);
  const std::string& path() const { return path_; }

 private:
  void open();
  void close();
  std::string path_;
  bool enabled_;
  int fd_ = -1;
};

}  // namespace disttune
