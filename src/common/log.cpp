#include "common/log.h"

#include <glog/logging.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace disttune {
namespace {
int g_console_rank = 0;
bool g_glog_started = false;
}  // namespace

void log_init(int rank, const std::string& log_dir) {
  if (!g_glog_started) {
    // Console output is ours (print0); glog only mirrors errors to stderr.
    FLAGS_logtostderr = false;
    FLAGS_alsologtostderr = false;
    FLAGS_stderrthreshold = google::GLOG_FATAL;
    FLAGS_colorlogtostderr = false;
    if (!google::IsGoogleLoggingInitialized()) google::InitGoogleLogging("disttune");
    g_glog_started = true;
  }
  std::string dir = log_dir;
  if (dir.empty()) {
    const char* env = std::getenv("GLOG_log_dir");
    dir = env && *env ? env : std::filesystem::temp_directory_path().string();
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // glog appends "<date>-<time>.<pid>"; each severity needs its own base name.
  const std::string base =
      (std::filesystem::path(dir) / ("disttune.rank-" + std::to_string(rank) + ".")).string();
  for (int sev = google::GLOG_INFO; sev < google::NUM_SEVERITIES; ++sev)
    google::SetLogDestination(sev, (base + google::GetLogSeverityName(sev) + ".").c_str());
  // No "disttune.INFO" convenience symlinks: with many ranks they would all race for one name.
  google::SetLogSymlink(google::GLOG_INFO, "");
  google::SetLogSymlink(google::GLOG_WARNING, "");
  google::SetLogSymlink(google::GLOG_ERROR, "");
  google::SetLogSymlink(google::GLOG_FATAL, "");
  LOG(INFO) << "rank " << rank << " logging to " << base << "*";
}

void log_flush() { google::FlushLogFiles(google::GLOG_INFO); }

void set_console_rank(int rank) { g_console_rank = rank; }
bool is_console_rank() { return g_console_rank == 0; }

void print0_str(const std::string& s) {
  if (!is_console_rank()) return;
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void warn0_str(const std::string& s) {
  if (g_glog_started) LOG(WARNING) << s;
  if (!is_console_rank()) return;
  std::fprintf(stderr, "warning: %s\n", s.c_str());
  std::fflush(stderr);
}

}  // namespace disttune
