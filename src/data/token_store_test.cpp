#include "data/token_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "common/env.h"
#include "common/hash64.h"
#include "config/config.h"
#include "data/random.h"
#include "dist/dist.h"
#include "test_util.h"
#include "text/tokenizer.h"

namespace disttune {
namespace {

namespace fs = std::filesystem;

std::string vocab() { return test::source_dir() + "/datasets/vocab/bert-base-uncased.txt"; }

const std::map<std::string, std::string> kTriplets = {
    {"anchor", "q"}, {"positive", "p"}, {"negative", "n"}};

// n triplet rows with texts of varied length (some longer than the max_length used below).
std::string triplets_jsonl(int n, const std::string& salt = "") {
  std::string s;
  for (int i = 0; i < n; ++i) {
    std::string longer;
    for (int k = 0; k < i % 13; ++k) longer += " revenue grew by " + std::to_string(k * 7) + "%";
    s += "{\"q\": \"What happened in Q" + std::to_string(i) + salt + "?\", \"p\": \"Context " +
         std::to_string(i) + ":" + longer + " Ünïcode façade.\", \"n\": \"Unrelated " +
         std::to_string(i * 3) + "\"}\n";
  }
  return s;
}

TokenStoreSpec spec_for(const std::string& cache, int max_length = 16) {
  TokenStoreSpec s;
  s.cache_dir = cache;
  s.max_length = max_length;
  s.columns = kTriplets;
  s.rows_per_step = 7;  // several steps, the last one partial
  return s;
}

void expect_rows_match(const TokenStore& s, const TextDataset& data, const Tokenizer& tok,
                       int max_length) {
  ASSERT_EQ(s.num_rows(), data.size());
  ASSERT_EQ(s.roles(), data.roles);
  for (size_t k = 0; k < data.roles.size(); ++k) {
    const auto got = s.rows(data.roles[k], data.all_rows());
    for (int64_t i = 0; i < data.size(); ++i)
      ASSERT_EQ(got[static_cast<size_t>(i)], tok.encode(data.columns[k][static_cast<size_t>(i)], max_length))
          << data.roles[k] << " row " << i;
  }
}

using test::error_of;

struct FileId {
  ino_t ino;
  int64_t mtime_ns;
  bool operator==(const FileId& o) const { return ino == o.ino && mtime_ns == o.mtime_ns; }
};
FileId file_id(const std::string& p) {
  struct stat st;
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return {st.st_ino, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

class DataTokenStore : public ::testing::Test {
 protected:
  void SetUp() override {
    src = dir.file("train.jsonl");
    test::write_text(src, triplets_jsonl(40));
    data = read_text_dataset(src, kTriplets, BadRowPolicy::Error);
  }
  TokenStore build(const TokenStoreSpec& s, TokenStoreBuild* b, const Tokenizer* t = nullptr) {
    return open_or_build_token_store(dist(), data, t ? *t : tok, s, b);
  }
  test::TempDir dir;
  std::string src;
  TextDataset data;
  Tokenizer tok = Tokenizer::from_vocab_file(vocab());
};

TEST_F(DataTokenStore, BuildsOnceWithEveryRoleEqualToTheTokenizerThenReuses) {
  TokenStoreBuild b;
  const TokenStoreSpec spec = spec_for(dir.file("cache"));
  TokenStore s = build(spec, &b);
  EXPECT_TRUE(b.built);
  EXPECT_EQ(b.reason, "no store yet");
  EXPECT_EQ(s.path(), token_store_path(dir.file("cache"), src));
  EXPECT_EQ(fs::path(s.path()).filename().string(),
            "train.jsonl-" + hex64(xxh64(fs::canonical(src).string())).substr(0, 8) + ".tokens.h5");
  expect_rows_match(s, data, tok, 16);
  int64_t ids = 0;
  for (const auto& r : data.roles) ids += s.num_ids(r);
  EXPECT_EQ(b.tokens, ids);
  // Truncated rows keep their special tokens: [CLS] ... [SEP] with max_length ids.
  const auto longest = s.rows("positive", {12});
  EXPECT_EQ(longest[0].size(), 16u);
  EXPECT_EQ(longest[0].front(), tok.cls_id());
  EXPECT_EQ(longest[0].back(), tok.sep_id());
  EXPECT_EQ(s.row_length("positive", 12), 16);
  EXPECT_EQ(s.attribute("source_size"), std::to_string(fs::file_size(src)));
  EXPECT_EQ(s.attribute("columns"), "anchor=q,negative=n,positive=p");
  EXPECT_EQ(s.attribute("on_bad_row"), "error");
  EXPECT_EQ(s.tokenizer_fingerprint(), tok.fingerprint());
  EXPECT_EQ(s.max_length(), 16);

  const FileId before = file_id(s.path());
  TokenStoreBuild again;
  TokenStore s2 = build(spec, &again);
  EXPECT_FALSE(again.built);
  EXPECT_EQ(again.tokens, 0);
  EXPECT_TRUE(file_id(s2.path()) == before);
  expect_rows_match(s2, data, tok, 16);
  // Nothing but the store in the cache directory (no temporaries).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("cache")), fs::directory_iterator()), 1);
}

TEST_F(DataTokenStore, RandomRowSetsReadByHyperslab) {
  TokenStoreBuild b;
  TokenStore s = build(spec_for(dir.file("cache")), &b);
  SplitMix64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<int64_t> rows;
    const int n = 1 + static_cast<int>(rng.below(60));
    for (int i = 0; i < n; ++i) rows.push_back(static_cast<int64_t>(rng.below(40)));  // repeats too
    for (size_t k = 0; k < data.roles.size(); ++k) {
      const auto got = s.rows(data.roles[k], rows);
      ASSERT_EQ(got.size(), rows.size());
      for (size_t i = 0; i < rows.size(); ++i)
        ASSERT_EQ(got[i], tok.encode(data.columns[k][static_cast<size_t>(rows[i])], 16));
    }
  }
  EXPECT_TRUE(s.rows("anchor", {}).empty());
  EXPECT_EQ(error_of([&] { s.rows("anchor", {3, 40}); }), s.path() + ": row 40 out of range (40 rows)");
  EXPECT_EQ(error_of([&] { s.rows("sentence1", {0}); }),
            s.path() + ": the token store has no role 'sentence1' (it has anchor, positive, negative)");
}

TEST_F(DataTokenStore, RebuiltWhenTheSourceTokenizerMaxLengthOrMappingChanges) {
  const TokenStoreSpec spec = spec_for(dir.file("cache"));
  TokenStoreBuild b;
  build(spec, &b);
  ASSERT_TRUE(b.built);

  // Same row count, one character different.
  test::write_text(src, triplets_jsonl(40, "x"));
  data = read_text_dataset(src, kTriplets, BadRowPolicy::Error);
  TokenStore s = build(spec, &b);
  EXPECT_TRUE(b.built);
  EXPECT_EQ(b.reason, "the source file changed");
  expect_rows_match(s, data, tok, 16);

  const Tokenizer cased = Tokenizer::from_vocab_file(vocab(), /*do_lower_case=*/false);
  s = build(spec, &b, &cased);
  EXPECT_TRUE(b.built);
  EXPECT_EQ(b.reason, "the tokenizer changed");
  expect_rows_match(s, data, cased, 16);
  build(spec, &b, &cased);
  EXPECT_FALSE(b.built);

  s = build(spec_for(dir.file("cache"), 32), &b);
  EXPECT_TRUE(b.built);
  EXPECT_EQ(b.reason, "the tokenizer changed");  // back to the uncased one, checked first
  s = build(spec_for(dir.file("cache"), 24), &b);
  EXPECT_EQ(b.reason, "max_length changed (32 -> 24)");
  expect_rows_match(s, data, tok, 24);

  TokenStoreSpec skip = spec_for(dir.file("cache"), 24);
  skip.on_bad_row = BadRowPolicy::Skip;
  build(skip, &b);
  EXPECT_EQ(b.reason, "data.on_bad_row changed (error -> skip)");

  // Mapping the same roles to other columns changes the rows.
  const std::map<std::string, std::string> swapped = {{"anchor", "q"}, {"positive", "n"}, {"negative", "p"}};
  data = read_text_dataset(src, swapped, BadRowPolicy::Skip);
  skip.columns = swapped;
  s = build(skip, &b);
  EXPECT_EQ(b.reason, "the column mapping changed (anchor=q,negative=n,positive=p -> anchor=q,negative=p,positive=n)");
  expect_rows_match(s, data, tok, 24);
}

TEST_F(DataTokenStore, DamagedStoresAreRebuiltNotTrusted) {
  // Each store is closed before its bytes are changed underneath (HDF5 would otherwise keep
  // serving the open file from its caches).
  const TokenStoreSpec spec = spec_for(dir.file("cache"));
  TokenStoreBuild b;
  const std::string path = build(spec, &b).path();
  const std::string bytes = test::read_text(path);

  // Truncated (a crash of something else, a full disk while copying the cache).
  test::write_text(path, bytes.substr(0, bytes.size() / 2));
  std::vector<int32_t> row0;
  {
    TokenStore s = build(spec, &b);
    EXPECT_TRUE(b.built);
    EXPECT_NE(b.reason.find("the store was unusable: " + path + ": damaged HDF5 file"), std::string::npos)
        << b.reason;
    expect_rows_match(s, data, tok, 16);
    row0 = s.rows("anchor", {0})[0];
  }

  // One flipped bit inside the ids of row 0 of the anchors: only the checksum can tell.
  const std::string needle(reinterpret_cast<const char*>(row0.data()), row0.size() * 4);
  std::string good = test::read_text(path);
  const size_t at = good.find(needle);
  ASSERT_NE(at, std::string::npos);
  good[at + 5] ^= 0x10;
  test::write_text(path, good);
  EXPECT_NE(error_of([&] { TokenStore::open(path).verify(); }).find("checksum"), std::string::npos);
  {
    TokenStore s = build(spec, &b);
    EXPECT_TRUE(b.built);
    EXPECT_NE(b.reason.find("checksum"), std::string::npos) << b.reason;
    expect_rows_match(s, data, tok, 16);
  }

  // Some other HDF5 file under the store's name.
  {
    H5File f = H5File::create(path);
    f.write("/x", at::zeros({3}));
  }
  build(spec, &b);
  EXPECT_EQ(b.reason, "the store was unusable: " + path +
                          ": not a disttune token store (no 'format' attribute 'disttune-token-store')");
}

// An Env whose publish fails (a full disk at fsync): the store must not appear.
class FailingStorePublishEnv : public Env {
 public:
  Status fsync_path(const std::string& path) override {
    return Status::Error(path + ": fsync failed: Input/output error");
  }
};

TEST_F(DataTokenStore, AFailedBuildLeavesNoPartialStoreAndKeepsTheOldOne) {
  const std::string cache = dir.file("cache");
  TokenStoreBuild b;
  const std::string path = build(spec_for(cache, 16), &b).path();
  const std::string old_bytes = test::read_text(path);

  FailingStorePublishEnv failing;
  Env* prev = set_default_env(&failing);
  const std::string e = error_of([&] { build(spec_for(cache, 20), &b); });
  set_default_env(prev);
  EXPECT_NE(e.find("building the token store " + path + ": "), std::string::npos) << e;
  EXPECT_NE(e.find("fsync failed"), std::string::npos) << e;
  EXPECT_EQ(test::read_text(path), old_bytes);  // the previous store, untouched
  EXPECT_EQ(std::distance(fs::directory_iterator(cache), fs::directory_iterator()), 1);

  // With no previous store: nothing under the final name afterwards.
  fs::remove(path);
  prev = set_default_env(&failing);
  EXPECT_NE(error_of([&] { build(spec_for(cache, 20), &b); }), "<no error>");
  set_default_env(prev);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(std::distance(fs::directory_iterator(cache), fs::directory_iterator()), 0);
}

TEST_F(DataTokenStore, ClearErrors) {
  TokenStoreSpec s = spec_for(dir.file("cache"), 1);
  EXPECT_EQ(error_of([&] { build(s, nullptr); }),
            "token store: max_length 1 is too small: the tokenizer adds 2 special tokens");
  test::write_text(dir.file("not.h5"), "hello");
  EXPECT_EQ(error_of([&] { TokenStore::open(dir.file("not.h5")); }), dir.file("not.h5") + ": not an HDF5 file");
  // An unwritable cache location (a file where the directory should be).
  test::write_text(dir.file("blocked"), "x");
  s = spec_for(dir.file("blocked") + "/cache");
  const std::string e = error_of([&] { build(s, nullptr); });
  EXPECT_NE(e.find("building the token store"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot create directory"), std::string::npos) << e;
}

// training.prompts: a role's prompt is prepended to each of its texts before tokenizing (the
// ids are those of prompt + text, truncated as any text), the other roles are unchanged, and
// a change of prompts rebuilds the store.
TEST_F(DataTokenStore, PromptsArePrependedAndDecideReuse) {
  TokenStoreBuild b;
  TokenStoreSpec spec = spec_for(dir.file("cache"), 24);
  build(spec, &b);
  EXPECT_EQ(build(spec, &b).attribute("prompts"), "");  // none: as a store from before prompts
  EXPECT_FALSE(b.built);
  spec.prompts = {{"anchor", "query: "}, {"negative", "passage: "}};
  TokenStore s = build(spec, &b);
  EXPECT_TRUE(b.built);
  EXPECT_EQ(b.reason, "training.prompts changed (none -> {\"anchor\":\"query: \",\"negative\":\"passage: \"})");
  for (size_t k = 0; k < data.roles.size(); ++k) {
    const std::string& role = data.roles[k];
    const std::string prompt = role == "anchor" ? "query: " : role == "negative" ? "passage: " : "";
    const auto got = s.rows(role, data.all_rows());
    for (int64_t i = 0; i < data.size(); ++i)
      ASSERT_EQ(got[static_cast<size_t>(i)], tok.encode(prompt + data.columns[k][static_cast<size_t>(i)], 24))
          << role << " row " << i;
  }
  // "query: " adds two tokens after [CLS]: "query" and ":".
  EXPECT_EQ(s.rows("anchor", {0})[0].size(), tok.encode(data.columns[0][0], 24).size() + 2);
  build(spec, &b);
  EXPECT_FALSE(b.built);
  spec.prompts.erase("negative");
  build(spec, &b);
  EXPECT_EQ(b.reason, "training.prompts changed ({\"anchor\":\"query: \",\"negative\":\"passage: \"} -> {\"anchor\":\"query: \"})");
}

TEST(DataTokenStoreSpec, ComesFromTheRunConfig) {
  const Config cfg = Config::from_yaml(
      "data:\n  columns: {anchor: q, positive: p, id: qid}\n  on_bad_row: skip\n"
      "output:\n  dir: runs/x\n",
      "cfg.yaml");
  const TokenStoreSpec s = token_store_spec(cfg, 128);
  EXPECT_EQ(s.cache_dir, "runs/x/cache");
  EXPECT_EQ(s.max_length, 128);
  EXPECT_EQ(s.columns, (std::map<std::string, std::string>{{"anchor", "q"}, {"positive", "p"}, {"id", "qid"}}));
  EXPECT_EQ(s.on_bad_row, BadRowPolicy::Skip);
  EXPECT_TRUE(s.prompts.empty());
  const Config with = Config::from_yaml("training:\n  prompts: {anchor: 'query: '}\n", "cfg.yaml");
  EXPECT_EQ(token_store_spec(with, 128).prompts, (std::map<std::string, std::string>{{"anchor", "query: "}}));
}

TEST(DataTokenStoreReal, FinancialRagEveryRowEqualsTheTokenizer) {
  DT_REQUIRE_DATA("financial-rag/pairs.jsonl");
  test::TempDir dir;
  const std::map<std::string, std::string> cols = {{"anchor", "anchor"}, {"positive", "positive"}};
  const TextDataset data =
      read_text_dataset(test::data_dir() + "/financial-rag/pairs.jsonl", cols, BadRowPolicy::Skip);
  const Tokenizer tok = Tokenizer::from_vocab_file(vocab());
  TokenStoreSpec spec;
  spec.cache_dir = dir.file("cache");
  spec.max_length = 128;
  spec.columns = cols;
  spec.on_bad_row = BadRowPolicy::Skip;
  spec.rows_per_step = 3000;
  TokenStoreBuild b;
  const TokenStore s = open_or_build_token_store(dist(), data, tok, spec, &b);
  EXPECT_TRUE(b.built);
  EXPECT_EQ(s.num_rows(), 6998);
  for (size_t k = 0; k < 2; ++k) {
    const auto want = tok.encode_batch(data.columns[k], 128);
    const auto got = s.rows(data.roles[k], data.all_rows());
    EXPECT_TRUE(got == want) << data.roles[k];
  }
}

// Under mpirun: the ranks tokenize slices, rank 0 writes, every rank reads identical rows.
TEST(MpiTokenStore, BuildsOnceAcrossRanksAndEveryRankReadsTheSameRows) {
  Dist& d = dist();
  std::optional<test::TempDir> owned;
  std::string root_dir;
  if (d.is_root()) {
    owned.emplace();
    root_dir = owned->path();
    test::write_text(root_dir + "/train.jsonl", triplets_jsonl(53));
  }
  d.comm->broadcast_bytes(root_dir, 0);
  const std::string src = root_dir + "/train.jsonl";
  const TextDataset data = read_text_dataset(src, kTriplets, BadRowPolicy::Error);
  const Tokenizer tok = Tokenizer::from_vocab_file(vocab());
  TokenStoreSpec spec = spec_for(root_dir + "/cache", 12);
  spec.rows_per_step = 5;  // slices of 1-2 rows per rank, some ranks empty at np 4 in the last step
  TokenStoreBuild b;
  TokenStore s = open_or_build_token_store(d, data, tok, spec, &b);
  EXPECT_TRUE(b.built);
  EXPECT_EQ(b.reason, "no store yet");
  expect_rows_match(s, data, tok, 12);

  std::string digest;
  for (const auto& role : data.roles)
    for (const auto& row : s.rows(role, data.all_rows()))
      digest += hex64(xxh64(row.data(), row.size() * 4));
  const auto all = d.comm->all_gather_bytes(digest);
  for (const auto& x : all) EXPECT_EQ(x, all[0]);

  TokenStoreBuild again;
  open_or_build_token_store(d, data, tok, spec, &again);
  EXPECT_FALSE(again.built);
  // A rank holding a different dataset is refused on every rank, before any work.
  if (d.world_size > 1) {
    TextDataset other = data;
    if (d.rank == 1) other.lines.pop_back(), other.columns[0].pop_back(), other.columns[1].pop_back(),
                     other.columns[2].pop_back();
    const std::string e = error_of([&] { open_or_build_token_store(d, other, tok, spec, nullptr); });
    EXPECT_NE(e.find("rank 1 has 52 rows"), std::string::npos) << e;
  }
  d.comm->barrier();  // everyone is done with the files before rank 0 removes them
}

}  // namespace
}  // namespace disttune
