// disttune_fuzz: the seeded mutation harness over the fuzz targets (see fuzz.h).
//
//   disttune_fuzz TARGET|all [--runs N] [--seed S] [--corpus DIR] [--max-len L]
//                 [--max-time SEC] [--timeout SEC] [--rss-limit-mb MB] [--artifact-prefix P]
//   disttune_fuzz TARGET --input FILE...     run saved inputs once each (reproduce a crash)
//   disttune_fuzz TARGET --write-seeds DIR   write the seeds (a libFuzzer starting corpus)
//   disttune_fuzz --list
//
// Each target first runs its seeds unchanged, then mutations of corpus entries. Without
// coverage instrumentation the harness steers by outcome instead: an input whose result
// (success, or the masked text of its error) has not been seen before joins the corpus,
// so inputs that get past one check become parents for inputs that reach the next.
//
// Beyond what a target checks itself, the harness turns into failures: an execution that
// raises the process's peak RSS by more than --rss-limit-mb, an allocation over
// 2 GiB (address-space limit; max_allocation_size_mb under AddressSanitizer), an execution
// longer than --timeout seconds, and crashes (signal handlers, or the sanitizer's death
// callback, save the input to <artifact-prefix>crash-<target>-<hash> before the process
// dies). Exit status 0 when every target ran clean.
#include <glog/logging.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "fuzz.h"
#include "mutator.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DT_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DT_FUZZ_ASAN 1
#endif

#ifdef DT_FUZZ_ASAN
#include <sanitizer/common_interface_defs.h>
// Inputs are at most a few hundred KB: a single allocation over 2 GiB can only be sized by
// a value read from the input without a bound. Under ASan the allocator enforces that:
// operator new reports it as out-of-memory, malloc returns null (c10::Error, reported by
// run_guarded). Reports end in abort(), whose handler saves the input; UBSan's halt does
// not call the sanitizer death callback, abort() does reach the handler.
extern "C" const char* __asan_default_options() {
  return "max_allocation_size_mb=2048:allocator_may_return_null=1:abort_on_error=1";
}
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
}
#endif

namespace disttune::fuzz {
namespace {

constexpr size_t kMaxCorpus = 512;

struct Options {
  std::string target;
  uint64_t runs = 10000;
  uint64_t seed = 1;
  std::string corpus_dir;
  size_t max_len = 0;  // 0: the target's default
  double max_time = 0;  // seconds per target; 0: no limit
  double timeout = 20;  // seconds per execution
  int64_t rss_limit_mb = 512;
  std::vector<std::string> inputs;
  std::string write_seeds;
};

// `all` (and --list) leave out the planted bugs of selftest_* and the explore_* targets,
// which find crashes outside disttune's code (docs/reliability.md).
bool in_all(const Target& t) {
  return std::strncmp(t.name, "selftest_", 9) != 0 && std::strncmp(t.name, "explore_", 8) != 0;
}

[[noreturn]] void usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "disttune_fuzz: %s\n\n", error.c_str());
  std::fprintf(stderr,
               "usage: disttune_fuzz TARGET|all [--runs N] [--seed S] [--corpus DIR] [--max-len L]\n"
               "                     [--max-time SEC] [--timeout SEC] [--rss-limit-mb MB]\n"
               "                     [--artifact-prefix P]\n"
               "       disttune_fuzz TARGET --input FILE...\n"
               "       disttune_fuzz TARGET --write-seeds DIR\n"
               "       disttune_fuzz --list\n");
  std::exit(2);
}

uint64_t parse_u64(const std::string& flag, const std::string& v) {
  try {
    size_t p = 0;
    const unsigned long long x = std::stoull(v, &p);
    if (p == v.size() && v[0] != '-') return x;
  } catch (...) {
  }
  usage(flag + ": expected a non-negative integer, got '" + v + "'");
}

double parse_seconds(const std::string& flag, const std::string& v) {
  try {
    size_t p = 0;
    const double x = std::stod(v, &p);
    if (p == v.size() && x >= 0) return x;
  } catch (...) {
  }
  usage(flag + ": expected a number of seconds, got '" + v + "'");
}

