#include "io/checkpoint.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "common/check.h"
#include "common/env.h"
#include "common/failpoint.h"
#include "common/hash64.h"
#include "io/h5.h"

namespace disttune {
namespace {

const char* kFormat = "disttune-checkpoint";

void write_attr_group(H5File& f, const std::string& group,
                      const std::map<std::string, std::string>& attrs) {
  f.create_group(group);
  for (const auto& [k, v] : attrs) f.set_attr(group, k, v);
}

std::map<std::string, std::string> read_attr_group(const H5File& f, const std::string& group,
                                                   const std::vector<std::string>& keys) {
  std::map<std::string, std::string> out;
  for (const auto& k : keys) out[k] = f.attr_string(group, k);
  return out;
}

// Attribute names of an object (HDF5 has no direct listing helper in our wrapper).
std::vector<std::string> attr_names(const H5File& f, const std::string& obj) {
  std::vector<std::string> names;
  H5Handle o(H5Oopen(f.id(), obj.c_str(), H5P_DEFAULT));
  if (!o.valid()) DT_FAIL(f.path(), ": damaged checkpoint: cannot open '", obj, "'");
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  const herr_t got = H5Oget_info3(o.get(), &info, H5O_INFO_NUM_ATTRS);
#else
  H5O_info_t info;
  const herr_t got = H5Oget_info2(o.get(), &info, H5O_INFO_NUM_ATTRS);
#endif
  if (got < 0) DT_FAIL(f.path(), ": damaged checkpoint: cannot list the attributes of '", obj, "'");
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const ssize_t n = H5Aget_name_by_idx(o.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) DT_FAIL(f.path(), ": damaged checkpoint: cannot read an attribute name of '", obj, "'");
    std::string s(static_cast<size_t>(n), '\0');
    H5Aget_name_by_idx(o.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), s.size() + 1, H5P_DEFAULT);
    names.push_back(s);
  }
  return names;
}

// Checkpoints nest at most two levels (/optimizer/exp_avg/<name>); a deeper tree can only
// be a damaged file, or one whose links form a cycle.
constexpr int kMaxGroupDepth = 8;

void list_datasets(const H5File& f, const std::string& group, const std::string& prefix,
                   std::vector<std::string>* out, int depth = 0) {
  if (depth > kMaxGroupDepth)
    DT_FAIL(f.path(), ": damaged checkpoint: groups nest deeper than ", kMaxGroupDepth, " levels at '", group, "'");
  for (const auto& name : f.list(group)) {
    const std::string full = (group == "/" ? "" : group) + "/" + name;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    const herr_t got = H5Oget_info_by_name3(f.id(), full.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#else
    H5O_info_t info;
    const herr_t got = H5Oget_info_by_name2(f.id(), full.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#endif
    if (got < 0) DT_FAIL(f.path(), ": damaged checkpoint: cannot open '", full, "'");
    if (info.type == H5O_TYPE_GROUP)
      list_datasets(f, full, prefix + name + "/", out, depth + 1);
    else
      out->push_back(prefix + name);
  }
}

// --- the seal ----------------------------------------------------------------------------

constexpr char kSealMagic[] = "disttune-checkpoint\n";
constexpr char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";

// The size of `fd`'s file and the XXH64 of its bytes after the header.
Status digest_after_header(int fd, const std::string& path, uint64_t* size, uint64_t* digest) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::Error(str_cat(path, ": cannot stat: ", std::strerror(errno)));
  *size = static_cast<uint64_t>(st.st_size);
  Xxh64 h;
  std::vector<char> buf(std::min<uint64_t>(uint64_t{1} << 20, std::max<uint64_t>(*size, 4096)));
  uint64_t pos = kCheckpointHeaderBytes;
  while (pos < *size) {
    const ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), *size - pos), static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Error(str_cat(path, ": read failed: ", n < 0 ? std::strerror(errno) : "unexpected end of file"));
    h.update(buf.data(), static_cast<size_t>(n));
    pos += static_cast<uint64_t>(n);
  }
  *digest = h.digest();
  return Status::OK();
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Refuses, with a message naming the file, anything that is not a checkpoint exactly as
// write_checkpoint sealed it. Runs before libhdf5 opens the file.
void verify_seal(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) DT_FAIL(path, ": cannot open: ", std::strerror(errno));
  char header[kCheckpointHeaderBytes + 1] = {};
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(kCheckpointHeaderBytes)) {
    const ssize_t n = ::read(fd.get(), header + got, kCheckpointHeaderBytes - static_cast<size_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) DT_FAIL(path, ": read failed: ", std::strerror(errno));
    if (n == 0) break;
    got += n;
  }
  if (got >= 8 && std::memcmp(header, kHdf5Signature, 8) == 0)
    DT_FAIL(path, ": not a disttune checkpoint: an HDF5 file without the checkpoint header (a foreign "
                  "file, or a checkpoint written before format version 2)");
  if (got < static_cast<ssize_t>(sizeof kSealMagic - 1) ||
      std::memcmp(header, kSealMagic, sizeof kSealMagic - 1) != 0)
    DT_FAIL(path, ": not a disttune checkpoint (it does not start with the checkpoint header)");
  if (got < static_cast<ssize_t>(kCheckpointHeaderBytes))
    DT_FAIL(path, ": damaged checkpoint: the file is ", got, " bytes, shorter than its header (truncated)");
  unsigned long long claimed_size = 0, claimed_digest = 0;
  int used = 0;
  // Exactly what seal_checkpoint writes, zero padding included.
  const int parsed = std::sscanf(header + sizeof kSealMagic - 1, "size %20llu\nxxh64 %16llx\n%n",
                                 &claimed_size, &claimed_digest, &used);
  const size_t text_end = sizeof kSealMagic - 1 + static_cast<size_t>(used);
  if (parsed != 2 || used == 0 || header[text_end - 1] != '\n' ||
      std::any_of(header + text_end, header + kCheckpointHeaderBytes, [](char c) { return c != 0; }))
    DT_FAIL(path, ": damaged checkpoint: its header is not 'size <bytes>' and 'xxh64 <hex>'");
  uint64_t size = 0, digest = 0;
  digest_after_header(fd.get(), path, &size, &digest).throw_if_error();
  if (size != claimed_size)
    DT_FAIL(path, ": damaged checkpoint: the file has ", size, " bytes but was written with ", claimed_size,
            size < claimed_size ? " (truncated)" : "");
  if (digest != claimed_digest)
    DT_FAIL(path, ": damaged checkpoint: checksum mismatch (XXH64 ", hex64(digest), ", written as ",
            hex64(claimed_digest), "): the file changed after it was written");
}

