#include "embed/embedding_file.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "common/env.h"
#include "dist/dist.h"
#include "io/h5.h"

namespace disttune {
namespace {

constexpr const char* kEmbeddingFormat = "disttune-embeddings";
constexpr int64_t kEmbeddingFormatVersion = 1;
// Rows each rank sends per gather step: bounds every message (and rank 0's receive buffer)
// whatever the shard sizes.
constexpr int64_t kEmbeddingGatherRows = 16384;

}  // namespace

void write_embedding_file(Dist& d, const std::string& path, const EncodedShard& shard,
                          int64_t count, const std::vector<std::string>& ids,
                          const EmbeddingFileMeta& meta) {
  Communicator& comm = *d.comm;
  const at::Tensor emb = shard.embeddings.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor idx = shard.indices.to(at::kCPU, at::kLong).contiguous();
  DT_CHECK(emb.dim() == 2 && idx.dim() == 1 && idx.size(0) == emb.size(0),
           "embedding shard: ", emb.sizes(), " rows with ", idx.sizes(), " indices");
  const int64_t dim = comm.all_reduce_int(emb.size(1), ReduceOp::Max);
  DT_CHECK(emb.size(1) == dim, "embedding shards of different widths: ", emb.size(1), " and ", dim);
  const int64_t total = comm.all_reduce_int(emb.size(0), ReduceOp::Sum);
  DT_CHECK(total == count, "embedding shards hold ", total, " rows, expected ", count);
  const int64_t steps = comm.all_reduce_int((emb.size(0) + kEmbeddingGatherRows - 1) / kEmbeddingGatherRows, ReduceOp::Max);

  at::Tensor out;
  if (d.is_root()) out = at::empty({count, dim}, at::kFloat);
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t b = std::min(s * kEmbeddingGatherRows, emb.size(0));
    const int64_t n = std::min(kEmbeddingGatherRows, emb.size(0) - b);
    const std::vector<at::Tensor> e = comm.gather(emb.narrow(0, b, n), 0);
    const std::vector<at::Tensor> i = comm.gather(idx.narrow(0, b, n), 0);
    for (size_t r = 0; r < e.size(); ++r)
      if (e[r].size(0) > 0) out.index_copy_(0, i[r], e[r].reshape({-1, dim}));
  }

  std::string error;
  if (d.is_root()) {
    DT_CHECK(ids.empty() || static_cast<int64_t>(ids.size()) == count, ids.size(), " ids for ",
             count, " embeddings");
    const std::string tmp = Env::temp_name(path);
    try {
      H5File f = H5File::create(tmp);
      H5WriteOptions wo;
      wo.checksum = true;
      f.write("/embeddings", out, wo);
      if (!ids.empty()) f.write_strings("/ids", ids);
      f.set_attr("/", "format", std::string(kEmbeddingFormat));
      f.set_attr("/", "format_version", kEmbeddingFormatVersion);
      f.set_attr("/", "count", count);
      f.set_attr("/", "dim", dim);
      f.set_attr("/", "model", meta.model);
      f.set_attr("/", "architecture", meta.architecture);
      f.set_attr("/", "pooling", meta.pooling);
      f.set_attr("/", "normalize", static_cast<int64_t>(meta.normalize ? 1 : 0));
      f.set_attr("/", "max_length", meta.max_length);
      f.set_attr("/", "prompt", meta.prompt);
      f.set_attr("/", "input", meta.input);
      f.set_attr("/", "key", meta.key);
      f.close();
      Env::Default()->publish(tmp, path).throw_if_error();
    } catch (const UserError& e) {
      // The temporary goes; a previous file at `path` is untouched.
      error = str_cat("writing the embeddings ", path, ": ", e.what());
      Env::Default()->remove_file(tmp);
    }
  }
  comm.broadcast_bytes(error, 0);
  if (!error.empty()) throw UserError(error);
}

EmbeddingFileMeta read_embedding_meta(const std::string& path) {
  const H5File f = H5File::open_read(path);
  if (!f.has_attr("/", "format") || f.attr_string("/", "format") != kEmbeddingFormat || !f.exists("/embeddings"))
    DT_FAIL(path, ": not a disttune embedding file (no '", kEmbeddingFormat, "' format attribute)");
  const int64_t version = f.attr_int("/", "format_version");
  if (version != kEmbeddingFormatVersion)
    DT_FAIL(path, ": embedding file format version ", version, ", this build reads ", kEmbeddingFormatVersion);
  EmbeddingFileMeta m;
  m.model = f.attr_string("/", "model");
  m.architecture = f.attr_string("/", "architecture");
  m.pooling = f.attr_string("/", "pooling");
  m.normalize = f.attr_int("/", "normalize") != 0;
  m.max_length = f.attr_int("/", "max_length");
  m.prompt = f.attr_string("/", "prompt");
  m.input = f.attr_string("/", "input");
  m.key = f.attr_string("/", "key");
  const std::vector<int64_t> shape = f.shape("/embeddings");
  if (shape.size() != 2 || f.dtype("/embeddings") != at::kFloat)
    DT_FAIL(path, ": dataset 'embeddings' must be float32 [count, dim]");
  m.count = shape[0];
  m.dim = shape[1];
  if (m.count != f.attr_int("/", "count"))
    DT_FAIL(path, ": 'embeddings' has ", m.count, " rows but the file says count = ",
            f.attr_int("/", "count"));
  return m;
}

at::Tensor read_embedding_rows(const std::string& path, int64_t start, int64_t rows) {
  const H5File f = H5File::open_read(path);
  return f.read_rows("/embeddings", start, rows);
}

}  // namespace disttune
