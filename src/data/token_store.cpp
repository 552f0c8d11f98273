#include "data/token_store.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "common/check.h"
#include "common/env.h"
#include "common/hash64.h"
#include "common/log.h"
#include "common/progress.h"
#include "config/config.h"
#include "dist/dist.h"
#include "text/tokenizer.h"

namespace disttune {
namespace {

constexpr const char* kFormat = "disttune-token-store";
// 4096 ids (16 KiB) per storage chunk: a random row costs one small chunk read and checksum.
constexpr int64_t kIdsChunk = 4096;
// Ids read per step by verify().
constexpr int64_t kVerifyIds = int64_t{1} << 22;

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

std::string columns_text(const std::map<std::string, std::string>& columns) {
  std::string s;
  for (const auto& [role, col] : columns) s += (s.empty() ? "" : ",") + role + "=" + col;
  return s;
}

const char* policy_name(BadRowPolicy p) { return p == BadRowPolicy::Skip ? "skip" : "error"; }

// What a store built now from this dataset would carry as root attributes.
struct StoreAttrs {
  std::string fingerprint, source_path, source_xxh64, columns, on_bad_row, roles, prompts;
  int64_t source_size = 0, max_length = 0, rows = 0;

  void write(H5File& f) const {
    f.set_attr("/", "format", std::string(kFormat));
    f.set_attr("/", "format_version", kTokenStoreFormatVersion);
    f.set_attr("/", "tokenizer_fingerprint", fingerprint);
    f.set_attr("/", "source_path", source_path);
    f.set_attr("/", "source_size", source_size);
    f.set_attr("/", "source_xxh64", source_xxh64);
    f.set_attr("/", "max_length", max_length);
    f.set_attr("/", "columns", columns);
    f.set_attr("/", "on_bad_row", on_bad_row);
    f.set_attr("/", "rows", rows);
    f.set_attr("/", "roles", roles);
    f.set_attr("/", "prompts", prompts);
  }

  // Why `store` (already opened, so format and version are this build's) cannot be reused;
  // "" when it can.
  std::string mismatch(const TokenStore& s) const {
    if (s.attribute("source_size") != std::to_string(source_size) ||
        s.attribute("source_xxh64") != source_xxh64)
      return "the source file changed";
    if (s.attribute("tokenizer_fingerprint") != fingerprint) return "the tokenizer changed";
    if (s.attribute("max_length") != std::to_string(max_length))
      return str_cat("max_length changed (", s.attribute("max_length"), " -> ", max_length, ")");
    if (s.attribute("columns") != columns)
      return str_cat("the column mapping changed (", s.attribute("columns"), " -> ", columns, ")");
    // A store from before prompts has no attribute: it was built without them.
    if (s.attribute("prompts") != prompts)
      return str_cat("training.prompts changed (", s.attribute("prompts").empty() ? "none" : s.attribute("prompts"),
                     " -> ", prompts.empty() ? "none" : prompts, ")");
    if (s.attribute("on_bad_row") != on_bad_row)
      return str_cat("data.on_bad_row changed (", s.attribute("on_bad_row"), " -> ", on_bad_row, ")");
    if (s.attribute("rows") != std::to_string(rows) || s.attribute("roles") != roles)
      return str_cat("the dataset's rows differ (", s.attribute("rows"), " rows of ",
                     s.attribute("roles"), " -> ", rows, " rows of ", roles, ")");
    return "";
  }
};

// Rank 0: why the store at `path` must be (re)built, "" to reuse it. A damaged store is
// reported (warning) and rebuilt, never trusted.
std::string rebuild_reason(const std::string& path, const StoreAttrs& want, bool verify) {
  if (!Env::Default()->file_exists(path)) return "no store yet";
  try {
    TokenStore s = TokenStore::open(path);
    std::string why = want.mismatch(s);
    if (!why.empty()) return why;
    if (verify) s.verify();
    return "";
  } catch (const UserError& e) {
    warn0("token store ", path, " cannot be used and will be rebuilt: ", e.what());
    return str_cat("the store was unusable: ", e.what());
  }
}

// The ids of rows [begin, end) of every role: lens role-major [roles * n], ids role-major.
// A role's prompt is prepended to each of its texts, as sentence-transformers prepends it.
void encode_slice(const TextDataset& data, const Tokenizer& tok, const TokenStoreSpec& spec,
                  int64_t begin, int64_t end, at::Tensor* lens_out, at::Tensor* ids_out) {
  const int64_t n = end - begin;
  const size_t roles = data.roles.size();
  const size_t un = static_cast<size_t>(n);
  std::vector<std::string> prompt(roles);
  for (size_t k = 0; k < roles; ++k)
    if (auto it = spec.prompts.find(data.roles[k]); it != spec.prompts.end()) prompt[k] = it->second;
  std::vector<std::vector<int32_t>> rows(roles * un);
  at::parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    for (size_t k = 0; k < roles; ++k)
      for (size_t i = static_cast<size_t>(b); i < static_cast<size_t>(e); ++i) {
        const std::string& text = data.columns[k][static_cast<size_t>(begin) + i];
        rows[k * un + i] = tok.encode(prompt[k].empty() ? text : prompt[k] + text, spec.max_length);
      }
  });
  at::Tensor lens = at::empty({static_cast<int64_t>(rows.size())}, at::kLong);
  int64_t total = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    lens.data_ptr<int64_t>()[i] = static_cast<int64_t>(rows[i].size());
    total += static_cast<int64_t>(rows[i].size());
  }
  at::Tensor ids = at::empty({total}, at::kInt);
  int32_t* p = ids.data_ptr<int32_t>();
  for (auto& r : rows) {
    std::copy(r.begin(), r.end(), p);
    p += r.size();
    std::vector<int32_t>().swap(r);
  }
  *lens_out = lens;
  *ids_out = ids;
}

