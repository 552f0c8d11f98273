#include "data/row_sets.h"

#include "common/check.h"
#include "data/text_dataset.h"

namespace disttune {
namespace {

void check_format(const TextDataset& d, DataFormat want) {
  DT_CHECK(d.format == want, d.source, " is ", data_format_name(d.format), ", not ", data_format_name(want));
}

// Column `role` at `rows`.
std::vector<std::string> pick(const TextDataset& d, const std::string& role, const std::vector<int64_t>& rows) {
  const auto& column = d.column(role);
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (int64_t r : rows) out.push_back(column[static_cast<size_t>(r)]);
  return out;
}

}  // namespace

ScoredSet scored_set_from_rows(const TextDataset& d, const std::vector<int64_t>& rows) {
  check_format(d, DataFormat::Scored);
  ScoredSet s;
  s.sentence1 = pick(d, "sentence1", rows);
  s.sentence2 = pick(d, "sentence2", rows);
  for (int64_t r : rows) s.scores.push_back(d.scores[static_cast<size_t>(r)]);
  return s;
}

TripletSet triplet_set_from_rows(const TextDataset& d, const std::vector<int64_t>& rows) {
  check_format(d, DataFormat::Triplets);
  TripletSet s;
  s.anchors = pick(d, "anchor", rows);
  s.positives = pick(d, "positive", rows);
  for (const auto& role : d.roles)
    if (role != "anchor" && role != "positive") s.negatives.push_back(pick(d, role, rows));
  return s;
}

}  // namespace disttune
