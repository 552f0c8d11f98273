// Synthetic question/context pairs for the data benchmarks (readers, token store): a file
// of any size with the shape of the financial-rag data, written once and reused.
#pragma once

#include <cstdio>
#include <string>

#include "common/check.h"
#include "data/random.h"

namespace disttune::bench {

// Question/context-like rows: ~60-char anchors, ~300-char positives, about 1 in 50
// positives repeated elsewhere (as contexts are in the financial data).
inline void write_synthetic(const std::string& path, int64_t rows, bool csv) {
  FILE* f = std::fopen(path.c_str(), "wb");
  DT_CHECK(f, "cannot write ", path);
  SplitMix64 r(1);
  const char* words[] = {"revenue", "growth", "quarter", "fiscal", "net", "income", "segment", "cash",
                         "flow", "operating", "margin", "company", "reported", "increase", "decline",
                         "market", "product", "customers", "expenses", "capital"};
  auto sentence = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += std::string(i ? " " : "") + words[r.below(20)];
    return s;
  };
  if (csv) std::fputs("id,anchor,positive\n", f);
  for (int64_t i = 0; i < rows; ++i) {
    const std::string a = "What " + sentence(6) + " in case " + std::to_string(i) + "?";
    const int64_t ctx = r.below(50) == 0 ? static_cast<int64_t>(r.below(static_cast<uint64_t>(i + 1))) : i;
    const std::string p = "Context " + std::to_string(ctx) + ": " + sentence(38) + ", \"quoted\".";
    if (csv) {
      std::string q = p;
      for (size_t k = 0; (k = q.find('"', k)) != std::string::npos; k += 2) q.insert(k, "\"");
      std::fprintf(f, "%lld,%s,\"%s\"\n", static_cast<long long>(i), a.c_str(), q.c_str());
    } else {
      std::string q = p;
      for (size_t k = 0; (k = q.find('"', k)) != std::string::npos; k += 2) q.insert(k, "\\");
      std::fprintf(f, "{\"id\": %lld, \"anchor\": \"%s\", \"positive\": \"%s\"}\n",
                   static_cast<long long>(i), a.c_str(), q.c_str());
    }
  }
  std::fclose(f);
}


}  // namespace disttune::bench
