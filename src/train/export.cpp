#include "train/export.h"

#include <unistd.h>

#include <filesystem>

#include "common/check.h"
#include "common/env.h"
#include "model/sentence_model.h"

namespace disttune {

void export_model_dir(const SentenceModel& model, const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path target(dir);
  if (target.has_parent_path()) Env::Default()->make_dirs(target.parent_path().string()).throw_if_error();
  const std::string tmp = str_cat(dir, ".tmp.", ::getpid());
  const std::string old = str_cat(dir, ".old.", ::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  model.save(tmp);
  if (fs::exists(target)) {
    fs::rename(target, old, ec);
    if (ec) DT_FAIL(dir, ": cannot replace the existing model directory: ", ec.message());
  }
  fs::rename(tmp, target, ec);
  if (ec) DT_FAIL(dir, ": cannot move the exported model into place: ", ec.message());
  fs::remove_all(old, ec);
  Env::Default()->fsync_path(target.has_parent_path() ? target.parent_path().string() : ".");
}

}  // namespace disttune