// The root attributes of an open, verified checkpoint.
CheckpointInfo info_of(const H5File& f) {
  const std::string& path = f.path();
  if (!f.has_attr("/", "format") || f.attr_string("/", "format") != kFormat)
    DT_FAIL(path, ": not a disttune checkpoint (no 'format' attribute '", kFormat, "')");
  const int64_t version = f.attr_int("/", "format_version");
  if (version != kCheckpointFormatVersion)
    DT_FAIL(path, ": checkpoint format version ", version, " is not supported (this build reads ",
            kCheckpointFormatVersion, ")");
  CheckpointInfo info;
  info.path = path;
  info.step = f.attr_int("/", "step");
  info.epoch = f.attr_int("/", "epoch");
  info.world_size = f.attr_int("/", "world_size");
  info.global_batch_size = f.attr_int("/", "global_batch_size");
  info.metrics_json = f.attr_string("/", "metrics");
  return info;
}

}  // namespace

void seal_checkpoint(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) DT_FAIL(path, ": cannot open to seal: ", std::strerror(errno));
  char head[8] = {};
  if (::pread(fd.get(), head, 8, kCheckpointHeaderBytes) != 8 || std::memcmp(head, kHdf5Signature, 8) != 0)
    DT_FAIL(path, ": cannot seal: not an HDF5 file with a ", kCheckpointHeaderBytes,
            "-byte header block (not written by write_checkpoint)");
  uint64_t size = 0, digest = 0;
  digest_after_header(fd.get(), path, &size, &digest).throw_if_error();
  std::string header = str_cat(kSealMagic, "size ", size, "\nxxh64 ", hex64(digest), "\n");
  DT_CHECK(header.size() <= kCheckpointHeaderBytes, "checkpoint header too long");
  header.resize(kCheckpointHeaderBytes, '\0');
  // Through Env, so that tests can inject short writes here as anywhere else.
  Status st = Env::Default()->write_all(fd.get(), header.data(), header.size(), path);
  if (::close(fd.release()) != 0 && st.ok())
    st = Status::Error(str_cat(path, ": close failed: ", std::strerror(errno)));
  st.throw_if_error();
}

