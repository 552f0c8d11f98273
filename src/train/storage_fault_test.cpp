// Storage faults (docs/reliability.md): every file disttune writes — checkpoints, token
// stores, embeddings, mined triplets, safetensors, exported model directories, JSON outputs
// (report.json, report.md, eval --output) and metrics.jsonl — meets disk full at the first
// write and partway, short writes, fsync failures of the file and of its directory, and a
// failing rename, injected beneath the Env's write loops (tests/fault_env.h). Each time: the
// error names the file and the OS error, no temporary is left, no descriptor leaks, and the
// previous file is still there and loads completely (or, when only the directory fsync
// failed, the new one is in place and complete).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "common/atomic_file.h"
#include "common/env.h"
#include "data/mining.h"
#include "data/text_dataset.h"
#include "data/token_store.h"
#include "dist/dist.h"
#include "embed/embedder.h"
#include "embed/embedding_file.h"
#include "fault_env.h"
#include "io/checkpoint.h"
#include "io/h5.h"
#include "model/safetensors.h"
#include "model/sentence_model.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "train/export.h"
#include "train/metrics_log.h"

namespace disttune {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::FaultEnv;
using test::ScopedEnv;

std::string sf_vocab() { return test::source_dir() + "/datasets/vocab/bert-base-uncased.txt"; }

// Every path under `dir` (files, directories, links), relative, sorted.
std::set<std::string> listing(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.insert(e.path().lexically_relative(dir).string());  // links named, not resolved
  return out;
}

// A writer of one kind of output: write(dir, v) writes version v (1 or 2) of it under dir
// through Env::Default(); version_of(dir) reads the output back completely (checksums
// verified) and says which version it is.
struct Writer {
  std::function<std::string(const std::string& dir)> target;
  std::function<void(const std::string& dir, int v)> write;
  std::function<int(const std::string& dir)> version_of;
  // Whether a failing directory fsync comes after the new output is in place (one file
  // published by rename) rather than while it is still being assembled (a model directory).
  bool dir_fsync_after_rename = true;
};

// ---- the writers ----

Writer checkpoint_writer() {
  Writer w;
  w.target = [](const std::string& dir) { return dir + "/checkpoints/step-00000001.h5"; };
  w.write = [w](const std::string& dir, int v) {
    Checkpoint c;
    c.state.step = 1;
    c.state.best_step = v;
    c.model = {{"embeddings.word_embeddings.weight", at::full({300, 64}, float(v))},
               {"encoder.layer.0.output.dense.weight", at::full({64, 64}, float(v))}};
    c.optimizer = {{"exp_avg/x", at::full({300, 64}, float(v))}, {"step/x", at::tensor({int64_t{v}})}};
    c.scheduler = {{"name", "linear"}};
    c.sampler = {{"epoch", "0"}};
    c.rng = {{"seed", "1"}};
    c.global_batch_size = 8;
    c.config_yaml = "training: {}\n";
    write_checkpoint(w.target(dir), c);
  };
  w.version_of = [w](const std::string& dir) {
    const Checkpoint c = read_checkpoint(w.target(dir));
    const int v = static_cast<int>(c.state.best_step);
    for (const auto& [name, t] : c.model) EXPECT_TRUE(at::equal(t, at::full_like(t, float(v)))) << name;
    return v;
  };
  return w;
}

Writer token_store_writer() {
  Writer w;
  static const std::map<std::string, std::string> kCols = {{"anchor", "q"}, {"positive", "p"}};
  auto data_of = [](const std::string& dir) {
    const std::string src = dir + "/train.jsonl";
    if (!fs::exists(src)) {
      std::string rows;
      for (int i = 0; i < 300; ++i)
        rows += "{\"q\": \"question " + std::to_string(i) + " about revenue growth\", \"p\": "
                "\"context " + std::to_string(i) + ": the segment margin rose by " +
                std::to_string(i % 17) + " percent over the quarter\"}\n";
      test::write_text(src, rows);
    }
    return read_text_dataset(src, kCols, BadRowPolicy::Error);
  };
  auto spec_of = [](const std::string& dir, int v) {
    TokenStoreSpec s;
    s.cache_dir = dir + "/cache";
    s.max_length = 8 + 4 * v;  // another max_length: the store is rebuilt
    s.columns = kCols;
    s.rows_per_step = 64;
    return s;
  };
  w.target = [data_of](const std::string& dir) {
    return token_store_path(dir + "/cache", data_of(dir).source);
  };
  w.write = [data_of, spec_of](const std::string& dir, int v) {
    static const Tokenizer tok = Tokenizer::from_vocab_file(sf_vocab());
    TokenStoreBuild b;
    open_or_build_token_store(dist(), data_of(dir), tok, spec_of(dir, v), &b);
  };
  w.version_of = [w](const std::string& dir) {
    const TokenStore s = TokenStore::open(w.target(dir));
    s.verify();
    return (s.max_length() - 8) / 4;
  };
  return w;
}

Writer embeddings_writer() {
  Writer w;
  w.target = [](const std::string& dir) { return dir + "/emb.h5"; };
  w.write = [w](const std::string& dir, int v) {
    EncodedShard shard{at::full({500, 48}, float(v)), at::arange(500, at::kLong)};
    std::vector<std::string> ids;
    for (int i = 0; i < 500; ++i) ids.push_back("doc-" + std::to_string(i));
    EmbeddingFileMeta meta;
    meta.model = "m";
    meta.architecture = "bert";
    meta.pooling = "mean";
    meta.input = "in.jsonl";
    write_embedding_file(dist(), w.target(dir), shard, 500, ids, meta);
  };
  w.version_of = [w](const std::string& dir) {
    const EmbeddingFileMeta m = read_embedding_meta(w.target(dir));
    EXPECT_EQ(m.count, 500);
    const at::Tensor e = read_embedding_rows(w.target(dir), 0, m.count);
    const int v = static_cast<int>(e[0][0].item<float>());
    EXPECT_TRUE(at::equal(e, at::full_like(e, float(v))));
    return v;
  };
  return w;
}

Writer mined_writer() {
  Writer w;
  w.target = [](const std::string& dir) { return dir + "/mined.jsonl"; };
  w.write = [w](const std::string& dir, int v) {
    std::vector<std::string> anchors, positives;
    MiningResult res;
    for (int i = 0; i < 400; ++i) {
      anchors.push_back(str_cat("v", v, " anchor ", i));
      positives.push_back(str_cat("positive ", i));
      res.corpus.push_back(str_cat("document ", i, " with a longer text to fill the file"));
      res.negatives.push_back({(i + 1) % 400, (i + 2) % 400});
    }
    MiningOptions o;
    o.num_negatives = 2;
    EXPECT_EQ(write_mined_jsonl(w.target(dir), anchors, positives, res, o), 800);
  };
  w.version_of = [w](const std::string& dir) {
    std::istringstream in(test::read_text(w.target(dir)));
    int lines = 0, v = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      const auto j = nlohmann::json::parse(line);
      v = j.at("anchor").get<std::string>()[1] - '0';
    }
    EXPECT_EQ(lines, 800);
    return v;
  };
  return w;
}

