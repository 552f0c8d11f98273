#include "train/export.h"

#include <unistd.h>

#include <filesystem>

#include "common/check.h"
#include "common/env.h"
#include "common/log.h"
#include "model/sentence_model.h"

namespace disttune {
namespace {

namespace fs = std::filesystem;

// `dir` as a name that can be renamed: trailing slashes dropped; a last component of "."
// or ".." (or the root) is refused rather than resolved, so the directory replaced is
// always the one the last component names, as the kernel resolves the rest of the path.
fs::path export_target(const std::string& dir) {
  std::string p = dir;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const std::string name = fs::path(p).filename().string();
  if (name.empty() || name == "." || name == ".." || p == "/")
    DT_FAIL("'", dir, "' does not name a directory that can be replaced; give a new or model "
            "directory's own name");
  return fs::path(p);
}

// Whether an existing directory may be replaced wholesale by an exported model.
void check_replaceable(const fs::path& target, const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(target, ec);  // through a symlink: what it points to
  if (!fs::exists(st)) return;
  if (!fs::is_directory(st)) DT_FAIL(dir, ": exists and is not a directory");
  if (fs::is_empty(target, ec)) return;
  for (const char* marker : {"modules.json", "config.json", "model.safetensors"})
    if (fs::exists(target / marker, ec)) return;
  DT_FAIL(dir, ": exists and is not a model directory (no modules.json, config.json or "
          "model.safetensors); refusing to replace it. Export to a new or empty directory");
}

}  // namespace

void check_export_target(const std::string& dir) { check_replaceable(export_target(dir), dir); }

void export_model_dir(const SentenceModel& model, const std::string& dir) {
  Env* env = Env::Default();
  const fs::path target = export_target(dir);
  check_replaceable(target, dir);
  const std::string parent = target.has_parent_path() ? target.parent_path().string() : ".";
  if (target.has_parent_path()) env->make_dirs(parent).throw_if_error();
  const std::string tmp = str_cat(target.string(), ".tmp.", ::getpid());
  const std::string old = str_cat(target.string(), ".old.", ::getpid());
  std::error_code ec;
  // Leftovers of an earlier process that had this pid (symlinks are removed, not followed).
  fs::remove_all(tmp, ec);
  fs::remove_all(old, ec);
  try {
    model.save(tmp);
    std::error_code lec;
    if (fs::exists(fs::symlink_status(target, lec))) {
      env->rename(target.string(), old).throw_if_error();
      const Status st = env->rename(tmp, target.string());
      if (!st.ok()) {
        // Put the previous model back; if even that fails, say where it is.
        const Status back = env->rename(old, target.string());
        if (!back.ok()) DT_FAIL(st.message(), "; the previous model is in ", old);
        st.throw_if_error();
      }
      // The previous model, or the symlink that stood at `dir` (its target is not followed).
      fs::remove_all(old, ec);
      if (ec) LOG(WARNING) << old << ": cannot remove the previous model: " << ec.message();
    } else {
      env->rename(tmp, target.string()).throw_if_error();
    }
    env->fsync_path(parent).throw_if_error();
  } catch (const UserError& e) {
    fs::remove_all(tmp, ec);
    throw UserError(str_cat("exporting the model to ", dir, ": ", e.what()));
  }
}

}  // namespace disttune
