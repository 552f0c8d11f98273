// RFC 4180 edge cases, with pandas.read_csv's behaviour as the reference for each one.
#include "data/delimited_reader.h"

#include <gtest/gtest.h>

#include "common/check.h"
#include "test_util.h"

namespace disttune {
namespace {

using Fields = std::vector<std::string>;

struct Rec {
  Fields fields;
  int64_t line;
  std::string error;
};

std::vector<Rec> read_all(const std::string& text, char delim = ',') {
  test::TempDir dir;
  const std::string path = dir.file(delim == ',' ? "f.csv" : "f.tsv");
  test::write_text(path, text);
  DelimitedReader r(path, delim);
  DelimitedRecord rec;
  std::vector<Rec> out;
  while (r.next(&rec)) out.push_back({rec.fields, rec.line, rec.error});
  return out;
}

TEST(DataCsv, QuotesEmbeddedCommasNewlinesAndEscapedQuotes) {
  const auto recs = read_all(
      "anchor,positive\r\n"
      "\"a, with comma\",\"multi\nline\"\r\n"
      "plain,\"he said \"\"hi\"\"\"\r\n"
      "\"\",x\"y\n");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].fields, (Fields{"anchor", "positive"}));
  EXPECT_EQ(recs[1].fields, (Fields{"a, with comma", "multi\nline"}));
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_EQ(recs[2].fields, (Fields{"plain", "he said \"hi\""}));
  EXPECT_EQ(recs[2].line, 4);  // the quoted newline above moved it down a line
  // An empty quoted field; a quote inside an unquoted field is an ordinary character.
  EXPECT_EQ(recs[3].fields, (Fields{"", "x\"y"}));
  for (const auto& r : recs) EXPECT_EQ(r.error, "");
}

TEST(DataCsv, BomCrlfLoneCrBlankLinesAndMissingFinalNewline) {
  const auto recs = read_all("\xEF\xBB\xBF" "a,b\r\n\r\n1,2\r3,4\n\n5,\"6\r\n7\"");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].fields, (Fields{"a", "b"}));  // no BOM in the first name
  EXPECT_EQ(recs[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(recs[1].line, 3);
  EXPECT_EQ(recs[2].fields, (Fields{"3", "4"}));
  EXPECT_EQ(recs[2].line, 4);
  EXPECT_EQ(recs[3].fields, (Fields{"5", "6\r\n7"}));  // CRLF inside quotes is data
  EXPECT_EQ(recs[3].line, 6);
}

TEST(DataCsv, RaggedRowsKeepTheirFieldCount) {
  const auto recs = read_all("a,b,c\n1\n1,2,3,4\n,,\n");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[1].fields, (Fields{"1"}));
  EXPECT_EQ(recs[2].fields.size(), 4u);
  EXPECT_EQ(recs[3].fields, (Fields{"", "", ""}));
}

TEST(DataCsv, MalformedQuotingIsReportedAndReadingResumes) {
  const auto recs = read_all("a,b\n\"ab\"c,d\nok,1\n\"open,\nstill open\n");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[1].error, "unexpected text after the closing quote of field 1");
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_EQ(recs[2].fields, (Fields{"ok", "1"}));
  EXPECT_EQ(recs[2].error, "");
  EXPECT_EQ(recs[3].error, "unterminated quoted field");
  EXPECT_EQ(recs[3].line, 4);
  const auto late = read_all("a,b\n1,\"x\ny\n");
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[1].error, "unterminated quoted field");
}

TEST(DataTsv, TabsSplitAndQuotesWorkAsInPandas) {
  const auto recs = read_all("anchor\tpositive\nq, with comma\t\"tab\there\"\nx\ty\t\n", '\t');
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].fields, (Fields{"q, with comma", "tab\there"}));
  EXPECT_EQ(recs[2].fields, (Fields{"x", "y", ""}));
}

TEST(DataCsv, LongFieldsCrossTheReadBuffer) {
  std::string big(3 << 20, 'x');
  const auto recs = read_all("a,b\n\"" + big + "\"," + big + "\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].fields[0], big);
  EXPECT_EQ(recs[1].fields[1], big);
}

TEST(DataCsv, MissingFileNamesThePath) {
  try {
    DelimitedReader r("/nonexistent/x.csv", ',');
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/x.csv: cannot open: No such file or directory");
  }
}

}  // namespace
}  // namespace disttune