// Collective. Writes the store to a temporary file on rank 0 and publishes it as `path`.
// Throws the same UserError on every rank when rank 0 fails.
void build_store(Dist& d, const TextDataset& data, const Tokenizer& tok, const TokenStoreSpec& spec,
                 const StoreAttrs& attrs, const std::string& path, TokenStoreBuild* report) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = data.size();
  const size_t roles = data.roles.size();
  const bool root = d.is_root();
  Env* env = Env::Default();
  const std::string tmp = Env::temp_name(path);
  std::string error;  // rank 0's first failure; it keeps joining the collectives after one
  std::unique_ptr<H5File> out;
  std::vector<std::vector<int64_t>> offsets(roles, std::vector<int64_t>{0});
  auto guard = [&](const std::function<void()>& fn) {
    if (!root || !error.empty()) return;
    try {
      fn();
    } catch (const std::exception& e) {
      error = e.what();
    }
  };
  guard([&] {
    env->make_dirs(spec.cache_dir).throw_if_error();
    // A store is as large as the tokenized corpus: what a killed build left goes first.
    for (const std::string& f : remove_stale_temporaries_of(path)) LOG(WARNING) << "removed " << f;
    out = std::make_unique<H5File>(H5File::create(tmp));
    for (const auto& role : data.roles)
      out->write("/" + role + "/ids", at::empty({0}, at::kInt),
                 {.checksum = true, .chunk_rows = kIdsChunk, .extendable = true});
  });

  // Collective: rank 0's error, if any, is thrown on every rank, the temporary file removed.
  auto stop_on_error = [&] {
    if (root && !error.empty()) {
      out.reset();
      env->remove_file(tmp);
    }
    d.comm->broadcast_bytes(error, 0);
    if (!error.empty()) throw UserError(str_cat("building the token store ", path, ": ", error));
  };
  stop_on_error();  // a store that cannot even be created stops every rank before any work

  Progress bar("tokenizing " + std::filesystem::path(data.source).filename().string(), n, "rows");
  const int64_t step = std::max<int64_t>(1, spec.rows_per_step);
  int64_t tokens = 0;
  for (int64_t start = 0; start < n; start += step) {
    const int64_t end = std::min(n, start + step);
    // This rank's contiguous slice of the step (the first (end-start) % world ranks get one
    // row more).
    const int64_t m = end - start, w = d.world_size, r = d.rank;
    const int64_t b = start + r * (m / w) + std::min(r, m % w);
    const int64_t e = b + m / w + (r < m % w ? 1 : 0);
    at::Tensor lens, ids;
    encode_slice(data, tok, spec, b, e, &lens, &ids);
    const std::vector<at::Tensor> all_lens = d.comm->gather(lens, 0);
    const std::vector<at::Tensor> all_ids = d.comm->gather(ids, 0);
    guard([&] {
      for (size_t k = 0; k < roles; ++k) {
        std::vector<at::Tensor> pieces;
        for (size_t src = 0; src < all_lens.size(); ++src) {
          const int64_t rows_src = all_lens[src].numel() / static_cast<int64_t>(roles);
          const int64_t* L = all_lens[src].data_ptr<int64_t>();
          int64_t before = 0, mine = 0;
          for (int64_t i = 0; i < static_cast<int64_t>(k) * rows_src; ++i) before += L[i];
          for (int64_t i = 0; i < rows_src; ++i) {
            const int64_t len = L[static_cast<int64_t>(k) * rows_src + i];
            mine += len;
            offsets[k].push_back(offsets[k].back() + len);
          }
          pieces.push_back(all_ids[src].narrow(0, before, mine));
        }
        const at::Tensor cat = at::cat(pieces);
        tokens += cat.numel();
        out->append("/" + data.roles[k] + "/ids", cat);
      }
    });
    bar.update(m);
  }
  guard([&] {
    for (size_t k = 0; k < roles; ++k)
      out->write("/" + data.roles[k] + "/offsets",
                 at::from_blob(offsets[k].data(), {static_cast<int64_t>(offsets[k].size())}, at::kLong),
                 {.checksum = true});
    attrs.write(*out);
    out->flush();
    out->close();
    out.reset();
    env->publish(tmp, path).throw_if_error();
  });
  bar.finish();
  stop_on_error();
  tokens = d.comm->all_reduce_int(tokens, ReduceOp::Sum);  // rank 0 counted them
  if (report) {
    report->built = true;
    report->tokens = tokens;
    report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
}

}  // namespace

