#include "cli/model_arg.h"

#include <filesystem>

#include "cli/args.h"
#include "common/check.h"
#include "config/config.h"
#include "train/model_setup.h"

namespace disttune {
namespace {

bool is_yaml(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

int num_layers_arg(const std::string& command, const Args& args) {
  if (!args.has("num-layers")) return -1;
  const int64_t n = args.get_int("num-layers");
  if (n < 0 || n > 65536) DT_FAIL(command, ": --num-layers: expected an integer in [0, 65536], got ", n);
  return static_cast<int>(n);
}

ModelArg load_model_arg(const std::string& command, const std::string& flag, const std::string& path,
                        int num_layers) {
  std::error_code ec;
  if (is_yaml(path) && !std::filesystem::is_directory(path, ec)) {
    // Only the model section matters here; the rest of a run config is not checked.
    Config cfg = Config::load(path);
    if (num_layers >= 0) cfg.apply_override(str_cat("model.num_layers=", num_layers));
    const bool has_path = !cfg.get_string("model.path").empty();
    const bool has_init = !cfg.get_string("model.init.vocab").empty();
    if (has_path == has_init)
      DT_FAIL(command, ": ", flag, ": ", path, ": expected exactly one of model.path (a model "
              "directory) and model.init.vocab (a randomly initialised BERT)");
    SentenceModel model = model_from_config(cfg);
    std::string prompt = query_prompt(cfg, model);
    return {std::move(model), std::move(prompt)};
  }
  if (!std::filesystem::is_directory(path, ec))
    DT_FAIL(command, ": ", flag, ": '", path, "' is not a directory (expected a sentence-transformers "
            "model directory, or a .yaml config with a model section)");
  ModelOptions opts;
  opts.num_layers = num_layers;
  SentenceModel model = SentenceModel::load(path, opts);
  std::string prompt = model.query_prompt();
  return {std::move(model), std::move(prompt)};
}

}  // namespace disttune
