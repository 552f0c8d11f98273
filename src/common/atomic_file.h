// AtomicFile: a file written in pieces through an Env and published under its name only when
// complete (temporary + fsync + rename + directory fsync, Env::publish). Until commit()
// succeeds the name shows the previous file or nothing; a writer destroyed without a
// successful commit removes its temporary. Used for every streamed output that is not HDF5
// (safetensors, mined triplets, JSON files through Env::write_file_atomic).
#pragma once

#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace disttune {

class AtomicFile {
 public:
  // Creates path.tmp.<pid>; a failure is kept in status() and returned by commit().
  explicit AtomicFile(std::string path, Env* env = nullptr);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Buffered. After the first failure appends do nothing and commit() returns that failure,
  // so callers may append freely and check once.
  void append(std::string_view data);
  const Status& status() const { return status_; }
  // Writes what is buffered, closes and publishes. Errors name the file and the OS error.
  Status commit();
  const std::string& path() const { return path_; }

 private:
  void write_through(const char* data, size_t n);
  void discard();

  Env* env_;
  std::string path_, tmp_;
  int fd_ = -1;
  std::string buf_;
  Status status_;
  bool finished_ = false;  // commit() ran (whatever its outcome)
};

}  // namespace disttune
