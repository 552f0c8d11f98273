// FaultEnv: an Env that injects storage faults into the files whose path contains `match`,
// beneath the Env's own write loops (write_some): disk full after a byte budget (the write
// that crosses it is short, the next one fails with ENOSPC), short writes, fsync failures of
// files or of directories, failing renames. It counts what it injected, so a test can prove
// that the fault it meant to try did fire.
#pragma once

#include <cerrno>
#include <string>

#include "common/env.h"

namespace disttune::test {

class FaultEnv : public Env {
 public:
  std::string match;             // faults apply to paths containing this ("" = every path)
  int64_t enospc_after = -1;     // bytes accepted before ENOSPC; -1 = never
  size_t max_write = 0;          // > 0: each write(2) writes at most this many bytes
  int64_t eio_at_write = 0;      // > 0: that matching write(2) (1-based) fails with EIO, once
  bool fail_file_fsync = false;  // fsync of a matching file: EIO
  bool fail_dir_fsync = false;   // fsync of any directory: EIO
  bool fail_rename = false;      // rename of a matching file: rename_errno
  int rename_errno = EIO;

  int64_t bytes = 0;  // written to matching files
  int64_t writes = 0;  // write(2) calls on matching files
  int injected = 0;   // faults that fired (short writes included)

  ssize_t write_some(int fd, const char* data, size_t n, int64_t offset,
                     const std::string& path) override;
  Status fsync_path(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;

 private:
  bool matches(const std::string& path) const;
};

// Installs an Env as Env::Default() for a scope.
class ScopedEnv {
 public:
  explicit ScopedEnv(Env* env) : prev_(set_default_env(env)) {}
  ~ScopedEnv() { set_default_env(prev_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  Env* prev_;
};

// How many file descriptors this process has open (to catch leaks on error paths).
int open_fd_count();

}  // namespace disttune::test