Writer safetensors_writer() {
  Writer w;
  w.target = [](const std::string& dir) { return dir + "/model.safetensors"; };
  w.write = [w](const std::string& dir, int v) {
    write_safetensors(w.target(dir), {{"a", at::full({30000}, float(v))}, {"b", at::full({7}, float(v))}})
        .throw_if_error();
  };
  w.version_of = [w](const std::string& dir) {
    const SafetensorsFile f = read_safetensors(w.target(dir)).value();
    EXPECT_EQ(f.tensors.size(), 2u);
    return static_cast<int>(f.tensors.at(0).tensor[0].item<float>());
  };
  return w;
}

// The two models an export writes: version v is initialised with seed v.
const SentenceModel& sf_model(int v) {
  static std::map<int, SentenceModel> models;
  auto it = models.find(v);
  if (it == models.end()) {
    InitOptions init;
    init.vocab = sf_vocab();
    init.hidden_size = 16;
    init.num_layers = 1;
    init.num_heads = 2;
    init.intermediate_size = 32;
    init.max_position = 32;
    init.seed = static_cast<uint64_t>(v);
    it = models.emplace(v, SentenceModel::init(init)).first;
  }
  return it->second;
}

Writer export_writer() {
  Writer w;
  w.target = [](const std::string& dir) { return dir + "/final"; };
  w.write = [w](const std::string& dir, int v) { export_model_dir(sf_model(v), w.target(dir)); };
  w.version_of = [w](const std::string& dir) {
    SentenceModel m = SentenceModel::load(w.target(dir));
    const at::Tensor got = m.parameters().at(0).tensor;
    for (int v : {1, 2})
      if (at::equal(got, const_cast<SentenceModel&>(sf_model(v)).parameters().at(0).tensor)) return v;
    ADD_FAILURE() << "the exported model is neither version";
    return 0;
  };
  w.dir_fsync_after_rename = false;  // every file's publish fsyncs the temporary directory
  return w;
}

