#include "data/row_sets.h"

#include <map>

#include "common/check.h"
#include "data/random.h"
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

TripletSet triplet_set_from_labeled(const TextDataset& d, const std::vector<int64_t>& rows, uint64_t seed) {
  DT_CHECK(d.labeled(), d.source, " is ", d.format_name(), ", not labeled texts");
  auto label = [&](int64_t r) { return d.scores[static_cast<size_t>(r)]; };
  std::map<float, std::vector<int64_t>> classes;
  for (int64_t r : rows) classes[label(r)].push_back(r);
  const std::vector<std::string>& text = d.column("text");
  TripletSet s;
  s.negatives.resize(1);
  SplitMix64 rng(seed);
  std::map<float, size_t> next;  // each class's position of its next anchor
  for (int64_t r : rows) {
    const std::vector<int64_t>& mine = classes[label(r)];
    if (mine.size() < 2 || mine.size() == rows.size()) continue;
    const size_t at = next[label(r)]++;
    int64_t negative = r;
    // Rejection: at least one row in rows.size() is of another class.
    while (label(negative) == label(r)) negative = rows[static_cast<size_t>(rng.below(rows.size()))];
    s.anchors.push_back(text[static_cast<size_t>(r)]);
    s.positives.push_back(text[static_cast<size_t>(mine[(at + 1) % mine.size()])]);
    s.negatives[0].push_back(text[static_cast<size_t>(negative)]);
  }
  return s;
}

}  // namespace disttune
