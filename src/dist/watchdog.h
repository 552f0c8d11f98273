// Collective watchdog: a blocked collective (a peer stalled or died without its launcher
// noticing) must end the job instead of hanging it. Each blocking collective runs inside a
// CollectiveScope; a background thread ends the process if a scope outlives the timeout.
// Exiting (rather than aborting through MPI from a second thread) is safe at any MPI thread
// level; the launcher then takes the remaining ranks down.
#pragma once

namespace disttune {

void watchdog_start(int rank, double timeout_s);
void watchdog_set_timeout(double timeout_s);
double watchdog_timeout();
void watchdog_stop();

class CollectiveScope {
 public:
  explicit CollectiveScope(const char* what);
  ~CollectiveScope();
  CollectiveScope(const CollectiveScope&) = delete;
  CollectiveScope& operator=(const CollectiveScope&) = delete;
};

}  // namespace disttune