// report.json, report.md, eval --output, model configs: Env::write_file_atomic.
Writer json_writer() {
  Writer w;
  w.target = [](const std::string& dir) { return dir + "/report.json"; };
  w.write = [w](const std::string& dir, int v) {
    nlohmann::json j;
    j["version"] = v;
    j["padding"] = std::string(3000000, 'x');  // several buffered writes
    Env::Default()->write_file_atomic(w.target(dir), j.dump(2) + "\n").throw_if_error();
  };
  w.version_of = [w](const std::string& dir) {
    return nlohmann::json::parse(test::read_text(w.target(dir))).at("version").get<int>();
  };
  return w;
}

const std::map<std::string, Writer>& writers() {
  static const std::map<std::string, Writer> w = {
      {"checkpoint", checkpoint_writer()}, {"token_store", token_store_writer()},
      {"embeddings", embeddings_writer()}, {"mined_negatives", mined_writer()},
      {"safetensors", safetensors_writer()}, {"model_dir", export_writer()},
      {"json", json_writer()}};
  return w;
}

enum class Fault { NoSpaceAtFirstWrite, NoSpacePartway, ShortWrites, FileFsync, DirFsync, Rename };

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::NoSpaceAtFirstWrite: return "NoSpaceAtFirstWrite";
    case Fault::NoSpacePartway: return "NoSpacePartway";
    case Fault::ShortWrites: return "ShortWrites";
    case Fault::FileFsync: return "FileFsync";
    case Fault::DirFsync: return "DirFsync";
    case Fault::Rename: return "Rename";
  }
  return "?";
}

// Bytes that writing version 2 of `w` from scratch puts through the Env.
int64_t bytes_written(const Writer& w) {
  test::TempDir scratch;
  w.write(scratch.path(), 1);  // inputs the writer needs (a source file, say) exist now
  fs::remove_all(w.target(scratch.path()));
  FaultEnv counting;
  ScopedEnv scoped(&counting);
  w.write(scratch.path(), 2);
  return counting.bytes;
}

class StorageFaultWriters : public ::testing::TestWithParam<std::tuple<std::string, Fault>> {};

TEST_P(StorageFaultWriters, KeepThePreviousOutputAndReportTheFileAndTheOsError) {
  const auto& [name, fault] = GetParam();
  const Writer& w = writers().at(name);
  test::TempDir dir;
  w.write(dir.path(), 1);
  ASSERT_EQ(w.version_of(dir.path()), 1);
  const std::set<std::string> before = listing(dir.path());
  const std::string target = w.target(dir.path());

  FaultEnv env;
  switch (fault) {
    case Fault::NoSpaceAtFirstWrite: env.enospc_after = 0; break;
    case Fault::NoSpacePartway: env.enospc_after = bytes_written(w) / 2; break;
    case Fault::ShortWrites: env.max_write = 4093; break;
    case Fault::FileFsync: env.fail_file_fsync = true; break;
    case Fault::DirFsync: env.fail_dir_fsync = true; break;
    case Fault::Rename: env.fail_rename = true; break;
  }
  const int fds = test::open_fd_count();
  std::string error;
  {
    ScopedEnv scoped(&env);
    error = error_of([&] { w.write(dir.path(), 2); });
  }
  EXPECT_GT(env.injected, 0) << "the fault never fired";
  if (fault == Fault::NoSpacePartway) {
    EXPECT_GT(env.bytes, 0);
  }
  EXPECT_EQ(test::open_fd_count(), fds) << "a file descriptor leaked";
  EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "an HDF5 object was left open";
  EXPECT_EQ(listing(dir.path()), before) << "a temporary was left behind (or the output vanished)";

  if (fault == Fault::ShortWrites) {  // the writers loop: nothing is lost
    EXPECT_EQ(error, "<no error>");
    EXPECT_EQ(w.version_of(dir.path()), 2);
    return;
  }
  EXPECT_NE(error, "<no error>");
  EXPECT_NE(error.find(target), std::string::npos) << "the error does not name " << target << ": " << error;
  const char* os_error = fault == Fault::NoSpaceAtFirstWrite || fault == Fault::NoSpacePartway
                             ? "No space left on device"
                             : "Input/output error";
  EXPECT_NE(error.find(os_error), std::string::npos) << error;
  if (fault == Fault::FileFsync || fault == Fault::DirFsync) {
    EXPECT_NE(error.find("fsync failed"), std::string::npos) << error;
  }
  const bool replaced = fault == Fault::DirFsync && w.dir_fsync_after_rename;
  EXPECT_EQ(w.version_of(dir.path()), replaced ? 2 : 1);

  // The same write succeeds once the disk is healthy again.
  w.write(dir.path(), 2);
  EXPECT_EQ(w.version_of(dir.path()), 2);
  EXPECT_EQ(listing(dir.path()), before);
}