// ---- TokenStore ----

TokenStore TokenStore::open(const std::string& path) {
  TokenStore s;
  s.path_ = path;
  s.file_ = std::make_unique<H5File>(H5File::open_read(path));
  s.mu_ = std::make_unique<std::mutex>();
  const H5File& f = *s.file_;
  auto fail = [&](const std::string& what) -> void { DT_FAIL(path, ": ", what); };
  if (!f.has_attr("/", "format") || f.attr_string("/", "format") != kFormat)
    fail(str_cat("not a disttune token store (no 'format' attribute '", kFormat, "')"));
  const int64_t version = f.attr_int("/", "format_version");
  if (version != kTokenStoreFormatVersion)
    fail(str_cat("token store format version ", version, " is not supported (this build reads ",
                 kTokenStoreFormatVersion, ")"));
  s.rows_ = f.attr_int("/", "rows");
  s.max_length_ = static_cast<int>(f.attr_int("/", "max_length"));
  s.fingerprint_ = f.attr_string("/", "tokenizer_fingerprint");
  s.roles_ = split_commas(f.attr_string("/", "roles"));
  if (s.rows_ < 0 || s.max_length_ <= 0) fail("bad 'rows' or 'max_length' attribute");
  for (const auto& role : s.roles_) {
    const std::string ids = "/" + role + "/ids", off = "/" + role + "/offsets";
    if (role.empty() || !f.exists(ids) || !f.exists(off)) fail("role '" + role + "' has no ids/offsets");
    if (f.dtype(ids) != at::kInt || f.shape(ids).size() != 1) fail(ids + " is not a 1-D int32 dataset");
    if (f.dtype(off) != at::kLong || f.shape(off) != std::vector<int64_t>{s.rows_ + 1})
      fail(str_cat(off, " is not int64 [", s.rows_ + 1, "]"));
    const at::Tensor t = f.read(off);
    const int64_t* o = t.data_ptr<int64_t>();
    std::vector<int64_t> v(o, o + s.rows_ + 1);
    if (v[0] != 0) fail(off + " does not start at 0");
    for (int64_t i = 0; i < s.rows_; ++i)
      if (v[i + 1] < v[i] || v[i + 1] - v[i] > s.max_length_)
        fail(str_cat(off, ": row ", i, " has a bad length ", v[i + 1] - v[i]));
    if (v.back() != f.shape(ids)[0])
      fail(str_cat(off, " ends at ", v.back(), " but ", ids, " holds ", f.shape(ids)[0], " ids"));
    s.offsets_.push_back(std::move(v));
  }
  return s;
}

