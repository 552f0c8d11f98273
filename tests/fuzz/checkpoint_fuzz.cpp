// checkpoint: the bytes are a checkpoint file (HDF5), loaded as `resume` loads one:
// read_checkpoint_info (what resume: auto looks at to choose) then read_checkpoint. Seeds
// are small checkpoints written by write_checkpoint itself.
#include <fstream>
#include <sstream>

#include "fuzz.h"
#include "io/checkpoint.h"

namespace disttune::fuzz {
namespace {

void fuzz_checkpoint(std::string_view input) {
  const std::string path = write_scratch("ckpt/step-00000005.h5", input);
  const CheckpointInfo info = read_checkpoint_info(path);
  const Checkpoint c = read_checkpoint(path);
  if (c.state.step != info.step) bug("checkpoint", "read_checkpoint and read_checkpoint_info disagree on the step");
  if (c.model.empty()) bug("checkpoint", "a checkpoint without parameters was accepted");
}

// Behind the seal: the mutated file is sealed again, so that libhdf5 parses the damage.
// Not part of `all`: libhdf5 1.10 crashes on such files (docs/reliability.md, Fuzzing);
// this target is how those crashes were found and how they can be reproduced.
void explore_hdf5(std::string_view input) {
  const std::string path = write_scratch("ckpt/step-00000007.h5", input);
  seal_checkpoint(path);
  const Checkpoint c = read_checkpoint(path);
  (void)c;
}

Checkpoint sample_checkpoint(int64_t step, bool with_optimizer) {
  Checkpoint c;
  c.state.step = step;
  c.state.epoch = 1;
  c.state.batch_in_epoch = 3;
  c.state.samples_seen = 96;
  c.state.best_metric = 0.5;
  c.state.best_step = step;
  c.model = {{"embeddings.word_embeddings.weight", at::arange(24, at::kFloat).reshape({6, 4})},
             {"pooler.bias", at::full({4}, 0.25)}};
  if (with_optimizer)
    c.optimizer = {{"exp_avg/pooler.bias", at::ones({4})}, {"step", at::tensor({int64_t(step)})}};
  c.scheduler = {{"name", "cosine"}, {"total_steps", "100"}};
  c.sampler = {{"epoch", "1"}, {"seed", "42"}};
  c.rng = {{"seed", "42"}};
  c.world_size = 2;
  c.global_batch_size = 32;
  c.config_yaml = "training:\n  epochs: 1\n";
  c.metrics_json = R"({"cosine_ndcg@10": 0.5})";
  return c;
}

std::string checkpoint_bytes(const Checkpoint& c) {
  const std::string path = scratch_dir() + "/ckpt-seed/" + checkpoint_name(c.state.step);
  write_checkpoint(path, c);
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> checkpoint_seeds() {
  return {checkpoint_bytes(sample_checkpoint(5, true)), checkpoint_bytes(sample_checkpoint(6, false))};
}

}  // namespace

DT_FUZZ_TARGET(checkpoint, "checkpoint", "checkpoint loader (HDF5 file: read_checkpoint_info, read_checkpoint)",
               fuzz_checkpoint, checkpoint_seeds, 65536,
               "HDF", "\x89HDF\r\n\x1a\n", "TREE", "HEAP", "SNOD", "OHDR", "OCHK", "GCOL", "FRHP",
               "BTHD", "FSHD", "disttune-checkpoint", "format_version", "step", "/model", "/state");

DT_FUZZ_TARGET(explore_hdf5, "explore_hdf5",
               "libhdf5 on damaged checkpoints, re-sealed after mutation (crashes inside libhdf5)",
               explore_hdf5, checkpoint_seeds, 65536, "HDF", "TREE", "HEAP", "SNOD", "OHDR", "GCOL");

}  // namespace disttune::fuzz