std::string checkpoint_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld.h5", static_cast<long long>(step));
  return buf;
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  Env* env = Env::Default();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) env->make_dirs(dir).throw_if_error();
  const std::string tmp = Env::temp_name(path);
  // Written under a temporary name and published only when complete: `path` (and every
  // older checkpoint) is untouched by a failure, and the temporary is removed.
  try {
    H5File f = H5File::create(tmp, nullptr, kCheckpointHeaderBytes);
    const H5WriteOptions ck{.checksum = true};
    f.create_group("/model");
    for (const auto& [name, t] : c.model) f.write("/model/" + name, t.to(at::kFloat), ck);
    failpoint("checkpoint.write");  // half written: the model is in, the optimizer is not
    f.create_group("/optimizer");
    for (const auto& [name, t] : c.optimizer) f.write("/optimizer/" + name, t, ck);
    write_attr_group(f, "/scheduler", c.scheduler);
    write_attr_group(f, "/sampler", c.sampler);
    write_attr_group(f, "/rng", c.rng);
    f.create_group("/state");
    const TrainState& s = c.state;
    f.set_attr("/state", "step", s.step);
    f.set_attr("/state", "epoch", s.epoch);
    f.set_attr("/state", "batch_in_epoch", s.batch_in_epoch);
    f.set_attr("/state", "samples_seen", s.samples_seen);
    f.set_attr("/state", "best_metric", s.best_metric);
    f.set_attr("/state", "best_step", s.best_step);
    f.set_attr("/state", "loss_scale", s.loss_scale);
    f.set_attr("/state", "loss_scale_good_steps", s.loss_scale_good_steps);
    f.set_attr("/state", "skipped_steps", s.skipped_steps);
    f.set_attr("/state", "evals_without_improvement", s.evals_without_improvement);
    f.set_attr("/", "format", std::string(kFormat));
    f.set_attr("/", "format_version", kCheckpointFormatVersion);
    f.set_attr("/", "step", s.step);
    f.set_attr("/", "epoch", s.epoch);
    f.set_attr("/", "world_size", c.world_size);
    f.set_attr("/", "global_batch_size", c.global_batch_size);
    f.set_attr("/", "config", c.config_yaml);
    f.set_attr("/", "metrics", c.metrics_json);
    f.flush();
    f.close();
    seal_checkpoint(tmp);
  } catch (const UserError& e) {
    env->remove_file(tmp);
    throw UserError(str_cat("writing checkpoint ", path, ": ", e.what()));
  } catch (...) {
    env->remove_file(tmp);
    throw;
  }
  Status st = env->publish(tmp, path);
  if (!st.ok()) {
    env->remove_file(tmp);
    st.with_context("writing checkpoint").throw_if_error();
  }
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  verify_seal(path);
  return info_of(H5File::open_read(path));
}

Checkpoint read_checkpoint(const std::string& path) {
  verify_seal(path);
  H5File f = H5File::open_read(path);
  const CheckpointInfo info = info_of(f);
  for (const char* g : {"/model", "/optimizer", "/scheduler", "/sampler", "/rng", "/state"})
    if (!f.exists(g)) DT_FAIL(path, ": damaged checkpoint: missing group '", g, "'");
  Checkpoint c;
  c.world_size = info.world_size;
  c.global_batch_size = info.global_batch_size;
  c.metrics_json = info.metrics_json;
  c.config_yaml = f.attr_string("/", "config");
  std::vector<std::string> names;
  list_datasets(f, "/model", "", &names);
  if (names.empty()) DT_FAIL(path, ": damaged checkpoint: no model parameters");
  for (const auto& n : names) c.model.emplace_back(n, f.read("/model/" + n));
  names.clear();
  list_datasets(f, "/optimizer", "", &names);
  for (const auto& n : names) c.optimizer.emplace_back(n, f.read("/optimizer/" + n));
  for (const char* g : {"/scheduler", "/sampler", "/rng"}) {
    auto& dst = std::string(g) == "/scheduler" ? c.scheduler
                : std::string(g) == "/sampler" ? c.sampler
                                               : c.rng;
    dst = read_attr_group(f, g, attr_names(f, g));
  }
  TrainState& s = c.state;
  s.step = f.attr_int("/state", "step");
  s.epoch = f.attr_int("/state", "epoch");
  s.batch_in_epoch = f.attr_int("/state", "batch_in_epoch");
  s.samples_seen = f.attr_int("/state", "samples_seen");
  s.best_metric = f.attr_double("/state", "best_metric");
  s.best_step = f.attr_int("/state", "best_step");
  s.loss_scale = f.attr_double("/state", "loss_scale");
  s.loss_scale_good_steps = f.attr_int("/state", "loss_scale_good_steps");
  s.skipped_steps = f.attr_int("/state", "skipped_steps");
  // Added after format version 2 was fixed: a checkpoint without it ran without early stopping.
  if (f.has_attr("/state", "evals_without_improvement"))
    s.evals_without_improvement = f.attr_int("/state", "evals_without_improvement");
  if (s.step != info.step) DT_FAIL(path, ": damaged checkpoint: /state step disagrees with the root");
  return c;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  static const std::regex kName(R"(step-(\d{8,})\.h5)");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && std::regex_match(name, m, kName))
      found.emplace_back(std::stoll(m[1].str()), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [step, p] : found) out.push_back(p);
  return out;
}

int remove_checkpoint_temporaries(const std::string& dir) {
  static const std::regex kTemp(R"(step-\d{8,}\.h5\.tmp\.\d+)");
  std::vector<std::string> stale;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && std::regex_match(name, kTemp)) stale.push_back(e.path().string());
  }
  for (const auto& p : stale) Env::Default()->remove_file(p).throw_if_error();
  return static_cast<int>(stale.size());
}

void prune_checkpoints(const std::string& dir, int64_t keep_last, int64_t keep_step) {
  const std::vector<std::string> all = list_checkpoints(dir);
  const std::string best = keep_step >= 0 ? checkpoint_name(keep_step) : "";
  const int64_t n = static_cast<int64_t>(all.size());
  for (int64_t i = 0; i < n - keep_last; ++i) {
    if (std::filesystem::path(all[i]).filename().string() == best) continue;
    Env::Default()->remove_file(all[i]).throw_if_error();
  }
}

}  // namespace disttune
