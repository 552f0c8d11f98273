// Env: the seam between disttune and the filesystem (leveldb's idea). Everything that
// writes a file the user relies on goes through an Env so that tests can inject disk-full,
// short-write and fsync failures and check that nothing that looks complete is left behind.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace disttune {

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  virtual Status read_file(const std::string& path, std::string* out);
  // Writes `data` to path.tmp.<pid>, fsyncs it, renames it over `path` and fsyncs the
  // directory: readers see either the old file or the complete new one.
  virtual Status write_file_atomic(const std::string& path, const std::string& data);
  // Durably publishes a file already written at `tmp_path` (by HDF5, say) as `path`.
  virtual Status publish(const std::string& tmp_path, const std::string& path);
  virtual Status fsync_path(const std::string& path);
  virtual Status rename(const std::string& from, const std::string& to);
  virtual Status make_dirs(const std::string& path);
  virtual Status remove_file(const std::string& path);
  virtual bool file_exists(const std::string& path);
  // Low-level write used by write_file_atomic; the injection point for short writes.
  virtual Status write_all(int fd, const char* data, size_t n, const std::string& path);

  // A temporary name beside `path`, unique per process.
  static std::string temp_name(const std::string& path);
};

// For tests: replaces the process-wide default Env; returns the previous one.
Env* set_default_env(Env* env);

}  // namespace disttune