INSTANTIATE_TEST_SUITE_P(
    StorageFault, StorageFaultWriters,
    ::testing::Combine(::testing::Values("checkpoint", "token_store", "embeddings", "mined_negatives",
                                         "safetensors", "model_dir", "json"),
                       ::testing::Values(Fault::NoSpaceAtFirstWrite, Fault::NoSpacePartway,
                                         Fault::ShortWrites, Fault::FileFsync, Fault::DirFsync,
                                         Fault::Rename)),
    [](const auto& info) {
      return std::get<0>(info.param) + "_" + fault_name(std::get<1>(info.param));
    });

// ---- checkpoints: the earlier ones survive a failed next one ----

TEST(StorageFaultCheckpoint, AFailedNextCheckpointLeavesTheEarlierOnesLoadable) {
  for (Fault fault : {Fault::NoSpaceAtFirstWrite, Fault::NoSpacePartway, Fault::FileFsync, Fault::Rename}) {
    SCOPED_TRACE(fault_name(fault));
    test::TempDir dir;
    const std::string ckpts = dir.file("checkpoints");
    auto save = [&](int64_t step) {
      Checkpoint c;
      c.state.step = step;
      c.model = {{"w", at::full({20000}, float(step))}};
      write_checkpoint(ckpts + "/" + checkpoint_name(step), c);
    };
    save(1);
    save(2);
    FaultEnv env;
    env.match = "step-00000003";
    env.enospc_after = fault == Fault::NoSpaceAtFirstWrite ? 0 : fault == Fault::NoSpacePartway ? 40000 : -1;
    env.fail_file_fsync = fault == Fault::FileFsync;
    env.fail_rename = fault == Fault::Rename;
    {
      ScopedEnv scoped(&env);
      EXPECT_NE(error_of([&] { save(3); }), "<no error>");
    }
    EXPECT_GT(env.injected, 0);
    const std::vector<std::string> left = list_checkpoints(ckpts);
    ASSERT_EQ(left.size(), 2u);
    for (int64_t step : {1, 2}) {
      const Checkpoint c = read_checkpoint(ckpts + "/" + checkpoint_name(step));
      EXPECT_EQ(c.state.step, step);
      EXPECT_TRUE(at::equal(c.model.at(0).second, at::full({20000}, float(step))));
    }
    EXPECT_EQ(listing(ckpts), (std::set<std::string>{checkpoint_name(1), checkpoint_name(2)}));
  }
}

// HDF5 errors used to say "write failed (disk full?)"; through the Env driver they carry
// the file and the OS error, and a failed create says why.
TEST(StorageFaultHdf5, ErrorsNameTheFileAndTheOsError) {
  test::TempDir dir;
  EXPECT_EQ(error_of([&] { H5File::create(dir.file("missing/x.h5")); }),
            dir.file("missing/x.h5") + ": cannot create: No such file or directory");
  FaultEnv env;
  env.enospc_after = 3000;
  const std::string e = error_of([&] {
    H5File f = H5File::create(dir.file("x.h5"), &env);
    f.write("/a", at::ones({100000}));
    f.close();
  });
  EXPECT_EQ(e.rfind(dir.file("x.h5") + ": write failed: No space left on device (", 0), 0u) << e;
  // Chunked data that HDF5 caches and writes only when the dataset closes: the failure still
  // reaches close(), so an incomplete file is never taken for a complete one.
  FaultEnv later;
  later.enospc_after = 3000;
  const std::string e2 = error_of([&] {
    H5File f = H5File::create(dir.file("y.h5"), &later);
    f.write("/a", at::ones({600}), {.checksum = true});
    f.write("/b", at::ones({600}), {.checksum = true});
    f.close();
  });
  EXPECT_NE(e2.find("No space left on device"), std::string::npos) << e2;
  EXPECT_GT(later.injected, 0);
}

