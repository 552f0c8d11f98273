// TokenStore: the token ids of every text of a dataset, tokenized once into an HDF5 file
// beside the run's output and read back by row (SPEC section 3), so that later runs and
// the N ranks of a job do not each tokenize the corpus.
//
// One store per source file, OUTPUT/cache/<source basename>-<8 hex>.tokens.h5 (the hex is
// the XXH64 of the source's absolute path, so two files with the same name do not collide).
// For every text role of the dataset (anchor, positive, negative, negative_2, ... or
// sentence1, sentence2):
//   /<role>/ids      int32, the ids of all rows concatenated (special tokens included,
//                    truncated to max_length as Tokenizer::encode does), Fletcher-32
//                    checksummed chunks of 4096 ids
//   /<role>/offsets  int64 [rows + 1]: row r is ids[offsets[r], offsets[r+1])
// Root attributes (everything that decides the contents): format "disttune-token-store",
// format_version, tokenizer_fingerprint (Tokenizer::fingerprint), source_path, source_size,
// source_xxh64 (XXH64 of the file's bytes, hex), max_length, columns (role=column,...),
// on_bad_row, rows, roles (comma-separated), prompts (a JSON object role -> prompt; absent
// or "" without prompts).
//
// The store is reused when every attribute matches what the run would write and the file
// verifies (structure, offsets, every checksum); otherwise it is rebuilt under a temporary
// name and published atomically (Env::publish), with a warning when it was damaged.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/text_dataset.h"
#include "io/h5.h"

namespace disttune {

class Config;
class Tokenizer;
struct Dist;

constexpr int64_t kTokenStoreFormatVersion = 1;

// Read access to a store. Rows are read by hyperslab: only the requested rows' ids (and the
// chunks holding them) are read; the offsets of every role are held in memory (8 bytes per
// row and role). rows() may be called from several threads (calls are serialised).
class TokenStore {
 public:
  // Opens and checks the structure (format, version, roles, shapes, offsets monotonic and
  // consistent with the ids). Does not read the ids. Throws UserError naming the file.
  static TokenStore open(const std::string& path);

  const std::string& path() const { return path_; }
  int64_t num_rows() const { return rows_; }
  const std::vector<std::string>& roles() const { return roles_; }
  bool has_role(const std::string& role) const;
  int max_length() const { return max_length_; }
  const std::string& tokenizer_fingerprint() const { return fingerprint_; }
  // Root attribute (for tools and tests).
  std::string attribute(const std::string& key) const;

  // The token ids of each requested row of `role`, in the order asked (rows may repeat).
  // Throws UserError for an unknown role or a row out of range, or when the file is
  // damaged (checksum).
  std::vector<std::vector<int32_t>> rows(const std::string& role,
                                         const std::vector<int64_t>& row_indices) const;
  // Number of ids of one row (no I/O).
  int64_t row_length(const std::string& role, int64_t row) const;
  // Total ids stored for `role`.
  int64_t num_ids(const std::string& role) const;

  // Reads every id once so that HDF5 verifies every checksum; throws UserError on damage.
  void verify() const;

 private:
  TokenStore() = default;
  int role_index(const std::string& role) const;

  std::string path_;
  std::unique_ptr<H5File> file_;
  std::unique_ptr<std::mutex> mu_;
  std::vector<std::string> roles_;
  std::vector<std::vector<int64_t>> offsets_;  // per role, rows + 1
  int64_t rows_ = 0;
  int max_length_ = 0;
  std::string fingerprint_;
};

// What decides a store's rows besides the tokenizer: how the source was read.
struct TokenStoreSpec {
  std::string cache_dir;                       // e.g. OUTPUT/cache (created when missing)
  int max_length = 256;                        // tokens per text, special tokens included
  std::map<std::string, std::string> columns;  // role -> column, as read_text_dataset got it
  std::map<std::string, std::string> prompts;  // role -> text prepended before tokenizing
  BadRowPolicy on_bad_row = BadRowPolicy::Error;
  // Rows tokenized per collective step of a build (all ranks together). Bounds the build's
  // memory on rank 0 to about rows_per_step * roles * (ids per row) * 12 bytes.
  int64_t rows_per_step = 32768;
  // Reuse only after reading every id once (checksums). Costs a sequential read of the
  // store on rank 0 (about 1 s per GB); off, a damaged chunk surfaces at its first read.
  bool verify_on_reuse = true;
};

// The spec a run's configuration implies: data.columns, data.on_bad_row, training.prompts,
// cache_dir = output.dir/cache, and the given max_length (the model's max_seq_length).
TokenStoreSpec token_store_spec(const Config& cfg, int max_length);

// OUTPUT/cache/<basename>-<hex8 of XXH64(absolute path)>.tokens.h5
std::string token_store_path(const std::string& cache_dir, const std::string& source_path);

struct TokenStoreBuild {
  bool built = false;  // false: an existing store was reused
  std::string reason;  // why it was built: "no store yet", "the tokenizer changed", ...
  double seconds = 0;  // time spent building (0 when reused)
  int64_t tokens = 0;  // ids written over all roles (0 when reused)
};

// Collective: every rank calls it with the same dataset (read from data.source with
// spec.columns and spec.on_bad_row) and tokenizer. Rank 0 hashes the source file and
// decides; when a (re)build is needed the ranks tokenize contiguous slices of each step of
// spec.rows_per_step rows in parallel and gather them to rank 0, the one writer, which
// appends them in row order, shows a progress bar and publishes the file atomically. Each
// step is a bounded collective (seconds), so a long build never trips the collective
// watchdog. Every rank then opens the published store. Errors (unwritable cache dir, disk
// full, ranks holding different datasets) are thrown as UserError on every rank.
TokenStore open_or_build_token_store(Dist& d, const TextDataset& data, const Tokenizer& tok,
                                     const TokenStoreSpec& spec, TokenStoreBuild* build = nullptr);

}  // namespace disttune
