// disttune_bench NAME [--key=value ...]: runs one benchmark and prints its JSON on the last
// line of stdout. disttune_bench --list: names and descriptions.
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "bench.h"
#include "common/check.h"
#include "common/log.h"
#include "dist/dist.h"

namespace disttune::bench {
namespace {

struct Entry {
  std::string help;
  BenchFn fn;
};

std::map<std::string, Entry>& registry() {
  static std::map<std::string, Entry> r;
  return r;
}

}  // namespace

BenchRegistration::BenchRegistration(const char* name, const char* help, BenchFn fn) {
  registry()[name] = {help, std::move(fn)};
}

std::string BenchArgs::get(const std::string& key, const std::string& def) const {
  const std::string prefix = "--" + key + "=";
  for (const auto& a : args)
    if (a.compare(0, prefix.size(), prefix) == 0) return a.substr(prefix.size());
  return def;
}

int64_t BenchArgs::get_int(const std::string& key, int64_t def) const {
  const std::string v = get(key, "");
  return v.empty() ? def : std::stoll(v);
}

std::vector<int64_t> BenchArgs::get_int_list(const std::string& key, const std::string& def) const {
  std::vector<int64_t> out;
  std::stringstream in(get(key, def));
  for (std::string item; std::getline(in, item, ',');) {
    DT_REQUIRE(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos, "--", key,
               ": '", item, "' is not a non-negative integer (expected e.g. --", key, "=64,128)");
    out.push_back(std::stoll(item));
  }
  DT_REQUIRE(!out.empty(), "--", key, ": empty list");
  return out;
}

double BenchArgs::get_float(const std::string& key, double def) const {
  const std::string v = get(key, "");
  return v.empty() ? def : std::stod(v);
}

std::string data_dir(const BenchArgs& args) {
  const char* env = std::getenv("DISTTUNE_DATA");
  return args.get("data", env && *env ? env : std::string(DISTTUNE_SOURCE_DIR) + "/../shared/data");
}

std::string blas_core() {
  const std::string core = openblas_core();
  return core.empty() ? "unknown" : core;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double time_best(const std::function<void()>& fn, int repeats, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

namespace {
double proc_status_mib(const char* field) {
  const std::string prefix = std::string(field) + ":";
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size())) / 1024.0;
  return 0;
}
}  // namespace

double peak_rss_mib() { return proc_status_mib("VmHWM"); }

nlohmann::json run_reference(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return nullptr;
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  if (::pclose(p) != 0) return nullptr;
  const auto brace = out.find_last_of('{');
  if (brace == std::string::npos) return nullptr;
  try {
    return nlohmann::json::parse(out.substr(brace));
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}
double rss_mib() { return proc_status_mib("VmRSS"); }

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.close();
  return static_cast<bool>(f);
}

}  // namespace disttune::bench

int main(int argc, char** argv) {
  using namespace disttune;
  Dist& d = dist_init(&argc, &argv);
  log_init(d.rank, "");
  auto& reg = bench::registry();
  if (argc < 2 || std::string(argv[1]) == "--list") {
    for (const auto& [name, e] : reg) print0(name, "\t", e.help);
    dist_free();
    return argc < 2 ? 2 : 0;
  }
  auto it = reg.find(argv[1]);
  if (it == reg.end()) dist_fatal(str_cat("unknown benchmark '", argv[1], "' (see --list)"));
  bench::BenchArgs args{std::vector<std::string>(argv + 2, argv + argc)};
  try {
    nlohmann::json out = it->second.fn(args);
    if (d.is_root()) std::cout << out.dump() << std::endl;
  } catch (const c10::Error& e) {
    dist_fatal(e.what_without_backtrace());
  } catch (const std::exception& e) {
    dist_fatal(e.what());
  }
  dist_free();
  return 0;
}
