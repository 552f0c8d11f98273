// IR evaluation sets: from held-out pairs (the recipes' construction) and from BEIR files;
// the triplets that held-out labeled texts become.
#include <gtest/gtest.h>

#include <set>

#include "common/check.h"
#include "data/beir.h"
#include "data/ir_from_pairs.h"
#include "data/row_sets.h"
#include "data/split.h"
#include "test_util.h"

namespace disttune {
namespace {

TextDataset pairs(std::vector<std::string> anchors, std::vector<std::string> positives,
                  std::vector<std::string> ids = {}) {
  TextDataset d;
  d.roles = {"anchor", "positive"};
  d.columns = {std::move(anchors), std::move(positives)};
  d.ids = std::move(ids);
  for (size_t i = 0; i < d.columns[0].size(); ++i) d.lines.push_back(static_cast<int64_t>(i) + 1);
  d.source = "mem.jsonl";
  return d;
}

TEST(DataRowSets, HeldOutLabeledTextsBecomeTripletsOfTheirClasses) {
  TextDataset d;
  d.format = DataFormat::Texts;
  d.roles = {"text"};
  d.source = "mem.jsonl";
  d.label_names = {"a", "b", "c", "d"};
  const std::vector<int> label = {0, 1, 0, 2, 1, 0, 3, 1};  // class 2 and class 3 have one text each
  d.columns.resize(1);
  for (size_t i = 0; i < label.size(); ++i) {
    d.columns[0].push_back("t" + std::to_string(i));
    d.scores.push_back(static_cast<float>(label[i]));
    d.lines.push_back(static_cast<int64_t>(i) + 1);
  }
  // Rows in a split's order; each class's positives follow that order, wrapping round.
  const std::vector<int64_t> rows = {5, 0, 1, 2, 3, 4, 6, 7};
  const TripletSet s = triplet_set_from_labeled(d, rows, 7);
  EXPECT_EQ(s.anchors, (std::vector<std::string>{"t5", "t0", "t1", "t2", "t4", "t7"}));
  EXPECT_EQ(s.positives, (std::vector<std::string>{"t0", "t2", "t4", "t5", "t7", "t1"}));
  ASSERT_EQ(s.negatives.size(), 1u);
  ASSERT_EQ(s.negatives[0].size(), 6u);
  std::set<std::string> drawn;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const TripletSet t = triplet_set_from_labeled(d, rows, seed);
    EXPECT_EQ(t.anchors, s.anchors);
    for (size_t i = 0; i < t.anchors.size(); ++i) {
      const int a = label[std::stoul(t.anchors[i].substr(1))], n = label[std::stoul(t.negatives[0][i].substr(1))];
      EXPECT_NE(a, n) << t.anchors[i] << " " << t.negatives[0][i];
    }
    drawn.insert(t.negatives[0][0]);
  }
  // The draw is uniform over the other classes' texts: t5's (class a) are 5 texts.
  EXPECT_EQ(drawn.size(), 5u);
  EXPECT_EQ(triplet_set_from_labeled(d, rows, 7).negatives, s.negatives);
  // A split of one class, or of single texts, has no triplet.
  EXPECT_TRUE(triplet_set_from_labeled(d, {0, 2, 5}, 1).empty());
  EXPECT_TRUE(triplet_set_from_labeled(d, {3, 6}, 1).empty());
  EXPECT_THROW(triplet_set_from_labeled(pairs({"q"}, {"c"}), {0}, 1), InternalError);
}

TEST(DataIrFromPairs, QueriesAreHeldOutAnchorsCorpusIsAllPositivesDeduplicated) {
  // Rows 1 and 3 share a context; rows 0..4, held out: 1 and 4.
  const TextDataset d = pairs({"q0", "q1", "q2", "q3", "q4"}, {"c0", "shared", "c2", "shared", "c4"},
                              {"a", "b", "c", "d", "e"});
  const IrSet s = ir_set_from_pairs(d, {1, 4}, {0, 1, 2, 3, 4});
  EXPECT_EQ(s.query_ids, (std::vector<std::string>{"b", "e"}));
  EXPECT_EQ(s.queries, (std::vector<std::string>{"q1", "q4"}));
  EXPECT_EQ(s.corpus, (std::vector<std::string>{"c0", "shared", "c2", "c4"}));
  EXPECT_EQ(s.corpus_ids, (std::vector<std::string>{"a", "b", "c", "e"}));
  EXPECT_EQ(s.relevant, (std::vector<std::vector<int64_t>>{{1}, {3}}));
  // A query whose row's twin came first in the corpus points at that one document.
  const IrSet t = ir_set_from_pairs(d, {3}, {0, 1, 2, 3, 4});
  EXPECT_EQ(t.query_ids, (std::vector<std::string>{"d"}));
  EXPECT_EQ(t.relevant, (std::vector<std::vector<int64_t>>{{1}}));
  // Without an id column, ids are dataset row indices.
  const IrSet u = ir_set_from_pairs(pairs({"x", "y"}, {"cx", "cy"}), {1}, {0, 1});
  EXPECT_EQ(u.query_ids, (std::vector<std::string>{"1"}));
  EXPECT_EQ(u.corpus_ids, (std::vector<std::string>{"0", "1"}));
}

TEST(DataIrFromPairs, ScoredPairsAreRefused) {
  TextDataset d;
  d.format = DataFormat::Scored;
  d.roles = {"sentence1", "sentence2"};
  d.columns = {{"a"}, {"b"}};
  d.lines = {1};
  d.source = "s.csv";
  EXPECT_THROW(ir_set_from_pairs(d, {0}, {0}), UserError);
}

TEST(DataIrFromPairs, FinancialRagTestSplit) {
  DT_REQUIRE_DATA("financial-rag/pairs.jsonl");
  const TextDataset d = read_text_dataset(test::data_dir() + "/financial-rag/pairs.jsonl",
                                          {{"anchor", "anchor"}, {"positive", "positive"}, {"id", "id"}},
                                          BadRowPolicy::Skip);
  const SplitIndices sp = make_split(d.size(), 0.81, 0.09, 0.10, 42);
  std::vector<int64_t> all(static_cast<size_t>(d.size()));
  for (int64_t i = 0; i < d.size(); ++i) all[static_cast<size_t>(i)] = i;
  const IrSet s = ir_set_from_pairs(d, sp.test, all);
  EXPECT_EQ(s.queries.size(), 700u);
  // 6998 rows; identical contexts collapse into one document each.
  std::set<std::string> distinct(d.column("positive").begin(), d.column("positive").end());
  EXPECT_EQ(s.corpus.size(), distinct.size());
  EXPECT_LT(s.corpus.size(), 6998u);
  for (size_t q = 0; q < s.queries.size(); ++q) {
    ASSERT_EQ(s.relevant[q].size(), 1u);
    const int64_t row = sp.test[q];
    EXPECT_EQ(s.corpus[static_cast<size_t>(s.relevant[q][0])], d.column("positive")[static_cast<size_t>(row)]);
  }
}

struct DataBeir : ::testing::Test {
  test::TempDir dir;
  std::string write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(dir.file(name)).parent_path());
    test::write_text(dir.file(name), text);
    return dir.file(name);
  }
  std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const UserError& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(DataBeir, TitlesQrelsFilteringAndCountedInconsistencies) {
  write("corpus.jsonl",
        "{\"_id\": \"d1\", \"title\": \"T1\", \"text\": \"body one\"}\n"
        "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"body two\"}\n"
        "{\"_id\": 3, \"text\": \"body three\", \"metadata\": {}}\n");
  write("queries.jsonl",
        "{\"_id\": \"q1\", \"text\": \"first\"}\n"
        "{\"_id\": \"q2\", \"text\": \"second\"}\n"
        "{\"_id\": \"q3\", \"text\": \"third\"}\n"
        "{\"_id\": \"q4\", \"text\": \"not judged\"}\n");
  write("qrels/test.tsv",
        "query-id\tcorpus-id\tscore\r\n"
        "q2\t3\t1\r\n"
        "q1\td2\t2\r\n"
        "q1\td1\t1\r\n"
        "q3\td1\t0\r\n"
        "q9\td1\t1\r\n"
        "q1\tdX\t1\r\n");
  IrReadReport rep;
  const IrSet s = read_beir(dir.path(), "test", &rep);
  EXPECT_EQ(s.corpus, (std::vector<std::string>{"T1 body one", "body two", "body three"}));
  EXPECT_EQ(s.corpus_ids, (std::vector<std::string>{"d1", "d2", "3"}));
  // Queries named by the qrels, in queries.jsonl order; q4 is not judged so not kept.
  EXPECT_EQ(s.query_ids, (std::vector<std::string>{"q1", "q2", "q3"}));
  EXPECT_EQ(s.queries, (std::vector<std::string>{"first", "second", "third"}));
  EXPECT_EQ(s.relevant, (std::vector<std::vector<int64_t>>{{0, 1}, {2}, {}}));
  EXPECT_EQ(rep.qrels_rows, 6);
  EXPECT_EQ(rep.relevant_pairs, 3);
  EXPECT_EQ(rep.unknown_query_rows, 1);
  EXPECT_EQ(rep.unknown_doc_rows, 1);
  EXPECT_EQ(rep.queries_without_relevant, 1);
  EXPECT_FALSE(rep.clean());
  EXPECT_EQ(rep.summary(),
            "3 documents, 3 queries (of 4 in the queries file), 3 relevant pairs from 6 qrels rows; 1 qrels rows "
            "name unknown queries; 1 qrels rows name unknown documents; 1 queries have no relevant document "
            "(first: " + dir.file("qrels/test.tsv") + ":6: unknown query id 'q9')");

  // Separate files, qrels without a header, the last score of a repeated pair wins.
  write("q.tsv", "q1\td1\t1\nq1\td1\t0\nq2\td2\t1\n");
  const IrSet t = read_ir_files(dir.file("corpus.jsonl"), dir.file("queries.jsonl"), dir.file("q.tsv"));
  EXPECT_EQ(t.query_ids, (std::vector<std::string>{"q1", "q2"}));
  EXPECT_EQ(t.relevant, (std::vector<std::vector<int64_t>>{{}, {1}}));
}

