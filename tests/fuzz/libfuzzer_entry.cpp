// libFuzzer entry point (built only with -DDISTTUNE_LIBFUZZER=ON and clang): the same
// targets as disttune_fuzz, chosen by the environment variable DISTTUNE_FUZZ_TARGET, e.g.
//   disttune_fuzz safetensors --write-seeds corpus/safetensors
//   DISTTUNE_FUZZ_TARGET=safetensors build-fuzz/disttune_libfuzzer corpus/safetensors
#include <glog/logging.h>

#include <cstdio>
#include <cstdlib>

#include "fuzz.h"

namespace {
const disttune::fuzz::Target* g_target = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FLAGS_logtostderr = false;
  FLAGS_minloglevel = google::GLOG_FATAL;
  google::InitGoogleLogging("disttune_libfuzzer");
  const char* name = std::getenv("DISTTUNE_FUZZ_TARGET");
  g_target = name ? disttune::fuzz::find_target(name) : nullptr;
  if (!g_target) {
    std::fprintf(stderr, "set DISTTUNE_FUZZ_TARGET to one of:");
    for (const auto& t : disttune::fuzz::targets()) std::fprintf(stderr, " %s", t.name);
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  disttune::fuzz::set_current_input(g_target->name, data, size);
  return g_target->run(data, size);
}
