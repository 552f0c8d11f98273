#include "dist/watchdog.h"

#include <glog/logging.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/failpoint.h"

namespace disttune {
namespace {

using Clock = std::chrono::steady_clock;

struct State {
  std::mutex mu;
  std::condition_variable cv;
  std::thread thread;
  bool running = false;
  bool stop = false;
  int rank = 0;
  double timeout_s = 900;
  const char* what = nullptr;  // the collective in flight, if any
  Clock::time_point started;
  uint64_t generation = 0;     // bumps on every scope so a stale wait does not fire
};

State& state() {
  static State s;
  return s;
}

void watchdog_loop() {
  State& s = state();
  std::unique_lock<std::mutex> lk(s.mu);
  while (!s.stop) {
    if (!s.what) {
      s.cv.wait(lk);
      continue;
    }
    const uint64_t gen = s.generation;
    const auto deadline =
        s.started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.timeout_s));
    if (s.cv.wait_until(lk, deadline) == std::cv_status::timeout && s.what &&
        s.generation == gen && !s.stop) {
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "disttune: error: rank %d: %s did not complete within %.0f s "
                    "(distributed.timeout_s): another rank has stalled or died; ending the job\n",
                    s.rank, s.what, s.timeout_s);
      LOG(ERROR) << buf;
      google::FlushLogFiles(google::GLOG_INFO);
      std::fputs(buf, stderr);
      std::fflush(stderr);
      std::fflush(stdout);
      std::_Exit(3);
    }
  }
}

}  // namespace

void watchdog_start(int rank, double timeout_s) {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  s.rank = rank;
  s.timeout_s = timeout_s;
  if (s.running) return;
  s.stop = false;
  s.running = true;
  s.thread = std::thread(watchdog_loop);
}

void watchdog_set_timeout(double timeout_s) {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  s.timeout_s = timeout_s;
  s.cv.notify_all();
}

double watchdog_timeout() {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  return s.timeout_s;
}

void watchdog_stop() {
  State& s = state();
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.running) return;
    s.stop = true;
    s.cv.notify_all();
  }
  s.thread.join();
  std::lock_guard<std::mutex> lk(s.mu);
  s.running = false;
}

CollectiveScope::CollectiveScope(const char* what) {
  failpoint("dist.collective");
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  s.what = what;
  s.started = Clock::now();
  ++s.generation;
  s.cv.notify_all();
}

CollectiveScope::~CollectiveScope() {
  State& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  s.what = nullptr;
  ++s.generation;
  s.cv.notify_all();
}

}  // namespace disttune
