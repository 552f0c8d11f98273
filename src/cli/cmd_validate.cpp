// disttune validate: resolve the config, check it and the files it names, print it.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "common/check.h"
#include "common/log.h"
#include "config/config.h"
#include "data/config_dataset.h"
#include "data/split.h"
#include "dist/dist.h"
#include "eval/binary_classification_evaluator.h"
#include "train/loss.h"
#include "train/model_setup.h"
#include "train/run_data.h"
#include "train/scheduler.h"

namespace disttune {
namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void check_file_key(const Config& cfg, const std::string& key, bool required) {
  const std::string& path = cfg.get_string(key);
  if (path.empty()) {
    if (required) cfg.fail(key, "is required");
    return;
  }
  if (!is_file(path)) cfg.fail(key, "'" + path + "' is not a readable file");
}

void check_model_dir_key(const Config& cfg, const std::string& key) {
  const std::string& model = cfg.get_string(key);
  if (model.empty()) return;
  if (!is_dir(model)) cfg.fail(key, "'" + model + "' is not a directory");
  if (!is_file(model + "/config.json")) cfg.fail(key, "'" + model + "' has no config.json (not a model directory)");
}

// The loss's frozen model and keys, and their combinations, refused before the data is read:
// the run's loss and each datasets: entry's.
void check_loss_inputs(const Config& cfg) {
  const std::string& loss = cfg.get_string("loss.name");
  if (const char* key = frozen_model_key(loss); key && cfg.get_string(key).empty())
    cfg.fail(key, str_cat("is required by loss.name: ", loss, is_gist_loss(loss) ? " (the guide model's directory)"
                                                                                 : " (the teacher model's directory)"));
  check_model_dir_key(cfg, "loss.guide");
  check_model_dir_key(cfg, "loss.teacher");
  make_loss(cfg);
}

// The checks every run makes before doing work: keys, their combinations, and the files.
void check_run_inputs(const Config& cfg) {
  check_model_dir_key(cfg, "model.path");
  check_loss_inputs(cfg);
  // The schedule's keys too (the number of steps, which the data decides, does not change
  // what they accept).
  make_schedule(cfg, 0);
  check_file_key(cfg, "model.init.vocab", false);
  check_file_key(cfg, "data.train", true);
  check_file_key(cfg, "data.val", false);
  check_file_key(cfg, "data.test", false);
  bool any_cached = is_cached_loss(cfg.get_string("loss.name"));
  for (const std::string& name : cfg.dataset_names()) {
    const Config view = cfg.dataset_config(name);
    any_cached = any_cached || is_cached_loss(view.get_string("loss.name"));
    check_loss_inputs(view);
    check_file_key(view, "data.train", true);
  }
  if (cfg.get_int("training.mini_batch_size") > 0 && !any_cached)
    cfg.fail("training.mini_batch_size", "only cached_mnrl and cached_gist embed in mini-batches, and no dataset's "
                                         "loss is one of them (leave it 0)");
}

}  // namespace

Config load_config(Dist& d, const Args& args) {
  const std::string path = args.positional().at(0);
  // Rank 0 reads the file so that every rank resolves the same bytes even if the file
  // changes while the job starts; a read error on rank 0 is reported once.
  std::string text;
  std::string error;
  if (d.is_root()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      error = path + ": cannot open config file: " + std::strerror(errno);
    } else {
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
  }
  d.comm->broadcast_bytes(error, 0);
  if (!error.empty()) throw UserError(error);
  d.comm->broadcast_bytes(text, 0);
  return Config::from_yaml(text, path, args.get_all("set"));
}

Config load_run_config(Dist& d, const Args& args) {
  Config cfg = load_config(d, args);
  check_config(cfg, d.world_size).throw_if_error();
  check_run_inputs(cfg);
  return cfg;
}

int run_validate(Dist& d, const Args& args) {
  Config cfg = load_run_config(d, args);
  if (d.is_root()) {
    // The data files are read (rank 0 only): bad rows are reported as training would.
    std::string data_lines;
    std::vector<std::pair<std::string, TextDataset>> read;
    for (const char* key : {"data.train", "data.val", "data.test"}) {
      if (cfg.get_string(key).empty()) continue;
      read.emplace_back(key, read_config_dataset(cfg, key));
      const TextDataset& ds = read.back().second;
      if (std::string(key) == "data.train") {
        check_loss_takes_data(cfg, *make_loss(cfg), ds);
      }
      data_lines += str_cat("# ", key, ": ", ds.format_name(), ", ", ds.report.summary(), "\n");
      if (std::string(key) == "data.train" && cfg.get_string("data.val").empty() &&
          cfg.get_string("data.test").empty()) {
        const SplitIndices s = make_split(ds.size(), cfg.get_float("data.split.train"),
                                          cfg.get_float("data.split.val"),
                                          cfg.get_float("data.split.test"), cfg.get_int("data.split.seed"));
        data_lines += str_cat("# split: ", s.train.size(), " train, ", s.val.size(), " val, ",
                              s.test.size(), " test\n");
      }
    }
    std::vector<Config> views;
    std::vector<TextDataset> entries;
    for (const std::string& name : cfg.dataset_names()) {
      views.push_back(cfg.dataset_config(name));
      entries.push_back(read_config_dataset(views.back(), "data.train"));
      const TextDataset& ds = entries.back();
      if (ds.size() == 0) views.back().fail("data.train", "no usable rows");
      check_loss_takes_data(views.back(), *make_loss(views.back()), ds);
      data_lines += str_cat("# datasets.", name, ": ", ds.format_name(), ", ", ds.report.summary(), "; loss ",
                            views.back().get_string("loss.name"), "\n");
    }
    std::vector<std::pair<const Config*, const TextDataset*>> trained{{&cfg, &read.front().second}};
    for (size_t k = 0; k < views.size(); ++k) trained.emplace_back(&views[k], &entries[k]);
    dataset_prompts(cfg, trained);
    // As load_run_data decides it.
    std::vector<std::pair<std::string, const TextDataset*>> held;
    for (size_t i = 1; i < read.size(); ++i) held.emplace_back(read[i].first, &read[i].second);
    const EvalPlan plan = plan_evaluation(cfg, read.front().second, held);
    const ScoreFunction score = plan.any() ? run_score_function(cfg) : ScoreFunction::Cosine;
    if (plan.any() && cfg.get_string("eval.strategy") != "no") {
      check_eval_metric(cfg, plan.format, plan.binary_labels, score);
      // What the data decides (the label kind, the format): the names eval.metric may take.
      const auto names = run_metric_names(cfg, plan.format, plan.binary_labels, score);
      data_lines += str_cat("# evaluated: ", join(names, ", "), "; the best model by ",
                            run_eval_metric(cfg, plan.format, score), "\n");
    }
    std::fputs(cfg.to_yaml().c_str(), stdout);
    std::fputs(data_lines.c_str(), stdout);
    std::printf("# %s: valid for %d rank(s)\n", cfg.source().c_str(), d.world_size);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace disttune