Options parse_args(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage(a + " needs a value");
      return args[++i];
    };
    if (a == "--list") {
      for (const auto& t : targets())
        if (in_all(t)) std::printf("%-16s %s\n", t.name, t.what);
      std::exit(0);
    } else if (a == "--runs") {
      o.runs = parse_u64(a, value());
    } else if (a == "--seed") {
      o.seed = parse_u64(a, value());
    } else if (a == "--corpus") {
      o.corpus_dir = value();
    } else if (a == "--max-len") {
      o.max_len = static_cast<size_t>(parse_u64(a, value()));
    } else if (a == "--max-time") {
      o.max_time = parse_seconds(a, value());
    } else if (a == "--timeout") {
      o.timeout = parse_seconds(a, value());
    } else if (a == "--rss-limit-mb") {
      o.rss_limit_mb = static_cast<int64_t>(parse_u64(a, value()));
    } else if (a == "--artifact-prefix") {
      set_artifact_prefix(value());
    } else if (a == "--write-seeds") {
      o.write_seeds = value();
    } else if (a == "--input") {
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) o.inputs.push_back(args[++i]);
      if (o.inputs.empty()) usage("--input needs at least one file");
    } else if (a.rfind("--", 0) == 0) {
      usage("unknown flag " + a);
    } else if (o.target.empty()) {
      o.target = a;
    } else {
      usage("unexpected argument " + a);
    }
  }
  if (o.target.empty()) usage("no target (disttune_fuzz --list shows them)");
  return o;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int64_t peak_rss_kb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// --- crash and hang handling -----------------------------------------------------------

std::atomic<int64_t> g_exec_started_ns{0};
std::atomic<bool> g_stop_watchdog{false};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void on_fatal_signal(int sig) {
  const char* why = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
                    : sig == SIGILL ? "SIGILL" : "SIGABRT";
  save_current_input(why);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_crash_handlers() {
#ifdef DT_FUZZ_ASAN
  // The sanitizers own SIGSEGV and friends and print the report; save the input when they
  // end the process. abort() (a bug found by a target) is still ours.
  __sanitizer_set_death_callback([] { save_current_input("sanitizer report"); });
  const int sigs[] = {SIGABRT};
#else
  const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#endif
  // An alternate stack, so that a stack overflow can still be reported.
  static std::vector<char> alt(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  sigaltstack(&ss, nullptr);
  for (int s : sigs) {
    struct sigaction sa{};
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigaction(s, &sa, nullptr);
  }
}

// Outside ASan: an address-space limit turns an unbounded allocation into std::bad_alloc
// (reported by run_guarded) instead of a swapping machine.
void limit_address_space() {
#ifndef DT_FUZZ_ASAN
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0;
  statm >> pages;
  if (pages <= 0) return;
  // What the process maps now, plus 2 GiB for one execution, plus 2 GiB for thread stacks
  // and malloc arenas that appear later.
  const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) +
                       (rlim_t{4} << 30);
  struct rlimit rl;
  getrlimit(RLIMIT_AS, &rl);
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > limit) {
    rl.rlim_cur = limit;
    setrlimit(RLIMIT_AS, &rl);
  }
#endif
}

void start_watchdog(double timeout_s) {
  std::thread([timeout_s] {
    while (!g_stop_watchdog.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const int64_t started = g_exec_started_ns.load();
      if (started != 0 && (now_ns() - started) * 1e-9 > timeout_s) {
        std::fprintf(stderr, "\n==disttune_fuzz== BUG: one execution ran longer than %.0f s (hang)\n",
                     timeout_s);
        std::fflush(stderr);
        save_current_input("timeout");
        std::_Exit(3);
      }
    }
  }).detach();
}

// --- one target ------------------------------------------------------------------------

struct Summary {
  uint64_t runs = 0;
  double seconds = 0;
  uint64_t ok = 0;
  size_t outcomes = 0;
  size_t corpus = 0;
  int64_t rss_growth_kb = 0;
};

void run_input(const Target& t, const std::string& input, int64_t rss_limit_kb) {
  set_current_input(t.name, reinterpret_cast<const uint8_t*>(input.data()), input.size());
  const int64_t before = peak_rss_kb();
  g_exec_started_ns.store(now_ns());
  t.run(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_exec_started_ns.store(0);
  const int64_t grew = peak_rss_kb() - before;
  if (grew > rss_limit_kb)
    bug(t.name, str_cat("one execution raised the peak RSS by ", grew / 1024, " MB (limit ",
                        rss_limit_kb / 1024, " MB): an allocation sized by the input"));
  set_current_input(t.name, nullptr, 0);
}

std::vector<std::string> load_corpus(const Target& t, const Options& o, size_t max_len) {
  std::vector<std::string> corpus;
  for (auto& s : t.seeds()) corpus.push_back(s.size() > max_len ? s.substr(0, max_len) : s);
  if (!o.corpus_dir.empty()) {
    std::filesystem::path dir = o.corpus_dir;
    if (o.target == "all") dir /= t.name;
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string s = read_all(f.string());
      corpus.push_back(s.size() > max_len ? s.substr(0, max_len) : s);
    }
  }
  return corpus;
}