// One transient I/O error on any single write of an HDF5 file — a chunk that HDF5 flushes
// while a dataset closes, metadata at close — is reported; the file is never taken for
// complete, and HDF5 is left with nothing open (h5_env_driver.h says why that needs care).
TEST(StorageFaultHdf5, EverySingleFailedWriteIsReported) {
  test::TempDir dir;
  auto write_file = [&](Env* env) {
    H5File f = H5File::create(dir.file("x.h5"), env);
    f.write("/a", at::ones({700}), {.checksum = true});
    f.write("/b", at::ones({50, 3}, at::kLong), {.checksum = true, .chunk_rows = 16});
    f.write_strings("/s", {"x", "y"});
    f.set_attr("/", "k", std::string("v"));
    f.close();
  };
  FaultEnv counting;
  write_file(&counting);
  ASSERT_GT(counting.writes, 3);
  for (int64_t n = 1; n <= counting.writes; ++n) {
    FaultEnv env;
    env.eio_at_write = n;
    const std::string e = error_of([&] { write_file(&env); });
    EXPECT_NE(e.find(dir.file("x.h5") + ": write failed: Input/output error"), std::string::npos)
        << "write " << n << " of " << counting.writes << ": " << e;
    // Nothing left open in HDF5: an object whose close failed stays registered after HDF5
    // freed it, and crashes the process at library shutdown.
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "write " << n << ": " << e;
  }
}

