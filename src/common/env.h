// Env: the seam between disttune and the filesystem (leveldb's idea). Everything that
// writes a file the user relies on goes through an Env so that tests can inject disk-full,
// short-write and fsync failures and check that nothing that looks complete is left behind.
// That includes the files libhdf5 writes (io/h5_env_driver.h routes HDF5's writes here).
// docs/reliability.md lists the faults tried and what each writer guarantees.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace disttune {

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  virtual Status read_file(const std::string& path, std::string* out);
  // Writes `data` to path.tmp.<pid> and publishes it: readers see either the old file or
  // the complete new one. On failure the temporary is removed and `path` is untouched.
  virtual Status write_file_atomic(const std::string& path, const std::string& data);
  // Durably publishes a complete file written at `tmp_path` as `path`: fsyncs it, renames it
  // over `path`, fsyncs the directory. Until the rename `path` is untouched; if only the
  // directory fsync fails, the new file is in place and complete (its data was synced) but
  // its name may not survive a crash, and the error is returned all the same.
  virtual Status publish(const std::string& tmp_path, const std::string& path);
  // fsync of a file or of a directory (the one entry point for both, so tests can fail it).
  virtual Status fsync_path(const std::string& path);
  virtual Status rename(const std::string& from, const std::string& to);
  virtual Status make_dirs(const std::string& path);
  virtual Status remove_file(const std::string& path);
  virtual bool file_exists(const std::string& path);
  // Writes all of `data` at the file position of `fd`, looping over short writes; `path`
  // names the file in the error.
  virtual Status write_all(int fd, const char* data, size_t n, const std::string& path);
  // The same at byte `offset` of the file (pwrite), the way HDF5 writes.
  virtual Status write_at(int fd, uint64_t offset, const char* data, size_t n,
                          const std::string& path);
  // The one system call under write_all and write_at: write(2) when offset < 0, else
  // pwrite(2). Returns what they return (-1 with errno set). Tests override it to inject
  // disk-full errors and short writes beneath the loops above.
  virtual ssize_t write_some(int fd, const char* data, size_t n, int64_t offset,
                             const std::string& path);

  // A temporary name beside `path`, unique per process.
  static std::string temp_name(const std::string& path);
};

// For tests: replaces the process-wide default Env; returns the previous one.
Env* set_default_env(Env* env);

// Removes the temporaries of `path` that killed processes left beside it: regular files
// named `<name of path>.tmp.<pid>` as temp_name makes them (symlinks are never followed).
// Returns the paths removed.
std::vector<std::string> remove_stale_temporaries_of(const std::string& path);

}  // namespace disttune