uint64_t name_hash(const char* s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
  return h;
}

Summary fuzz_target(const Target& t, const Options& o) {
  const size_t max_len = o.max_len ? o.max_len : t.max_len;
  const int64_t rss_limit_kb = o.rss_limit_mb * 1024;
  std::vector<std::string> corpus = load_corpus(t, o, max_len);
  if (corpus.empty()) corpus.emplace_back();
  Mutator mutator(o.seed * 0x9E3779B97F4A7C15ull ^ name_hash(t.name), t.dictionary);
  std::set<std::string> seen;
  Summary s;
  const int64_t rss0 = peak_rss_kb();
  const auto start = std::chrono::steady_clock::now();
  const size_t n_seeds = corpus.size();
  std::string input;
  for (uint64_t i = 0; i < o.runs; ++i) {
    if (i < n_seeds) {
      input = corpus[i];
    } else {
      // Half the time a seed: outcome-novel entries are many, and mostly shallow errors.
      const size_t parent = mutator.below(2) ? mutator.below(n_seeds) : mutator.below(corpus.size());
      input = mutator.mutate(corpus[parent], corpus, max_len);
    }
    run_input(t, input, rss_limit_kb);
    ++s.runs;
    const std::string& outcome = last_outcome();
    if (last_accepted()) ++s.ok;
    if (seen.insert(outcome).second && i >= n_seeds && corpus.size() < kMaxCorpus)
      corpus.push_back(input);
    if (o.max_time > 0 && (i & 63) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.max_time)
      break;
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.outcomes = seen.size();
  s.corpus = corpus.size();
  s.rss_growth_kb = peak_rss_kb() - rss0;
  return s;
}

int main_impl(int argc, char** argv) {
  // Readers log warnings through glog; a fuzz run must not fill log files.
  FLAGS_logtostderr = false;
  FLAGS_minloglevel = google::GLOG_FATAL;
  google::InitGoogleLogging("disttune_fuzz");
  Options o = parse_args(argc, argv);

  std::vector<const Target*> selected;
  if (o.target == "all") {
    for (const auto& t : targets())
      if (in_all(t)) selected.push_back(&t);
  } else if (const Target* t = find_target(o.target)) {
    selected.push_back(t);
  } else {
    usage("unknown target '" + o.target + "' (disttune_fuzz --list shows them)");
  }

  if (!o.write_seeds.empty()) {
    for (const Target* t : selected) {
      const std::filesystem::path dir =
          o.target == "all" ? std::filesystem::path(o.write_seeds) / t->name
                             : std::filesystem::path(o.write_seeds);
      std::filesystem::create_directories(dir);
      int k = 0;
      for (const auto& s : t->seeds()) {
        std::ofstream(dir / ("seed-" + std::to_string(k++)), std::ios::binary) << s;
      }
      std::printf("%s: %d seeds written to %s\n", t->name, k, dir.c_str());
    }
    return 0;
  }

  install_crash_handlers();
  limit_address_space();
  start_watchdog(o.timeout);

  if (!o.inputs.empty()) {
    if (selected.size() != 1) usage("--input needs one target, not 'all'");
    for (const auto& path : o.inputs) {
      const std::string input = read_all(path);
      run_input(*selected[0], input, o.rss_limit_mb * 1024);
      std::printf("%s: %s\n", path.c_str(), last_outcome().c_str());
    }
    return 0;
  }

  std::printf("%-16s %10s %9s %9s %9s %8s %7s %8s  %s\n", "target", "runs", "seconds", "exec/s",
              "accepted", "outcomes", "corpus", "rss+MB", "result");
  std::fflush(stdout);
  uint64_t total_runs = 0;
  double total_s = 0;
  for (const Target* t : selected) {
    const Summary s = fuzz_target(*t, o);
    total_runs += s.runs;
    total_s += s.seconds;
    std::printf("%-16s %10llu %9.1f %9.0f %9llu %8zu %7zu %8lld  ok\n", t->name,
                static_cast<unsigned long long>(s.runs), s.seconds,
                s.seconds > 0 ? s.runs / s.seconds : 0.0, static_cast<unsigned long long>(s.ok),
                s.outcomes, s.corpus, static_cast<long long>(s.rss_growth_kb / 1024));
    std::fflush(stdout);
  }
  std::printf("%zu target(s), %llu executions in %.1f s, no crash, no hang, no sanitizer report\n",
              selected.size(), static_cast<unsigned long long>(total_runs), total_s);
  g_stop_watchdog.store(true);
  return 0;
}

}  // namespace
}  // namespace disttune::fuzz

int main(int argc, char** argv) { return disttune::fuzz::main_impl(argc, argv); }