TEST_F(DataBeir, StructuralErrorsNameFileAndLine) {
  write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d1\", \"text\": \"b\"}\n");
  write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"x\"}\n");
  write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
  EXPECT_EQ(error_of([&] { read_beir(dir.path(), "test"); }),
            dir.file("corpus.jsonl") + ":2: duplicate _id 'd1' (first on line 1)");
  write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d2\"}\n");
  EXPECT_EQ(error_of([&] { read_beir(dir.path(), "test"); }), dir.file("corpus.jsonl") + ":2: missing 'text'");
  write("corpus.jsonl", "{\"_id\": \"d1\", \"text\": \"a\"}\n");
  write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"x\"}\n{\"_id\": \"q1\", \"text\": \"y\"}\n");
  EXPECT_EQ(error_of([&] { read_beir(dir.path(), "test"); }),
            dir.file("queries.jsonl") + ":2: duplicate _id 'q1' (first on line 1)");
  write("queries.jsonl", "{\"_id\": \"q1\", \"text\": 5}\n");
  EXPECT_EQ(error_of([&] { read_beir(dir.path(), "test"); }),
            dir.file("queries.jsonl") + ":1: 'text': expected a string, got number");
  write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"x\"}\n");
  write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\n");
  EXPECT_EQ(error_of([&] { read_beir(dir.path(), "test"); }),
            dir.file("qrels/test.tsv") + ":2: expected 3 tab-separated fields (query-id, corpus-id, score), got 2");
  write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\thigh\n");
  EXPECT_EQ(error_of([&] { read_beir(dir.path(), "test"); }),
            dir.file("qrels/test.tsv") + ":2: score: expected a number, got 'high'");
  EXPECT_EQ(error_of([&] { read_beir(dir.path(), "dev"); }),
            dir.file("qrels/dev.tsv") + ": no such file (the qrels of split 'dev')");
}

