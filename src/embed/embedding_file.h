// Embedding files: the HDF5 that `disttune encode` writes and `disttune eval --corpus-cache`
// writes and reuses.
//
//   /embeddings   float32 [count, dim], row i = input i (Fletcher-32 checksummed chunks)
//   /ids          variable-length UTF-8 strings [count], only when the inputs have ids
//   attributes on "/": format ("disttune-embeddings"), format_version (1), count, dim,
//   model, architecture, pooling, normalize (0/1), max_length, prompt, input, and key
//   (a cache key; "" when the file is not a cache)
//
// h5py reads it directly: f["embeddings"][:], [s.decode() for s in f["ids"]] (or
// f["ids"].asstr()[:]), dict(f.attrs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "embed/embedder.h"

namespace disttune {

struct Dist;

struct EmbeddingFileMeta {
  std::string model;         // the model directory
  std::string architecture;  // bert | mpnet
  std::string pooling;
  bool normalize = false;
  int64_t max_length = 0;    // tokens per text, special tokens included
  std::string prompt;        // prepended to every text before tokenizing
  std::string input;         // the file the texts came from
  std::string key;           // cache key, "" when not a cache
  int64_t count = 0;         // filled in by the reader
  int64_t dim = 0;           // filled in by the reader
};

// Collective: every rank passes its shard of one sharded encoding (Embedder::encode_shard of
// the same `count` texts). Rank 0 gathers the shards, puts the rows in input order and writes
// `path` atomically (a temporary file beside it, fsynced, then renamed through Env), so a
// failed run never leaves a file that looks complete. `ids` (rank 0's matter) are empty or
// one per row. Every rank throws the same UserError when writing fails.
void write_embedding_file(Dist& d, const std::string& path, const EncodedShard& shard,
                          int64_t count, const std::vector<std::string>& ids,
                          const EmbeddingFileMeta& meta);

// The attributes of an embedding file written by write_embedding_file (count and dim from
// the dataset). Throws UserError naming the file when it is not one.
EmbeddingFileMeta read_embedding_meta(const std::string& path);

// Rows [start, start + rows) of /embeddings, float32 [rows, dim].
at::Tensor read_embedding_rows(const std::string& path, int64_t start, int64_t rows);

}  // namespace disttune
