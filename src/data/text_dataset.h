// TextDataset: the rows of a training or evaluation file, mapped to sentence-transformers
// roles, with every bad row either reported precisely or skipped and counted.
//
// Files: .jsonl/.ndjson (one object per line), .json (a list of objects; a .json file that
// does not start with '[' is read as JSON lines, as `datasets` does), .csv and .tsv/.tab
// (see delimited_reader.h for the quoting rules). Columns are mapped by name:
// role -> column, with roles
//   pairs:        anchor, positive                      (+ optional id)
//   triplets:     anchor, positive, negative[, negative_2, negative_3 ...]  (+ optional id,
//                 + optional score: MarginMSELoss's label, the teacher's positive-negative margin)
//   scored pairs: sentence1, sentence2, score           (+ optional id)
//   texts:        text                                  (+ optional id; for encoding, and for
//                                                        training with mse)
//   labeled texts: text, label                          (+ optional id; a class per text, for
//                                                        the batch triplet losses)
// Bad rows: invalid UTF-8, a missing column, a wrong type (text that is not a string, a
// score that is not a finite number, an id that is neither a string nor an integer), empty
// text (including whitespace only: it would embed as [CLS] [SEP] and teach nothing) and
// malformed lines. BadRowPolicy::Error throws UserError for the first one, naming
// file:line, the column and what was expected; BadRowPolicy::Skip counts them by reason.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace disttune {

enum class BadRowPolicy { Error, Skip };

// "error" | "skip" (the values of data.on_bad_row). Throws UserError otherwise.
BadRowPolicy parse_bad_row_policy(const std::string& s);

struct ReadReport {
  int64_t rows_read = 0, rows_kept = 0;
  std::map<std::string, int64_t> skipped;  // reason -> count
  std::vector<std::string> examples;       // messages of the first few skipped rows
  int64_t skipped_total() const;
  // "7000 rows read, 6997 kept, 3 skipped (empty text: 3); first skipped: f.jsonl:5: ..."
  std::string summary() const;
};

// The reasons a row is skipped, as counted in ReadReport::skipped.
namespace bad_row {
constexpr const char* kInvalidUtf8 = "invalid UTF-8";
constexpr const char* kMissingColumn = "missing column";
constexpr const char* kWrongType = "wrong type";
constexpr const char* kEmptyText = "empty text";
constexpr const char* kMalformed = "malformed row";
}  // namespace bad_row

enum class DataFormat { Pairs, Triplets, Scored, Texts };
const char* data_format_name(DataFormat f);  // "pairs" | "triplets" | "scored pairs" | "texts"

struct TextDataset {
  DataFormat format = DataFormat::Pairs;
  std::vector<std::string> roles;                 // e.g. {"anchor","positive","negative","negative_2"} or {"sentence1","sentence2"}
  std::vector<std::vector<std::string>> columns;  // columns[role][row]
  std::vector<float> scores;                      // Scored, and triplets with a score column:
                                                  // score_width per row, row-major
  int score_width = 1;                            // triplets: a list of numbers per row
  // Labeled texts: each row's class id (0, 1, ... in order of first appearance) as a float
  // in `scores` (exact: fewer than 2^24 classes), and each class's label as written in the
  // file (a string, or an integer's digits).
  std::vector<std::string> label_names;
  std::vector<std::string> ids;                   // from the 'id' role when mapped, else empty
  std::vector<int64_t> lines;                     // 1-based source line of each row
  std::string source;
  ReadReport report;

  int64_t size() const { return static_cast<int64_t>(lines.size()); }
  std::vector<int64_t> all_rows() const;  // 0 .. size() - 1
  // data_format_name, "triplets with scores" where a score column is mapped beside them,
  // "labeled texts" where a label is mapped beside texts.
  std::string format_name() const;
  bool labeled() const { return format == DataFormat::Texts && !label_names.empty(); }
  // Index of `role` in roles, or -1.
  int role_index(const std::string& role) const;
  // The texts of `role`; InternalError when the dataset has no such role.
  const std::vector<std::string>& column(const std::string& role) const;
};

// A validated role -> column mapping.
struct ColumnMapping {
  DataFormat format = DataFormat::Pairs;
  std::vector<std::string> roles;         // text roles in canonical order
  std::vector<std::string> role_columns;  // the column of each text role
  std::string score_column;               // Scored; optional for triplets
  std::string label_column;               // texts: optional class label
  std::string id_column;                  // empty when no id is mapped
};

// Checks the roles (anchor+positive[+negative...][+score], sentence1+sentence2+score, or
// text[+label]; optional id) and puts the text roles in canonical order: anchor, positive, negative, negative_2,
// negative_3, ... Throws UserError naming the offending role.
ColumnMapping map_columns(const std::map<std::string, std::string>& columns);

TextDataset read_text_dataset(const std::string& path,
                              const std::map<std::string, std::string>& columns,
                              BadRowPolicy policy);  // throws UserError

}  // namespace disttune
