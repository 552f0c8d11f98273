#include "train/report.h"

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "eval/ir_metrics.h"

namespace disttune {
namespace {

std::string fmt(double v) {
  if (std::isnan(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

std::string change(double base, double tuned) {
  if (std::isnan(base) || std::isnan(tuned)) return "n/a";
  if (base == 0) return tuned == 0 ? "0.0%" : "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100.0 * (tuned - base) / std::abs(base));
  return b;
}

// A classification threshold (cosine_f1_threshold, ...) is where the evaluator cuts, not a
// score: its relative change says nothing, so none is shown.
bool is_threshold(const std::string& metric) { return metric.find("_threshold") != std::string::npos; }

double get(const std::map<std::string, double>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::nan("") : it->second;
}

// BM25 ranks by terms, so its figures are the same at every embedding dimension: a
// Matryoshka row (dim_<d>_<metric>) shows BM25's <metric>.
double bm25_value(const std::map<std::string, double>& bm25, const std::string& m) {
  if (auto it = bm25.find(m); it != bm25.end()) return it->second;
  const auto [dim, metric] = split_matryoshka_prefix(m);
  return dim > 0 ? get(bm25, metric) : std::nan("");
}

// Names sort by the part before '@', then by the cut-off as a number, so that @10 follows @5.
std::vector<std::string> display_order(std::vector<std::string> names) {
  const auto key = [](const std::string& n) {
    const auto at = n.rfind('@');
    if (at == std::string::npos) return std::make_pair(n, 0L);
    return std::make_pair(n.substr(0, at), std::strtol(n.c_str() + at + 1, nullptr, 10));
  };
  std::stable_sort(names.begin(), names.end(),
                   [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
  return names;
}

}  // namespace

std::string report_markdown(const ReportInput& in) {
  const bool bm25 = !in.bm25.empty();
  std::string s = "| metric | base | fine-tuned | change |";
  s += bm25 ? " BM25 |\n" : "\n";
  s += bm25 ? "| --- | ---: | ---: | ---: | ---: |\n" : "| --- | ---: | ---: | ---: |\n";
  for (const auto& m : display_order(in.metrics)) {
    const double b = get(in.base, m), t = get(in.tuned, m);
    s += "| " + m + " | " + fmt(b) + " | " + fmt(t) + " | " + (is_threshold(m) ? "" : change(b, t)) + " |";
    s += bm25 ? " " + fmt(bm25_value(in.bm25, m)) + " |\n" : "\n";
  }
  if (!in.split_description.empty()) s += "\n" + in.split_description + "\n";
  return s;
}

nlohmann::json report_json(const ReportInput& in) {
  // A figure no side has is null, as nlohmann would print a NaN anyway.
  const auto num = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  nlohmann::json j;
  j["split"] = in.split_description;
  for (const auto& m : in.metrics) {
    const double b = get(in.base, m), t = get(in.tuned, m);
    nlohmann::json row = {{"base", num(b)}, {"fine_tuned", num(t)}};
    row["relative_change"] = is_threshold(m) ? nlohmann::json(nullptr)
                             : b != 0      ? num((t - b) / std::abs(b))
                                           : nlohmann::json(0.0);
    if (!in.bm25.empty()) row["bm25"] = num(bm25_value(in.bm25, m));
    j["metrics"][m] = row;
  }
  return j;
}

}  // namespace disttune