TEST(DataBeirScifact, TestSplitCounts) {
  DT_REQUIRE_DATA("scifact/qrels/test.tsv");
  IrReadReport rep;
  const IrSet s = read_beir(test::data_dir() + "/scifact", "test", &rep);
  EXPECT_EQ(s.corpus.size(), 5183u);
  EXPECT_EQ(s.queries.size(), 300u);
  EXPECT_EQ(rep.queries_in_file, 1109);
  EXPECT_EQ(rep.qrels_rows, 339);
  EXPECT_EQ(rep.relevant_pairs, 339);
  EXPECT_TRUE(rep.clean()) << rep.summary();
  size_t judged = 0;
  for (const auto& r : s.relevant) {
    EXPECT_FALSE(r.empty());
    EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
    judged += r.size();
  }
  EXPECT_EQ(judged, 339u);
  // Document 0 of the corpus: title + " " + text.
  EXPECT_EQ(s.corpus_ids[0], "4983");
  EXPECT_EQ(s.corpus[0].rfind("Microstructural development of human newborn cerebral white matter assessed in vivo "
                              "by diffusion tensor magnetic resonance imaging. Alterations of the architecture",
                              0),
            0u);
  // Query 1 ("0-dimensional biomaterials show ...") is judged relevant to document 31715818.
  const auto q = std::find(s.query_ids.begin(), s.query_ids.end(), "1") - s.query_ids.begin();
  ASSERT_LT(q, 300);
  EXPECT_EQ(s.queries[static_cast<size_t>(q)], "0-dimensional biomaterials show inductive properties.");
  ASSERT_EQ(s.relevant[static_cast<size_t>(q)].size(), 1u);
  EXPECT_EQ(s.corpus_ids[static_cast<size_t>(s.relevant[static_cast<size_t>(q)][0])], "31715818");
}

}  // namespace
}  // namespace disttune
