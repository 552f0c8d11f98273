// Fuzz targets: each feeds bytes to the real parsing code disttune runs on user files
// (safetensors, tokenizer files, YAML configs, data files, BEIR sets, checkpoints).
//
// The rule every target enforces: any input ends in success or a clean disttune error
// (UserError, or an error Status). Anything else is a bug and aborts the process, as a crash
// does: InternalError, a foreign exception escaping (std::bad_alloc from a size read out of
// the file, nlohmann or yaml-cpp exceptions, c10::Error), a sanitizer report, a hang. The
// seeded harness (driver.cpp) and libFuzzer (libfuzzer_entry.cpp) both call the targets
// through this one signature, which is LLVMFuzzerTestOneInput's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/check.h"

namespace disttune::fuzz {

// LLVMFuzzerTestOneInput-compatible: returns 0 on success or a clean error; aborts on a bug.
using TargetFn = int (*)(const uint8_t* data, size_t size);

struct Target {
  const char* name;
  const char* what;  // one line for --list
  TargetFn run;
  std::vector<std::string> (*seeds)();  // small valid (and a few invalid) inputs
  std::vector<std::string> dictionary;  // tokens the mutator splices in (JSON keys, ...)
  size_t max_len;                       // default --max-len
};

// Targets register themselves at static initialisation (see DT_FUZZ_TARGET).
struct Registrar {
  explicit Registrar(Target t);
};
const std::vector<Target>& targets();
const Target* find_target(const std::string& name);

// Runs `body` on the input; UserError is a clean outcome, recorded for the driver; anything
// else is reported as a bug (message, input saved) and aborts.
int run_guarded(const char* target, const uint8_t* data, size_t size, void (*body)(std::string_view));

// The outcome of the last run: the notes a target made (note_outcome) and then "ok" or the
// clean error, with numbers and scratch paths masked, so that the driver can keep inputs
// that reach an outcome not seen before.
const std::string& last_outcome();
// Whether the last run ended in success (not a clean error).
bool last_accepted();
// For a target that runs several readers on one input: records one reader's result.
void note_outcome(const std::string& message_or_ok);

// Reports a bug found by a target's own property check (for example a round trip that does
// not reproduce its input) and aborts like a crash.
[[noreturn]] void bug(const char* target, const std::string& what);

// A per-process scratch directory on a memory file system (/dev/shm when present), for
// targets whose reader takes a path. Removed at normal exit.
const std::string& scratch_dir();
// Writes bytes to scratch_dir()/name (creating parent directories) and returns the path.
std::string write_scratch(const std::string& name, std::string_view bytes);
// Removes scratch_dir()/name if it exists.
void remove_scratch(const std::string& name);

// Splits an input holding several files, separated by kPartSeparator, into at most `n`
// parts. Fewer separators give fewer parts (the files after them are absent).
inline constexpr std::string_view kPartSeparator = "\n%%%%\n";
std::vector<std::string_view> split_parts(std::string_view input, size_t n);
std::string join_parts(const std::vector<std::string>& parts);

// Where the harness saves inputs that crash (set by the driver); the crash handlers read it.
void set_current_input(const char* target, const uint8_t* data, size_t size);
void set_artifact_prefix(const std::string& prefix);
// Writes the current input to <prefix>crash-<target>-<hash> and prints the path; safe to
// call from a signal handler.
void save_current_input(const char* why);

}  // namespace disttune::fuzz

// Defines `int disttune_fuzz_<id>(const uint8_t*, size_t)` (LLVMFuzzerTestOneInput's
// signature) running `body`, and registers it as target `name`.
#define DT_FUZZ_TARGET(id, name, what, body, seeds_fn, max_len, ...)                        \
  extern "C" int disttune_fuzz_##id(const uint8_t* data, size_t size) {                     \
    return ::disttune::fuzz::run_guarded(name, data, size, body);                           \
  }                                                                                         \
  static const ::disttune::fuzz::Registrar dt_fuzz_registrar_##id(                          \
      ::disttune::fuzz::Target{name, what, disttune_fuzz_##id, seeds_fn, {__VA_ARGS__}, max_len})
