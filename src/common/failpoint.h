// Failpoints: named places where a test makes one rank die, stall, throw or poison a value,
// so that the fault tests hit "during a collective" or "during a checkpoint write" exactly
// instead of hoping a timed signal lands there (the idea of FreeBSD's fail(9) and fail-rs).
//
// They are armed only through the environment, read once by failpoint_init:
//   DISTTUNE_FAILPOINTS="train.forward@1#5=kill,dist.collective@2#40=stop,train.loss#3=nan"
// Each entry is NAME[@RANK][#HIT]=ACTION: on rank RANK (every rank when absent), the HIT-th
// time (1-based, default 1) execution reaches NAME, perform ACTION:
//   kill   SIGKILL this process        stop  SIGSTOP this process (a stalled rank)
//   throw  throw a UserError naming the failpoint
//   nan    failpoint() returns true; the caller poisons its value with NaN
// DISTTUNE_FAILPOINT_STAMP=FILE records the wall-clock time of the kill/stop/throw there, so
// a test can measure how long the job took to end after the fault.
// Unarmed, a failpoint costs one relaxed load.
#pragma once

namespace disttune {

void failpoint_init(int rank);

namespace detail {
extern bool g_failpoints_armed;
bool failpoint_hit(const char* name);
}  // namespace detail

// Returns true when the armed action is `nan` (the caller must then poison its value).
inline bool failpoint(const char* name) {
  return detail::g_failpoints_armed && detail::failpoint_hit(name);
}

}  // namespace disttune
