// Logging and console output.
//  - Every rank logs through glog (LOG(INFO) ...) to its own file, rank-<r>.INFO etc.
//  - Console output for the user goes through print0(): rank 0 only, stdout, flushed.
//  - Warnings a user must see go through warn0() (rank 0, stderr) and are also logged.
#pragma once

#include <string>

#include "common/check.h"

namespace disttune {

// Sets up glog for this process. Safe to call again: a later call (once the output
// directory is known) moves the log files there. log_dir empty: glog's default directory
// ($GLOG_log_dir, else the system temp dir).
void log_init(int rank, const std::string& log_dir);
void log_flush();

// The rank whose output reaches the console; set by dist_init.
void set_console_rank(int rank);
bool is_console_rank();

void print0_str(const std::string& s);  // appends a newline
void warn0_str(const std::string& s);   // "warning: " + s on stderr

template <typename... Args>
void print0(const Args&... args) {
  if (is_console_rank()) print0_str(str_cat(args...));
}
template <typename... Args>
void warn0(const Args&... args) {
  warn0_str(str_cat(args...));
}

}  // namespace disttune
