#include "common/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "common/check.h"

namespace disttune {
namespace detail {
bool g_failpoints_armed = false;
}  // namespace detail

namespace {

struct Failpoint {
  std::string name;
  int rank = -1;  // -1: every rank
  long hit = 1;
  std::string action;
  long seen = 0;
};

std::mutex g_mu;
std::vector<Failpoint> g_points;

const char* kVar = "DISTTUNE_FAILPOINTS";

Failpoint parse_entry(const std::string& e) {
  auto bad = [&](const char* what) {
    DT_FAIL(kVar, ": entry '", e, "': ", what,
            " (expected NAME[@RANK][#HIT]=kill|stop|throw|nan)");
  };
  Failpoint p;
  const size_t eq = e.find('=');
  if (eq == std::string::npos) bad("no '='");
  p.action = e.substr(eq + 1);
  if (p.action != "kill" && p.action != "stop" && p.action != "throw" && p.action != "nan")
    bad("unknown action");
  std::string lhs = e.substr(0, eq);
  const size_t hash = lhs.find('#');
  if (hash != std::string::npos) {
    char* end = nullptr;
    p.hit = std::strtol(lhs.c_str() + hash + 1, &end, 10);
    if (*end != '\0' || p.hit < 1) bad("HIT must be a positive integer");
    lhs.resize(hash);
  }
  const size_t at = lhs.find('@');
  if (at != std::string::npos) {
    char* end = nullptr;
    p.rank = static_cast<int>(std::strtol(lhs.c_str() + at + 1, &end, 10));
    if (*end != '\0' || p.rank < 0) bad("RANK must be a rank number");
    lhs.resize(at);
  }
  if (lhs.empty()) bad("empty name");
  p.name = lhs;
  return p;
}

void stamp() {
  const char* path = std::getenv("DISTTUNE_FAILPOINT_STAMP");
  if (!path) return;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (FILE* f = std::fopen(path, "w")) {
    std::fprintf(f, "%.6f\n", now);
    std::fclose(f);
  }
}

}  // namespace

void failpoint_init(int rank) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_points.clear();
  detail::g_failpoints_armed = false;
  const char* spec = std::getenv(kVar);
  if (!spec || !*spec) return;
  std::string s(spec);
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) {
      Failpoint p = parse_entry(s.substr(b, e - b));
      if (p.rank < 0 || p.rank == rank) g_points.push_back(p);
    }
    b = e + 1;
  }
  detail::g_failpoints_armed = !g_points.empty();
}

namespace detail {

bool failpoint_hit(const char* name) {
  std::string action;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    for (Failpoint& p : g_points) {
      if (p.name != name) continue;
      if (++p.seen == p.hit) action = p.action;
    }
  }
  if (action.empty()) return false;
  if (action == "nan") return true;
  stamp();
  std::fprintf(stderr, "disttune: failpoint %s: %s\n", name, action.c_str());
  std::fflush(stderr);
  if (action == "kill") ::raise(SIGKILL);
  if (action == "stop") {
    ::raise(SIGSTOP);
    return false;  // continued by SIGCONT
  }
  DT_FAIL("failpoint ", name, " (", kVar, ")");
}

}  // namespace detail
}  // namespace disttune
