#include "data/ir_from_pairs.h"

#include <string_view>
#include <unordered_map>

#include "common/check.h"

namespace disttune {

IrSet ir_set_from_pairs(const TextDataset& d, const std::vector<int64_t>& query_rows,
                        const std::vector<int64_t>& corpus_rows) {
  DT_REQUIRE(d.role_index("anchor") >= 0 && d.role_index("positive") >= 0, d.source,
             ": an IR evaluation set needs anchor and positive columns; this file has ",
             data_format_name(d.format));
  const auto& anchors = d.column("anchor");
  const auto& positives = d.column("positive");
  auto id_of = [&](int64_t row) {
    return d.ids.empty() ? std::to_string(row) : d.ids[static_cast<size_t>(row)];
  };
  auto check_row = [&](int64_t row) {
    DT_CHECK(row >= 0 && row < d.size(), "row ", row, " out of range for ", d.source);
  };

  IrSet s;
  std::unordered_map<std::string_view, int64_t> doc_of_text;
  doc_of_text.reserve(corpus_rows.size());
  for (int64_t row : corpus_rows) {
    check_row(row);
    const std::string& text = positives[static_cast<size_t>(row)];
    if (doc_of_text.emplace(text, static_cast<int64_t>(s.corpus.size())).second) {
      s.corpus_ids.push_back(id_of(row));
      s.corpus.push_back(text);
    }
  }
  s.query_ids.reserve(query_rows.size());
  s.queries.reserve(query_rows.size());
  s.relevant.reserve(query_rows.size());
  for (int64_t row : query_rows) {
    check_row(row);
    const auto it = doc_of_text.find(positives[static_cast<size_t>(row)]);
    DT_CHECK(it != doc_of_text.end(), "query row ", row, " of ", d.source,
             " has a positive that is not among the corpus rows");
    s.query_ids.push_back(id_of(row));
    s.queries.push_back(anchors[static_cast<size_t>(row)]);
    s.relevant.push_back({it->second});
  }
  return s;
}

}  // namespace disttune