// Files written through the driver are ordinary HDF5 files (read back with the default driver).
TEST(StorageFaultHdf5, FilesThroughTheEnvDriverReadWithTheDefaultDriver) {
  test::TempDir dir;
  FaultEnv env;
  env.max_write = 61;  // tiny short writes: the driver loops
  {
    H5File f = H5File::create(dir.file("x.h5"), &env);
    f.write("/g/a", at::arange(5000, at::kFloat), {.checksum = true});
    f.write("/e", at::empty({0}, at::kInt), {.checksum = true, .chunk_rows = 16, .extendable = true});
    f.append("/e", at::arange(40, at::kInt));
    f.append("/e", at::arange(40, at::kInt));
    f.write_strings("/s", {"one", "two"});
    f.set_attr("/", "k", std::string("v"));
    f.close();
  }
  EXPECT_GT(env.injected, 0);
  const H5File r = H5File::open_read(dir.file("x.h5"));
  EXPECT_TRUE(at::equal(r.read("/g/a"), at::arange(5000, at::kFloat)));
  EXPECT_TRUE(at::equal(r.read("/e"), at::cat({at::arange(40, at::kInt), at::arange(40, at::kInt)})));
  EXPECT_EQ(r.read_strings("/s"), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(r.attr_string("/", "k"), "v");
}

// ---- metrics.jsonl: appended, never left with a torn line ----

TEST(StorageFaultMetricsLog, AFailedAppendLeavesWholeLinesAndNamesTheFile) {
  test::TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  MetricsLog log(path, true);
  log.write({{"step", 1}, {"loss", 0.5}});
  const std::string before = test::read_text(path);
  for (int64_t after : {0, 5}) {  // disk full at the first byte, and after a short write
    FaultEnv env;
    env.enospc_after = after;
    ScopedEnv scoped(&env);
    EXPECT_EQ(error_of([&] { log.write({{"step", 2}, {"loss", 0.25}}); }),
              path + ": write failed: No space left on device");
    EXPECT_EQ(env.bytes, after);
    EXPECT_EQ(test::read_text(path), before);  // the torn line is cut off again
  }
  FaultEnv short_writes;
  short_writes.max_write = 3;
  {
    ScopedEnv scoped(&short_writes);
    log.write({{"step", 2}, {"loss", 0.25}});
  }
  EXPECT_GT(short_writes.injected, 0);
  EXPECT_EQ(test::read_text(path), before + "{\"loss\":0.25,\"step\":2}\n");
}

// ---- temporaries left by killed processes ----

TEST(StorageFaultCleanup, OnlyTheFilesOwnTemporariesGoAndLinksAreNotFollowed) {
  test::TempDir dir, outside;
  const std::string target = dir.file("train.jsonl-0123abcd.tokens.h5");
  test::write_text(outside.file("precious.tmp.5"), "keep");
  for (const char* n : {".tmp.4242", ".tmp.7x", ".tmp.", ".old.12"}) test::write_text(target + n, "x");
  test::write_text(dir.file("other.h5.tmp.99"), "x");
  fs::create_symlink(outside.file("precious.tmp.5"), target + ".tmp.5");
  EXPECT_EQ(remove_stale_temporaries_of(target), std::vector<std::string>{target + ".tmp.4242"});
  const std::set<std::string> kept = {"train.jsonl-0123abcd.tokens.h5.tmp.7x",
                                      "train.jsonl-0123abcd.tokens.h5.tmp.",
                                      "train.jsonl-0123abcd.tokens.h5.old.12", "other.h5.tmp.99",
                                      "train.jsonl-0123abcd.tokens.h5.tmp.5"};
  EXPECT_EQ(listing(dir.path()), kept);
  EXPECT_EQ(test::read_text(outside.file("precious.tmp.5")), "keep");
  EXPECT_TRUE(remove_stale_temporaries_of(dir.file("missing/x.h5")).empty());

  // A token store build removes its own leftovers first.
  const Writer w = token_store_writer();
  test::TempDir run;
  w.write(run.path(), 1);
  const std::string stale = w.target(run.path()) + ".tmp.31337";
  test::write_text(stale, "a killed build's partial store");
  w.write(run.path(), 2);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_EQ(w.version_of(run.path()), 2);
}

// ---- output directories: only the target itself is ever replaced ----

TEST(StorageFaultConfinement, ExportReplacesOnlyAModelDirectoryAndNeverFollowsALink) {
  test::TempDir dir, outside;
  const SentenceModel& m = sf_model(1);
  fs::create_directories(dir.file("notes"));
  fs::create_directories(outside.file("model"));
  test::write_text(dir.file("notes/keep.txt"), "mine");
  EXPECT_NE(error_of([&] { export_model_dir(m, dir.file("notes")); }).find("is not a model directory"),
            std::string::npos);
  test::write_text(dir.file("file"), "x");
  EXPECT_NE(error_of([&] { export_model_dir(m, dir.file("file")); }).find("is not a directory"),
            std::string::npos);
  for (const std::string& bad : {dir.path() + "/.", dir.path() + "/..", dir.file("notes/.."),
                                 std::string("/"), std::string(".")})
    EXPECT_NE(error_of([&] { export_model_dir(m, bad); }).find("does not name a directory that can be replaced"),
              std::string::npos) << bad;
  EXPECT_EQ(listing(dir.path()), (std::set<std::string>{"notes", "notes/keep.txt", "file"}));

  // A link to a model directory elsewhere: the link is replaced, its target untouched.
  test::write_text(outside.file("model/config.json"), "{}");
  fs::create_symlink(outside.file("model"), dir.file("final"));
  export_model_dir(m, dir.file("final") + "/");
  EXPECT_FALSE(fs::is_symlink(dir.file("final")));
  SentenceModel::load(dir.file("final"));
  EXPECT_EQ(listing(outside.path()), (std::set<std::string>{"model", "model/config.json"}));
  // An empty directory and an earlier export are replaced.
  fs::create_directory(dir.file("empty"));
  export_model_dir(m, dir.file("empty"));
  export_model_dir(m, dir.file("empty"));
  SentenceModel::load(dir.file("empty"));
  EXPECT_NO_THROW(check_export_target(dir.file("new/sub")));
  EXPECT_THROW(check_export_target(dir.file("notes")), UserError);
}

// ---- AtomicFile: the building block of the non-HDF5 writers ----

TEST(StorageFaultAtomicFile, NothingUnderTheNameUntilCommitAndNoTemporaryAfterwards) {
  test::TempDir dir;
  const std::string path = dir.file("out.txt");
  {
    AtomicFile f(path);
    f.append("abc");
    EXPECT_FALSE(fs::exists(path));
  }  // dropped without commit: the temporary goes
  EXPECT_TRUE(listing(dir.path()).empty());
  AtomicFile f(path);
  f.append(std::string(3 << 20, 'y'));  // larger than the buffer: written through
  f.append("z");
  ASSERT_TRUE(f.commit().ok());
  EXPECT_EQ(fs::file_size(path), (3u << 20) + 1);
  EXPECT_EQ(listing(dir.path()), std::set<std::string>{"out.txt"});
  const AtomicFile bad(dir.file("no/such/dir/x"));
  EXPECT_EQ(bad.status().message(), dir.file("no/such/dir/x") + ": cannot create " +
                                        Env::temp_name(dir.file("no/such/dir/x")) +
                                        ": No such file or directory");
}

}  // namespace
}  // namespace disttune
