#include "train/report.h"

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace disttune {
namespace {

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

std::string change(double base, double tuned) {
  if (base == 0) return tuned == 0 ? "0.0%" : "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100.0 * (tuned - base) / std::abs(base));
  return b;
}

double get(const std::map<std::string, double>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::nan("") : it->second;
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
    s += "| " + m + " | " + fmt(b) + " | " + fmt(t) + " | " + change(b, t) + " |";
    s += bm25 ? " " + fmt(get(in.bm25, m)) + " |\n" : "\n";
  }
  if (!in.split_description.empty()) s += "\n" + in.split_description + "\n";
  return s;
}

nlohmann::json report_json(const ReportInput& in) {
  nlohmann::json j;
  j["split"] = in.split_description;
  for (const auto& m : in.metrics) {
    nlohmann::json row = {{"base", get(in.base, m)}, {"fine_tuned", get(in.tuned, m)}};
    const double b = get(in.base, m);
    row["relative_change"] = b != 0 ? (get(in.tuned, m) - b) / std::abs(b) : 0.0;
    if (!in.bm25.empty()) row["bm25"] = get(in.bm25, m);
    j["metrics"][m] = row;
  }
  return j;
}

}  // namespace disttune