bool TokenStore::has_role(const std::string& role) const {
  return std::find(roles_.begin(), roles_.end(), role) != roles_.end();
}

int TokenStore::role_index(const std::string& role) const {
  const auto it = std::find(roles_.begin(), roles_.end(), role);
  if (it == roles_.end())
    DT_FAIL(path_, ": the token store has no role '", role, "' (it has ", join(roles_, ", "), ")");
  return static_cast<int>(it - roles_.begin());
}

std::string TokenStore::attribute(const std::string& key) const {
  std::lock_guard<std::mutex> lock(*mu_);
  if (!file_->has_attr("/", key)) return "";
  if (key == "format" || key == "tokenizer_fingerprint" || key == "source_path" ||
      key == "source_xxh64" || key == "columns" || key == "on_bad_row" || key == "roles" ||
      key == "prompts")
    return file_->attr_string("/", key);
  return std::to_string(file_->attr_int("/", key));
}

int64_t TokenStore::row_length(const std::string& role, int64_t row) const {
  const auto& o = offsets_[static_cast<size_t>(role_index(role))];
  if (row < 0 || row >= rows_) DT_FAIL(path_, ": row ", row, " out of range (", rows_, " rows)");
  return o[static_cast<size_t>(row) + 1] - o[static_cast<size_t>(row)];
}

int64_t TokenStore::num_ids(const std::string& role) const {
  return offsets_[static_cast<size_t>(role_index(role))].back();
}

std::vector<std::vector<int32_t>> TokenStore::rows(const std::string& role,
                                                   const std::vector<int64_t>& row_indices) const {
  const int k = role_index(role);
  const auto& off = offsets_[static_cast<size_t>(k)];
  for (int64_t r : row_indices)
    if (r < 0 || r >= rows_) DT_FAIL(path_, ": row ", r, " out of range (", rows_, " rows)");
  // Distinct rows in file order; adjacent rows are adjacent in the ids, so they merge into
  // one range.
  std::vector<int64_t> uniq = row_indices;
  std::sort(uniq.begin(), uniq.end());
  uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int64_t r : uniq) {
    const int64_t b = off[static_cast<size_t>(r)], len = off[static_cast<size_t>(r) + 1] - b;
    if (!ranges.empty() && ranges.back().first + ranges.back().second == b)
      ranges.back().second += len;
    else
      ranges.emplace_back(b, len);
  }
  at::Tensor ids;
  {
    std::lock_guard<std::mutex> lock(*mu_);
    ids = file_->read_ranges("/" + role + "/ids", ranges);
  }
  const int32_t* p = ids.data_ptr<int32_t>();
  std::vector<int64_t> pos(uniq.size());  // start of each distinct row in `ids`
  int64_t at = 0;
  for (size_t i = 0; i < uniq.size(); ++i) {
    pos[i] = at;
    at += off[static_cast<size_t>(uniq[i]) + 1] - off[static_cast<size_t>(uniq[i])];
  }
  std::vector<std::vector<int32_t>> out(row_indices.size());
  for (size_t i = 0; i < row_indices.size(); ++i) {
    const int64_t r = row_indices[i];
    const size_t u = static_cast<size_t>(std::lower_bound(uniq.begin(), uniq.end(), r) - uniq.begin());
    const int64_t len = off[static_cast<size_t>(r) + 1] - off[static_cast<size_t>(r)];
    out[i].assign(p + pos[u], p + pos[u] + len);
  }
  return out;
}

