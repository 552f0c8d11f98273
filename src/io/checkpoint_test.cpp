#include "io/checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/check.h"
#include "common/env.h"
#include "io/h5.h"
#include "test_util.h"

namespace disttune {
namespace {

using test::error_of;

Checkpoint sample(int64_t step) {
  Checkpoint c;
  c.state.step = step;
  c.state.epoch = 2;
  c.state.batch_in_epoch = 17;
  c.state.samples_seen = 4242;
  c.state.best_metric = 0.8226;
  c.state.best_step = step - 1;
  c.state.loss_scale = 32768;
  c.state.evals_without_improvement = 3;
  c.model = {{"embeddings.word_embeddings.weight", at::randn({30, 8})},
             {"encoder.layer.0.attention.self.query.bias", at::randn({8})}};
  c.optimizer = {{"exp_avg/embeddings.word_embeddings.weight", at::randn({30, 8})},
                 {"step", at::tensor({int64_t(step)})}};
  c.scheduler = {{"name", "cosine"}, {"total_steps", "1000"}};
  c.sampler = {{"epoch", "2"}, {"batch_in_epoch", "17"}, {"seed", "42"}};
  c.rng = {{"scheme", "per-step"}, {"seed", "42"}};
  c.world_size = 4;
  c.global_batch_size = 512;
  c.config_yaml = "training:\n  epochs: 6\n";
  c.metrics_json = R"({"cosine_ndcg@10": 0.8226})";
  return c;
}

TEST(Checkpoint, RoundTripsEverything) {
  test::TempDir dir;
  const std::string path = dir.file("checkpoints/" + checkpoint_name(42));
  EXPECT_EQ(checkpoint_name(42), "step-00000042.h5");
  Checkpoint c = sample(42);
  write_checkpoint(path, c);
  Checkpoint r = read_checkpoint(path);
  EXPECT_EQ(r.state.step, 42);
  EXPECT_EQ(r.state.batch_in_epoch, 17);
  EXPECT_EQ(r.state.samples_seen, 4242);
  EXPECT_DOUBLE_EQ(r.state.best_metric, 0.8226);
  EXPECT_EQ(r.state.best_step, 41);
  EXPECT_DOUBLE_EQ(r.state.loss_scale, 32768);
  EXPECT_EQ(r.state.evals_without_improvement, 3);
  ASSERT_EQ(r.model.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(r.model[i].first, c.model[i].first);
    EXPECT_TRUE(at::equal(r.model[i].second, c.model[i].second));
  }
  ASSERT_EQ(r.optimizer.size(), 2u);
  EXPECT_EQ(r.optimizer[0].first, "exp_avg/embeddings.word_embeddings.weight");
  EXPECT_TRUE(at::equal(r.optimizer[0].second, c.optimizer[0].second));
  EXPECT_EQ(r.optimizer[1].second.item<int64_t>(), 42);
  EXPECT_EQ(r.scheduler, c.scheduler);
  EXPECT_EQ(r.sampler, c.sampler);
  EXPECT_EQ(r.rng, c.rng);
  EXPECT_EQ(r.world_size, 4);
  EXPECT_EQ(r.global_batch_size, 512);
  EXPECT_EQ(r.config_yaml, c.config_yaml);
  EXPECT_EQ(r.metrics_json, c.metrics_json);
  EXPECT_FALSE(std::filesystem::exists(Env::temp_name(path)));
}

// An Env whose fsync fails, as on a full or failing disk: the checkpoint must not appear.
class FailingFsyncEnv : public Env {
 public:
  Status fsync_path(const std::string& path) override {
    return Status::Error(path + ": fsync failed: Input/output error");
  }
};

TEST(Checkpoint, AFailedWriteLeavesThePreviousCheckpointAndNoPartialFile) {
  test::TempDir dir;
  const std::string first = dir.file(checkpoint_name(10));
  write_checkpoint(first, sample(10));
  FailingFsyncEnv failing;
  Env* prev = set_default_env(&failing);
  const std::string second = dir.file(checkpoint_name(20));
  const std::string e = error_of([&] { write_checkpoint(second, sample(20)); });
  set_default_env(prev);
  EXPECT_NE(e.find("fsync failed"), std::string::npos) << e;
  EXPECT_FALSE(std::filesystem::exists(second));
  EXPECT_FALSE(std::filesystem::exists(Env::temp_name(second)));
  EXPECT_EQ(list_checkpoints(dir.path()), std::vector<std::string>{first});
  EXPECT_EQ(read_checkpoint(first).state.step, 10);
}

TEST(Checkpoint, DamagedAndForeignFilesAreRefused) {
  test::TempDir dir;
  const std::string good = dir.file(checkpoint_name(5));
  write_checkpoint(good, sample(5));
  const std::string bytes = test::read_text(good);

  const std::string cut = dir.file("cut.h5");
  test::write_text(cut, bytes.substr(0, bytes.size() * 2 / 3));
  EXPECT_EQ(error_of([&] { read_checkpoint(cut); }).rfind(cut + ": ", 0), 0u);

  // Flip a byte inside the model data: the checksum catches it.
  const std::string flipped = dir.file("flipped.h5");
  at::Tensor w = read_checkpoint(good).model[0].second.contiguous();
  std::string needle(static_cast<const char*>(w.data_ptr()), 32);
  std::string damaged = bytes;
  const auto pos = damaged.find(needle);
  ASSERT_NE(pos, std::string::npos);
  damaged[pos + 7] ^= 0x10;
  test::write_text(flipped, damaged);
  EXPECT_NE(error_of([&] { read_checkpoint(flipped); }).find("checksum"), std::string::npos);

  // Foreign HDF5 file and wrong version.
  const std::string foreign = dir.file("foreign.h5");
  {
    H5File f = H5File::create(foreign);
    f.write("/data", at::ones({3}));
  }
  EXPECT_EQ(error_of([&] { read_checkpoint(foreign); }),
            foreign + ": not a disttune checkpoint: an HDF5 file without the checkpoint header (a "
                      "foreign file, or a checkpoint written before format version 2)");
  // Sealed, but without the format attribute.
  const std::string unformatted = dir.file("unformatted.h5");
  {
    H5File f = H5File::create(unformatted, nullptr, kCheckpointHeaderBytes);
    f.write("/data", at::ones({3}));
  }
  seal_checkpoint(unformatted);
  EXPECT_EQ(error_of([&] { read_checkpoint_info(unformatted); }),
            unformatted + ": not a disttune checkpoint (no 'format' attribute 'disttune-checkpoint')");
  const std::string future = dir.file("future.h5");
  write_checkpoint(future, sample(6));
  {
    H5File f = H5File::open_rw(future);
    f.set_attr("/", "format_version", int64_t{99});
  }
  // Edited in place: the seal no longer matches.
  EXPECT_NE(error_of([&] { read_checkpoint(future); }).find(": damaged checkpoint: checksum mismatch"),
            std::string::npos);
  seal_checkpoint(future);
  EXPECT_EQ(error_of([&] { read_checkpoint(future); }),
            future + ": checkpoint format version 99 is not supported (this build reads 2)");

  // A missing group (damaged by hand, then sealed again).
  const std::string nogroup = dir.file("nogroup.h5");
  write_checkpoint(nogroup, sample(7));
  {
    H5File f = H5File::open_rw(nogroup);
    H5Ldelete(f.id(), "/sampler", H5P_DEFAULT);
  }
  seal_checkpoint(nogroup);
  EXPECT_EQ(error_of([&] { read_checkpoint(nogroup); }),
            nogroup + ": damaged checkpoint: missing group '/sampler'");
  EXPECT_EQ(error_of([&] { read_checkpoint(dir.file("none.h5")); }),
            dir.file("none.h5") + ": cannot open: No such file or directory");
}

// Found by fuzzing (disttune_fuzz checkpoint): libhdf5 1.10 crashes (H5HG_read), hangs
// (H5HG__protect) or allocates gigabytes (H5T__conv_vlen) on damaged metadata, which HDF5
// does not checksum. The seal must refuse every damaged byte before libhdf5 parses it.
TEST(Checkpoint, EveryDamagedByteIsRefusedBeforeHdf5ReadsTheFile) {
  test::TempDir dir;
  const std::string good = dir.file(checkpoint_name(5));
  write_checkpoint(good, sample(5));
  const std::string bytes = test::read_text(good);
  ASSERT_EQ(bytes.compare(0, 20, "disttune-checkpoint\n"), 0);
  ASSERT_EQ(bytes.compare(kCheckpointHeaderBytes, 4, "\x89HDF"), 0);
  // The global heap holding the string attributes: where the fuzzer's crashes were.
  const size_t gcol = bytes.find("GCOL");
  ASSERT_NE(gcol, std::string::npos);
  std::vector<size_t> offsets = {kCheckpointHeaderBytes, kCheckpointHeaderBytes + 40, gcol + 4,
                                 gcol + 16, gcol + 24, bytes.size() - 1};
  for (size_t p = kCheckpointHeaderBytes + 7; p < bytes.size(); p += 509) offsets.push_back(p);
  const std::string damaged = dir.file(checkpoint_name(6));
  for (size_t p : offsets) {
    std::string b = bytes;
    b[p] = static_cast<char>(b[p] ^ 0x5A);
    test::write_text(damaged, b);
    const std::string e = error_of([&] { read_checkpoint(damaged); });
    EXPECT_EQ(e.rfind(damaged + ": damaged checkpoint: checksum mismatch", 0), 0u) << "byte " << p << ": " << e;
    EXPECT_EQ(error_of([&] { read_checkpoint_info(damaged); }), e);
  }
  // Damage to the header itself, a truncated header, trailing bytes.
  std::string b = bytes;
  b[27] = 'x';
  test::write_text(damaged, b);
  EXPECT_EQ(error_of([&] { read_checkpoint(damaged); }),
            damaged + ": damaged checkpoint: its header is not 'size <bytes>' and 'xxh64 <hex>'");
  test::write_text(damaged, bytes.substr(0, 300));
  EXPECT_EQ(error_of([&] { read_checkpoint(damaged); }),
            damaged + ": damaged checkpoint: the file is 300 bytes, shorter than its header (truncated)");
  test::write_text(damaged, bytes + "tail");
  EXPECT_EQ(error_of([&] { read_checkpoint(damaged); }),
            str_cat(damaged, ": damaged checkpoint: the file has ", bytes.size() + 4,
                    " bytes but was written with ", bytes.size()));
  test::write_text(damaged, "step 6\n");
  EXPECT_EQ(error_of([&] { read_checkpoint(damaged); }),
            damaged + ": not a disttune checkpoint (it does not start with the checkpoint header)");
  EXPECT_EQ(read_checkpoint(good).state.step, 5);
}

// Defence behind the seal, for a file that is sealed but malformed (edited by a tool, or
// crafted: XXH64 is no protection against that): group cycles and shapes that claim more
// bytes than the file holds are refused instead of recursing or allocating without bound.
TEST(Checkpoint, SealedButMalformedFilesAreRefusedCleanly) {
  test::TempDir dir;
  const std::string loop = dir.file("loop.h5");
  write_checkpoint(loop, sample(5));
  {
    H5File f = H5File::open_rw(loop);
    ASSERT_GE(H5Lcreate_hard(f.id(), "/model", f.id(), "/model/again", H5P_DEFAULT, H5P_DEFAULT), 0);
  }
  seal_checkpoint(loop);
  EXPECT_EQ(error_of([&] { read_checkpoint(loop); }),
            loop + ": damaged checkpoint: groups nest deeper than 8 levels at "
                   "'/model/again/again/again/again/again/again/again/again/again'");

  const std::string huge = dir.file("huge.h5");
  write_checkpoint(huge, sample(5));
  {
    H5File f = H5File::open_rw(huge);
    // A chunked dataset declaring 2^40 x 4 floats of which no chunk is ever written: the file
    // stays small, the shape asks for 16 TiB.
    hsize_t dims[2] = {hsize_t{1} << 40, 4}, chunk[2] = {1, 4};
    H5Handle space(H5Screate_simple(2, dims, nullptr));
    H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl.get(), 2, chunk);
    H5Handle ds(H5Dcreate2(f.id(), "/model/huge", H5T_NATIVE_FLOAT, space.get(), H5P_DEFAULT, dcpl.get(),
                           H5P_DEFAULT));
    ASSERT_TRUE(ds.valid());
  }
  seal_checkpoint(huge);
  const std::string e = error_of([&] { read_checkpoint(huge); });
  EXPECT_EQ(e.rfind(huge + ": dataset '/model/huge': its shape [1099511627776, 4] needs more bytes than the ", 0), 0u) << e;
  EXPECT_NE(e.find("-byte file holds (damaged file)"), std::string::npos) << e;
}

TEST(Checkpoint, ListAndPruneKeepTheNewestAndTheBest) {
  test::TempDir dir;
  for (int64_t s : {3, 1, 20, 10, 7}) write_checkpoint(dir.file(checkpoint_name(s)), sample(s));
  test::write_text(dir.file("step-00000099.h5.tmp.123"), "partial");
  test::write_text(dir.file("notes.txt"), "keep me");
  std::vector<std::string> all = list_checkpoints(dir.path());
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(std::filesystem::path(all.front()).filename(), "step-00000001.h5");
  EXPECT_EQ(std::filesystem::path(all.back()).filename(), "step-00000020.h5");
  prune_checkpoints(dir.path(), 2, 3);  // keep 10, 20 (newest) and 3 (best)
  all = list_checkpoints(dir.path());
  std::vector<std::string> names;
  for (auto& p : all) names.push_back(std::filesystem::path(p).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"step-00000003.h5", "step-00000010.h5",
                                             "step-00000020.h5"}));
  EXPECT_TRUE(std::filesystem::exists(dir.file("notes.txt")));
  EXPECT_EQ(read_checkpoint_info(all.back()).step, 20);
}

TEST(Checkpoint, TemporariesOfAKilledWriterAreRemovedAndNothingElse) {
  test::TempDir dir;
  write_checkpoint(dir.file(checkpoint_name(4)), sample(4));
  test::write_text(dir.file("step-00000006.h5.tmp.4242"), "partial");
  test::write_text(dir.file("step-00000006.h5.tmp.notapid"), "not ours");
  test::write_text(dir.file("report.json.tmp.7"), "not a checkpoint's");
  EXPECT_EQ(remove_checkpoint_temporaries(dir.path()), 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file("step-00000006.h5.tmp.4242")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("step-00000006.h5.tmp.notapid")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("report.json.tmp.7")));
  EXPECT_EQ(list_checkpoints(dir.path()).size(), 1u);
  EXPECT_EQ(remove_checkpoint_temporaries(dir.file("missing")), 0);
}

}  // namespace
}  // namespace disttune
