// Readers: every format, the role mapping, and each kind of bad row under both policies,
// with the exact message a user sees.
#include "data/text_dataset.h"

#include <gtest/gtest.h>

#include "common/check.h"
#include "test_util.h"

namespace disttune {
namespace {

using Columns = std::map<std::string, std::string>;
const Columns kPairs = {{"anchor", "anchor"}, {"positive", "positive"}};

struct DataTextDataset : ::testing::Test {
  test::TempDir dir;
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir.file(name);
    test::write_text(path, text);
    return path;
  }
  // The UserError message of reading `path` with the Error policy.
  std::string error_of(const std::string& path, const Columns& cols = kPairs) {
    try {
      read_text_dataset(path, cols, BadRowPolicy::Error);
    } catch (const UserError& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(DataTextDataset, JsonlPairsWithIdsAndLines) {
  const std::string p = write("p.jsonl",
                              "{\"id\": 7, \"anchor\": \"q1\", \"positive\": \"c1\", \"x\": [1, {\"a\": 2}]}\n"
                              "\n"
                              "{\"id\": \"r2\", \"positive\": \"c2\", \"anchor\": \"q\\u00e9\"}\r\n");
  Columns cols = kPairs;
  cols["id"] = "id";
  const TextDataset d = read_text_dataset(p, cols, BadRowPolicy::Error);
  EXPECT_EQ(d.format, DataFormat::Pairs);
  EXPECT_EQ(d.roles, (std::vector<std::string>{"anchor", "positive"}));
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.column("anchor"), (std::vector<std::string>{"q1", "q\xC3\xA9"}));
  EXPECT_EQ(d.column("positive"), (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(d.ids, (std::vector<std::string>{"7", "r2"}));
  EXPECT_EQ(d.lines, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(d.source, p);
  EXPECT_EQ(d.report.summary(), "2 rows read, all kept");
}

TEST_F(DataTextDataset, TripletsWithAnyNumberOfNegativesInCanonicalOrder) {
  const std::string p = write("t.csv", "q,p,n10,n1,n2\nQ,P,N10,N1,N2\n");
  const TextDataset d = read_text_dataset(
      p, {{"anchor", "q"}, {"positive", "p"}, {"negative", "n1"}, {"negative_10", "n10"}, {"negative_2", "n2"}},
      BadRowPolicy::Error);
  EXPECT_EQ(d.format, DataFormat::Triplets);
  EXPECT_EQ(d.roles, (std::vector<std::string>{"anchor", "positive", "negative", "negative_2", "negative_10"}));
  EXPECT_EQ(d.column("negative"), (std::vector<std::string>{"N1"}));
  EXPECT_EQ(d.column("negative_10"), (std::vector<std::string>{"N10"}));
  EXPECT_TRUE(d.ids.empty());
}

TEST_F(DataTextDataset, ScoredPairsFromAJsonListAndCsv) {
  const std::string j = write("s.json",
                              "[\n"
                              "  {\"s1\": \"a\", \"s2\": \"b\", \"label\": 0.25},\n"
                              "  {\"s1\": \"c\", \"s2\": \"d\", \"label\": 1}\n"
                              "]\n");
  const Columns cols = {{"sentence1", "s1"}, {"sentence2", "s2"}, {"score", "label"}};
  TextDataset d = read_text_dataset(j, cols, BadRowPolicy::Error);
  EXPECT_EQ(d.format, DataFormat::Scored);
  EXPECT_EQ(d.roles, (std::vector<std::string>{"sentence1", "sentence2"}));
  EXPECT_EQ(d.scores, (std::vector<float>{0.25f, 1.0f}));
  EXPECT_EQ(d.lines, (std::vector<int64_t>{2, 3}));

  const std::string c = write("s.csv", "s1,s2,label\na,b, 0.5\nc,d,+1e-1\n");
  d = read_text_dataset(c, cols, BadRowPolicy::Error);
  EXPECT_EQ(d.scores, (std::vector<float>{0.5f, 0.1f}));
  EXPECT_EQ(error_of(write("bad.csv", "s1,s2,label\na,b,0.5\nc,d,abc\n"), cols),
            dir.file("bad.csv") + ":3: column 'label' (score): expected a number, got 'abc'");
  EXPECT_EQ(error_of(write("nan.csv", "s1,s2,label\na,b,nan\n"), cols),
            dir.file("nan.csv") + ":2: column 'label' (score): expected a finite number");
  EXPECT_EQ(error_of(write("bad.json", "[{\"s1\": \"a\", \"s2\": \"b\", \"label\": \"0.5\"}]"), cols),
            dir.file("bad.json") + ":1: column 'label' (score): expected a number, got string");
}

// MarginMSELoss's data: a score beside (anchor, positive, negatives): one number, or in JSON
// a list (a margin per negative, or the teacher's scores), the same length on every row.
TEST_F(DataTextDataset, TripletsWithATeacherScoreOrAListOfThem) {
  const Columns one = {{"anchor", "q"}, {"positive", "p"}, {"negative", "n"}, {"score", "label"}};
  TextDataset d = read_text_dataset(write("m.csv", "q,p,n,label\nQ,P,N,2.5\nQ2,P2,N2,-1\n"), one, BadRowPolicy::Error);
  EXPECT_EQ(d.format, DataFormat::Triplets);
  EXPECT_EQ(d.roles, (std::vector<std::string>{"anchor", "positive", "negative"}));
  EXPECT_EQ(d.scores, (std::vector<float>{2.5f, -1.0f}));
  EXPECT_EQ(d.score_width, 1);

  Columns two = one;
  two["negative_2"] = "n2";
  d = read_text_dataset(write("m.jsonl",
                              "{\"q\": \"a\", \"p\": \"b\", \"n\": \"c\", \"n2\": \"d\", \"label\": [9, 1.5, 0.25]}\n"
                              "{\"q\": \"e\", \"p\": \"f\", \"n\": \"g\", \"n2\": \"h\", \"label\": [8, 2, -3e0]}\n"),
                        two, BadRowPolicy::Error);
  EXPECT_EQ(d.score_width, 3);
  EXPECT_EQ(d.scores, (std::vector<float>{9, 1.5f, 0.25f, 8, 2, -3}));
  // The same in a JSON list, where the reader is at another depth.
  d = read_text_dataset(write("m.json", "[{\"q\": \"a\", \"p\": \"b\", \"n\": \"c\", \"n2\": \"d\", "
                                        "\"label\": [1, 2], \"x\": [[1], 2]}]"),
                        two, BadRowPolicy::Error);
  EXPECT_EQ(d.score_width, 2);
  EXPECT_EQ(d.scores, (std::vector<float>{1, 2}));

  auto bad = [&](const std::string& name, const std::string& label2) {
    return error_of(write(name, "{\"q\": \"a\", \"p\": \"b\", \"n\": \"c\", \"label\": [1, 2]}\n"
                                "{\"q\": \"a\", \"p\": \"b\", \"n\": \"c\", \"label\": " + label2 + "}\n"),
                    one);
  };
  EXPECT_EQ(bad("b1.jsonl", "[1, 2, 3]"),
            dir.file("b1.jsonl") + ":2: column 'label' (score): a list of 3 numbers where the rows before have 2");
  EXPECT_EQ(bad("b2.jsonl", "0.5"),
            dir.file("b2.jsonl") + ":2: column 'label' (score): one number where the rows before have a list of 2");
  EXPECT_EQ(bad("b3.jsonl", "[1, \"2\"]"),
            dir.file("b3.jsonl") + ":2: column 'label' (score): expected a list of numbers");
  EXPECT_EQ(bad("b4.jsonl", "[1, [2]]"),
            dir.file("b4.jsonl") + ":2: column 'label' (score): expected a list of numbers");
  EXPECT_EQ(bad("b5.jsonl", "[]"),
            dir.file("b5.jsonl") + ":2: column 'label' (score): expected a number or a list of numbers, got []");
  EXPECT_EQ(bad("b6.jsonl", "\"x\""),
            dir.file("b6.jsonl") + ":2: column 'label' (score): expected a number or a list of numbers, got string");
  EXPECT_EQ(bad("b7.jsonl", "[1, 1e39]"), dir.file("b7.jsonl") + ":2: column 'label' (score): expected finite numbers");
  // Skipped rows do not set the width: the first kept row does.
  d = read_text_dataset(write("skip.jsonl", "{\"q\": \"\", \"p\": \"b\", \"n\": \"c\", \"label\": [1, 2]}\n"
                                            "{\"q\": \"a\", \"p\": \"b\", \"n\": \"c\", \"label\": 3}\n"),
                        one, BadRowPolicy::Skip);
  EXPECT_EQ(d.score_width, 1);
  EXPECT_EQ(d.scores, std::vector<float>{3});
  // Scored pairs keep one number per row.
  EXPECT_EQ(error_of(write("pairs.jsonl", "{\"a\": \"x\", \"b\": \"y\", \"s\": [1]}\n"),
                     {{"sentence1", "a"}, {"sentence2", "b"}, {"score", "s"}}),
            dir.file("pairs.jsonl") + ":1: column 's' (score): expected a number, got array");
}

TEST_F(DataTextDataset, LabeledTextsNumberTheirClassesByFirstAppearance) {
  const Columns cols = {{"text", "sentence"}, {"label", "topic"}};
  TextDataset d = read_text_dataset(write("l.jsonl", "{\"sentence\": \"a\", \"topic\": 7}\n"
                                                     "{\"sentence\": \"b\", \"topic\": \"sports\"}\n"
                                                     "{\"sentence\": \"c\", \"topic\": 7}\n"
                                                     "{\"sentence\": \"d\", \"topic\": -2}\n"),
                                    cols, BadRowPolicy::Error);
  EXPECT_EQ(d.format, DataFormat::Texts);
  EXPECT_TRUE(d.labeled());
  EXPECT_EQ(d.format_name(), "labeled texts");
  EXPECT_EQ(d.roles, (std::vector<std::string>{"text"}));
  EXPECT_EQ(d.scores, (std::vector<float>{0, 1, 0, 2}));
  EXPECT_EQ(d.label_names, (std::vector<std::string>{"7", "sports", "-2"}));
  // CSV cells are text: a class is its cell.
  d = read_text_dataset(write("l.csv", "sentence,topic\nx,b\ny,a\nz,b\n"), cols, BadRowPolicy::Error);
  EXPECT_EQ(d.scores, (std::vector<float>{0, 1, 0}));
  EXPECT_EQ(d.label_names, (std::vector<std::string>{"b", "a"}));
  // Plain texts are not labeled.
  EXPECT_FALSE(read_text_dataset(write("t.csv", "sentence\nx\n"), {{"text", "sentence"}}, BadRowPolicy::Error)
                   .labeled());

  auto bad = [&](const std::string& name, const std::string& label) {
    return error_of(write(name, "{\"sentence\": \"a\", \"topic\": 1}\n{\"sentence\": \"b\", \"topic\": " +
                                    label + "}\n"),
                    cols);
  };
  const std::string what = ":2: column 'topic' (label): expected a class label (a string or an integer), got ";
  EXPECT_EQ(bad("b1.jsonl", "1.5"), dir.file("b1.jsonl") + what + "number");
  EXPECT_EQ(bad("b2.jsonl", "null"), dir.file("b2.jsonl") + what + "null");
  EXPECT_EQ(bad("b3.jsonl", "[1]"), dir.file("b3.jsonl") + what + "array");
  EXPECT_EQ(bad("b4.jsonl", "\" \""), dir.file("b4.jsonl") + ":2: column 'topic' (label): empty label");
  EXPECT_EQ(error_of(write("b5.jsonl", "{\"sentence\": \"a\"}\n"), cols),
            dir.file("b5.jsonl") + ":1: column 'topic' (label): missing (the row has: sentence)");
  // Skipped rows take no class.
  d = read_text_dataset(
      write("s.jsonl", "{\"sentence\": \"a\", \"topic\": 1.5}\n{\"sentence\": \"b\", \"topic\": 4}\n"), cols,
      BadRowPolicy::Skip);
  EXPECT_EQ(d.label_names, (std::vector<std::string>{"4"}));
  EXPECT_EQ(d.scores, (std::vector<float>{0}));
}

TEST_F(DataTextDataset, JsonFileHoldingJsonLinesIsReadAsLines) {
  const std::string p = write("lines.json", "{\"anchor\": \"a\", \"positive\": \"b\"}\n{\"anchor\": \"c\", \"positive\": \"d\"}\n");
  EXPECT_EQ(read_text_dataset(p, kPairs, BadRowPolicy::Error).size(), 2);
}

TEST_F(DataTextDataset, CsvAndTsvWithMappedColumnNames) {
  const Columns cols = {{"anchor", "question"}, {"positive", "context"}};
  const std::string c = write("qa.csv",
                              "\xEF\xBB\xBFquestion,answer,context\r\n"
                              "\"What, exactly?\",x,\"Line one\r\nline two\"\r\n"
                              "Why,y,Because\r\n");
  TextDataset d = read_text_dataset(c, cols, BadRowPolicy::Error);
  EXPECT_EQ(d.column("anchor"), (std::vector<std::string>{"What, exactly?", "Why"}));
  EXPECT_EQ(d.column("positive"), (std::vector<std::string>{"Line one\r\nline two", "Because"}));
  EXPECT_EQ(d.lines, (std::vector<int64_t>{2, 4}));

  const std::string t = write("qa.tsv", "question\tcontext\nq1\t\"a\tb\"\nq2\tc2\n");
  d = read_text_dataset(t, cols, BadRowPolicy::Error);
  EXPECT_EQ(d.column("positive"), (std::vector<std::string>{"a\tb", "c2"}));

  EXPECT_EQ(error_of(write("nohdr.csv", "question,answer\nq,a\n"), cols),
            dir.file("nohdr.csv") + ":1: header: no column 'context' (positive) (the header has: question, answer)");
  EXPECT_EQ(error_of(write("twice.csv", "question,context,context\nq,a,b\n"), cols),
            dir.file("twice.csv") + ":1: header: column 'context' appears more than once");
}

// One bad row of each kind after a good one, and the message the Error policy gives.
TEST_F(DataTextDataset, EachBadRowKindHasAnExactMessage) {
  const std::string good = "{\"anchor\": \"q\", \"positive\": \"p\"}\n";
  struct Case {
    std::string line, message;
  } cases[] = {
      {"{\"anchor\": \"q\", \"positive\": 5}", "column 'positive': expected a string, got number"},
      {"{\"anchor\": null, \"positive\": \"p\"}", "column 'anchor': expected a string, got null"},
      {"{\"anchor\": [\"q\"], \"positive\": \"p\"}", "column 'anchor': expected a string, got array"},
      {"{\"anchor\": \"q\", \"id\": 3}", "column 'positive': missing (the row has: anchor, id)"},
      {"{}", "column 'anchor': missing (the row has no columns)"},
      {"{\"anchor\": \"\", \"positive\": \"p\"}", "column 'anchor': empty text"},
      {"{\"anchor\": \"q\", \"positive\": \" \\n\\t\"}", "column 'positive': empty text (only whitespace)"},
      {"{\"anchor\": \"q\", \"positive\": \"p\xFF\"}", "column 'positive': invalid UTF-8"},
      {"{\"anchor\": \"q\", \"positive\": {\"t\": \"\xC0\xAF\"}}", "column 'positive': invalid UTF-8"},
      {"{\"anchor\": \"q\", \"bad\xFFkey\": 1}", "invalid UTF-8 in a key"},
      {"[1, 2]", "expected a JSON object, got array"},
      {"\"text\"", "expected a JSON object, got string"},
  };
  for (const auto& c : cases) {
    const std::string p = write("bad.jsonl", good + c.line + "\n" + good);
    EXPECT_EQ(error_of(p), p + ":2: " + c.message) << c.line;
  }
  const std::string p = write("trunc.jsonl", good + "{\"anchor\": \"q\", \"positive\": \"p\"\n");
  EXPECT_EQ(error_of(p).rfind(p + ":2: malformed JSON at character 32: syntax error while parsing object", 0), 0u)
      << error_of(p);
  const std::string extra = write("extra.jsonl", "{\"anchor\": \"q\", \"positive\": \"p\"} x\n");
  EXPECT_EQ(error_of(extra).rfind(extra + ":1: malformed JSON", 0), 0u) << error_of(extra);

  const std::string csv = write("bad.csv", "anchor,positive\nq,p\nq,\"p\xE2\x82\"\nq\n\"q\"x,p\n");
  EXPECT_EQ(error_of(csv), csv + ":3: column 'positive': invalid UTF-8 (byte 0xE2 at offset 1)");
  const std::string ragged = write("ragged.csv", "anchor,positive\nq\n");
  EXPECT_EQ(error_of(ragged), ragged + ":2: expected 2 fields as in the header, got 1");
  const std::string quote = write("quote.csv", "anchor,positive\n\"q\"x,p\n");
  EXPECT_EQ(error_of(quote), quote + ":2: unexpected text after the closing quote of field 1");
  Columns with_id = kPairs;
  with_id["id"] = "id";
  const std::string bad_id = write("id.jsonl", "{\"anchor\": \"q\", \"positive\": \"p\", \"id\": 1.5}\n");
  EXPECT_EQ(error_of(bad_id, with_id), bad_id + ":1: column 'id': expected a string or an integer, got number");
}

TEST_F(DataTextDataset, SkipPolicyCountsEveryReasonAndKeepsTheRest) {
  const std::string p = write("mixed.jsonl",
                              "{\"anchor\": \"q1\", \"positive\": \"p1\"}\n"
                              "{\"anchor\": \"q2\", \"positive\": 5}\n"
                              "{\"anchor\": \"q3\"}\n"
                              "{\"anchor\": \"\", \"positive\": \"p4\"}\n"
                              "{\"anchor\": \"q5\", \"positive\": \"p\xFF\"}\n"
                              "{\"anchor\": \"q6\", \"positive\": \"p6\"\n"
                              "[1, 2]\n"
                              "{\"anchor\": null, \"positive\": \"p8\"}\n"
                              "{\"anchor\": \"q9\", \"positive\": \"p9\"}\n");
  const TextDataset d = read_text_dataset(p, kPairs, BadRowPolicy::Skip);
  EXPECT_EQ(d.column("anchor"), (std::vector<std::string>{"q1", "q9"}));
  EXPECT_EQ(d.lines, (std::vector<int64_t>{1, 9}));
  EXPECT_EQ(d.report.rows_read, 9);
  EXPECT_EQ(d.report.rows_kept, 2);
  EXPECT_EQ(d.report.skipped, (std::map<std::string, int64_t>{{"empty text", 1},
                                                              {"invalid UTF-8", 1},
                                                              {"malformed row", 2},
                                                              {"missing column", 1},
                                                              {"wrong type", 2}}));
  EXPECT_EQ(d.report.summary(),
            "9 rows read, 2 kept, 7 skipped (empty text: 1, invalid UTF-8: 1, malformed row: 2, "
            "missing column: 1, wrong type: 2); first skipped: " + p +
                ":2: column 'positive': expected a string, got number");

  const std::string csv = write("mixed.csv", "anchor,positive\nq,p\nq\n\"q\"x,p\nq,\n,p\nq2,p2\n");
  const TextDataset c = read_text_dataset(csv, kPairs, BadRowPolicy::Skip);
  EXPECT_EQ(c.size(), 2);
  EXPECT_EQ(c.report.skipped, (std::map<std::string, int64_t>{{"empty text", 2}, {"malformed row", 2}}));
}

TEST_F(DataTextDataset, FileLevelProblems) {
  EXPECT_EQ(error_of(dir.file("none.jsonl")), dir.file("none.jsonl") + ": cannot open: No such file or directory");
  EXPECT_EQ(error_of(write("x.txt", "a")), dir.file("x.txt") + ": unsupported file type '.txt' (expected .jsonl, .json, .csv or .tsv)");
  EXPECT_EQ(error_of(write("empty.jsonl", "\n\n")), dir.file("empty.jsonl") + ": no rows");
  EXPECT_EQ(error_of(write("hdr.csv", "anchor,positive\n")), dir.file("hdr.csv") + ": no rows");
  const std::string allbad = write("allbad.jsonl", "{\"anchor\": \"\", \"positive\": \"p\"}\n");
  try {
    read_text_dataset(allbad, kPairs, BadRowPolicy::Skip);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), allbad + ": no usable rows (1 rows read, 0 kept, 1 skipped (empty text: 1); first skipped: " +
                                         allbad + ":1: column 'anchor': empty text)");
  }
  EXPECT_EQ(error_of(write("obj.json", "  {\"anchor\": 1}")), dir.file("obj.json") + ":1: column 'anchor': expected a string, got number");
  EXPECT_EQ(error_of(write("scalar.json", "[\n1\n]")), dir.file("scalar.json") + ":2: expected a JSON object, got number");
  EXPECT_EQ(error_of(write("broken.json", "[\n{\"anchor\": \"a\",\n\"positive\": }]")).rfind(dir.file("broken.json") + ":3: malformed JSON: ", 0), 0u);
}

TEST_F(DataTextDataset, ColumnMappingIsValidated) {
  auto err = [](const Columns& c) {
    try {
      map_columns(c);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(err({{"anchor", "a"}, {"query", "q"}}),
            "column mapping: unknown role 'query' (expected anchor, positive, negative, negative_2, ..., id, or "
            "sentence1, sentence2, score, or text, label)");
  EXPECT_EQ(err({{"anchor", "a"}, {"positive", "b"}, {"label", "c"}}),
            "column mapping: role 'label' (a class per text) goes with role 'text' only; scored pairs take a score");
  EXPECT_EQ(err({{"text", "a"}, {"anchor", "b"}}),
            "column mapping: role 'text' (plain texts) cannot be combined with other text roles");
  EXPECT_EQ(err({{"anchor", "a"}}), "column mapping: needs roles anchor and positive (or sentence1, sentence2, score); missing positive");
  EXPECT_EQ(err({{"sentence1", "a"}, {"sentence2", "b"}}), "column mapping: scored pairs need sentence1, sentence2 and score; missing score");
  EXPECT_EQ(err({{"anchor", "a"}, {"positive", "b"}, {"score", "s"}}),
            "column mapping: a score beside anchor and positive needs a negative (it is the margin between the two, "
            "as margin_mse reads it); scored pairs are sentence1, sentence2, score");
  EXPECT_EQ(err({{"sentence1", "a"}, {"sentence2", "b"}, {"score", "s"}, {"negative", "n"}}),
            "column mapping: mixes scored-pair roles (sentence1, sentence2) with anchor/positive/negative roles");
  EXPECT_EQ(err({{"anchor", "a"}, {"positive", "b"}, {"negative_x", "n"}}).rfind("column mapping: unknown role 'negative_x'", 0), 0u);
  // Plain texts (what `disttune encode` reads), with an optional id.
  const std::string texts = write("texts.jsonl", "{\"_id\": \"d1\", \"body\": \"x\"}\n{\"_id\": 7, \"body\": \"y\"}\n");
  const TextDataset td = read_text_dataset(texts, {{"text", "body"}, {"id", "_id"}}, BadRowPolicy::Error);
  EXPECT_EQ(td.format, DataFormat::Texts);
  EXPECT_EQ(td.roles, std::vector<std::string>{"text"});
  EXPECT_EQ(td.column("text"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(td.ids, (std::vector<std::string>{"d1", "7"}));
  // One column may serve two roles.
  const std::string p = write("same.jsonl", "{\"t\": \"x\"}\n");
  const TextDataset d = read_text_dataset(p, {{"anchor", "t"}, {"positive", "t"}}, BadRowPolicy::Error);
  EXPECT_EQ(d.column("positive"), (std::vector<std::string>{"x"}));
}

// The reference file has two rows with an empty question (one also with an empty context):
// the default policy stops at the first with its line; skip keeps the other 6998.
TEST_F(DataTextDataset, FinancialRagPairs) {
  DT_REQUIRE_DATA("financial-rag/pairs.jsonl");
  const std::string path = test::data_dir() + "/financial-rag/pairs.jsonl";
  EXPECT_EQ(error_of(path), path + ":1734: column 'anchor': empty text");
  Columns cols = kPairs;
  cols["id"] = "id";
  const TextDataset d = read_text_dataset(path, cols, BadRowPolicy::Skip);
  EXPECT_EQ(d.report.rows_read, 7000);
  EXPECT_EQ(d.size(), 6998);
  EXPECT_EQ(d.report.skipped, (std::map<std::string, int64_t>{{"empty text", 2}}));
  EXPECT_EQ(d.ids.front(), "0");
  EXPECT_EQ(d.ids.back(), "6999");
  EXPECT_EQ(d.column("anchor").front(),
            "What area did NVIDIA initially focus on before expanding to other computationally intensive fields?");
}

}  // namespace
}  // namespace disttune
