// The final report of a run: each metric on the test split (retrieval, or score correlation
// for scored pairs) for the base model, the fine-tuned model, the relative change, and
// optionally BM25 — as the recipes print it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace disttune {

struct ReportInput {
  std::vector<std::string> metrics;            // rows, in order
  std::map<std::string, double> base, tuned;   // by metric name
  std::map<std::string, double> bm25;          // empty: no BM25 column
  std::string split_description;               // e.g. "test split: 700 queries over 7000 docs"
};

std::string report_markdown(const ReportInput& in);
nlohmann::json report_json(const ReportInput& in);

}  // namespace disttune