void TokenStore::verify() const {
  std::lock_guard<std::mutex> lock(*mu_);
  for (size_t k = 0; k < roles_.size(); ++k) {
    const int64_t total = offsets_[k].back();
    for (int64_t b = 0; b < total; b += kVerifyIds)
      file_->read_rows("/" + roles_[k] + "/ids", b, std::min(kVerifyIds, total - b));
  }
}

// ---- building ----

TokenStoreSpec token_store_spec(const Config& cfg, int max_length) {
  TokenStoreSpec s;
  s.cache_dir = cfg.get_string("output.dir") + "/cache";
  s.max_length = max_length;
  s.columns = cfg.get_string_map("data.columns");
  s.on_bad_row = parse_bad_row_policy(cfg.get_string("data.on_bad_row"));
  s.prompts = cfg.get_string_map("training.prompts");
  return s;
}

std::string token_store_path(const std::string& cache_dir, const std::string& source_path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::weakly_canonical(source_path, ec);
  if (ec) abs = std::filesystem::absolute(source_path);
  const std::string key = hex64(xxh64(abs.string())).substr(0, 8);
  return (std::filesystem::path(cache_dir) /
          (std::filesystem::path(source_path).filename().string() + "-" + key + ".tokens.h5"))
      .string();
}

TokenStore open_or_build_token_store(Dist& d, const TextDataset& data, const Tokenizer& tok,
                                     const TokenStoreSpec& spec, TokenStoreBuild* build) {
  DT_REQUIRE(!data.source.empty(), "token store: the dataset has no source file");
  DT_REQUIRE(!spec.cache_dir.empty(), "token store: no cache directory given");
  DT_REQUIRE(spec.max_length >= tok.num_special_tokens(), "token store: max_length ",
             spec.max_length, " is too small: the tokenizer adds ", tok.num_special_tokens(),
             " special tokens");
  StoreAttrs want;
  want.fingerprint = tok.fingerprint();
  want.source_path = data.source;
  want.max_length = spec.max_length;
  want.columns = columns_text(spec.columns);
  want.on_bad_row = policy_name(spec.on_bad_row);
  want.rows = data.size();
  want.roles = join(data.roles, ",");
  if (!spec.prompts.empty()) want.prompts = nlohmann::json(spec.prompts).dump();
  const std::string path = token_store_path(spec.cache_dir, data.source);

  // Every rank must hold the same rows and tokenizer, or the slices would not fit together.
  const std::string mine = str_cat(want.rows, " rows of ", want.roles, ", tokenizer ",
                                   want.fingerprint, ", max_length ", want.max_length, ", ",
                                   want.columns, ", ", want.on_bad_row);
  const std::vector<std::string> all = d.comm->all_gather_bytes(mine);
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0])
      DT_FAIL("token store for ", data.source, ": rank ", r, " has ", all[r], " but rank 0 has ",
              all[0]);

  // Rank 0 hashes the source and decides: `reason` empty means reuse. Only rank 0 needs the
  // source digest (it writes the attributes).
  std::string error, reason;
  if (d.is_root()) {
    try {
      const FileDigest dig = digest_file(data.source).value();
      want.source_size = dig.size;
      want.source_xxh64 = hex64(dig.xxh64);
      reason = rebuild_reason(path, want, spec.verify_on_reuse);
    } catch (const UserError& e) {
      error = e.what();
    }
  }
  d.comm->broadcast_bytes(error, 0);
  if (!error.empty()) throw UserError(error);
  d.comm->broadcast_bytes(reason, 0);

  TokenStoreBuild report;
  if (!reason.empty()) {
    report.reason = reason;
    print0("token store: building ", path, " (", reason, ")");
    LOG(INFO) << "token store: building " << path << " (" << reason << ")";
    build_store(d, data, tok, spec, want, path, &report);
    print0("token store: ", data.size(), " rows, ", report.tokens, " tokens in ", report.seconds, " s");
  } else {
    LOG(INFO) << "token store: reusing " << path;
  }
  if (build) *build = report;
  return TokenStore::open(path);
}

}  // namespace disttune
