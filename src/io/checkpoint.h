// Checkpoint files (SPEC section 5): one HDF5 file per checkpoint,
// OUTPUT/checkpoints/step-<8 digits>.h5, written under a temporary name, fsynced and
// renamed, so that a file with the final name is always complete. Every dataset carries a
// Fletcher-32 checksum that HDF5 verifies when it is read, and the whole file is sealed: its
// first 512 bytes (an HDF5 user block, skipped by HDF5 and h5py) hold a header with the
// file's size and the XXH64 of everything after the header, verified before libhdf5 reads
// a byte of it. HDF5 itself does not checksum the metadata of these files, and libhdf5
// crashes, hangs or allocates gigabytes on some damaged object headers and heaps
// (docs/reliability.md, Fuzzing); the seal refuses such a file with a clear error first.
// It detects damage, not tampering: XXH64 is not a cryptographic hash.
//
//   bytes [0, 512)              "disttune-checkpoint\nsize <bytes>\nxxh64 <hex>\n", zero padded
//
//   /model/<hf name>            float32 parameters
//   /optimizer/<key>            optimizer state (e.g. exp_avg/<hf name>, exp_avg_sq/<hf name>, step)
//   /scheduler, /sampler, /rng  groups whose attributes hold their counters
//   /state                      the training-state counters (TrainState)
//   root attributes             format, format_version, step, epoch, world_size,
//                               global_batch_size, config (resolved YAML), metrics (JSON)
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace disttune {

// 2: sealed files (the header above); 1 had no seal and is refused.
constexpr int64_t kCheckpointFormatVersion = 2;
constexpr size_t kCheckpointHeaderBytes = 512;

using TensorList = std::vector<std::pair<std::string, at::Tensor>>;

// Every counter a resumed run needs to continue exactly where it stopped.
struct TrainState {
  int64_t step = 0;             // optimizer steps completed
  int64_t epoch = 0;            // epoch in progress (0-based)
  int64_t batch_in_epoch = 0;   // global batches of that epoch already consumed
  int64_t samples_seen = 0;     // anchors seen over all ranks
  double best_metric = -std::numeric_limits<double>::infinity();
  int64_t best_step = -1;
  double loss_scale = 1.0;      // fp16 dynamic loss scaling
  int64_t loss_scale_good_steps = 0;
  int64_t skipped_steps = 0;    // steps skipped for inf/nan gradients
  int64_t evals_without_improvement = 0;  // early stopping's patience counter
};

struct Checkpoint {
  TrainState state;
  TensorList model;       // HF parameter names
  TensorList optimizer;   // keys relative to /optimizer
  std::map<std::string, std::string> scheduler;  // attributes of /scheduler
  std::map<std::string, std::string> sampler;    // attributes of /sampler
  std::map<std::string, std::string> rng;        // attributes of /rng
  int64_t world_size = 1;
  int64_t global_batch_size = 0;
  std::string config_yaml;
  std::string metrics_json = "{}";
};

std::string checkpoint_name(int64_t step);  // "step-00000042.h5"

// Writes atomically (temporary name, fsync, rename, directory fsync) through Env.
// Throws UserError naming the file when anything fails; the previous files are untouched.
void write_checkpoint(const std::string& path, const Checkpoint& ckpt);

// Writes the header (size and XXH64 of the bytes after it) into the user block of a file
// written by write_checkpoint: write_checkpoint calls it, and so do tools and tests that
// edit a checkpoint in place. Throws UserError naming the file.
void seal_checkpoint(const std::string& path);

// Reads and validates (seal, format, version, every dataset's checksum, required groups).
// Throws UserError with a clear reason for damaged, truncated or foreign files.
Checkpoint read_checkpoint(const std::string& path);

// Root attributes only (cheap): for listing and choosing checkpoints.
struct CheckpointInfo {
  std::string path;
  int64_t step = 0, epoch = 0, world_size = 0, global_batch_size = 0;
  std::string metrics_json;
};
CheckpointInfo read_checkpoint_info(const std::string& path);

// step-*.h5 files in dir (no temporaries), by step ascending.
std::vector<std::string> list_checkpoints(const std::string& dir);

// Removes checkpoints in dir except the newest keep_last and the one at keep_step (the
// best; -1 for none). Never touches files outside dir or not named step-*.h5.
void prune_checkpoints(const std::string& dir, int64_t keep_last, int64_t keep_step);

// Removes the temporaries (step-N.h5.tmp.PID) that a writer killed mid-write left in `dir`
// (nothing else); returns how many. They are never complete, so never worth keeping.
int remove_checkpoint_temporaries(const std::string& dir);

}  // namespace disttune
