#include "train/model_setup.h"

#include <algorithm>

#include "common/check.h"
#include "config/config.h"
#include "embed/embedder.h"

namespace disttune {

ModelOptions model_options(const Config& cfg) {
  ModelOptions o;
  o.max_seq_length = static_cast<int>(cfg.get_int("model.max_seq_length"));
  o.pooling = cfg.get_string("model.pooling");
  o.normalize = cfg.get_string("model.normalize");
  o.dropout = cfg.get_float("model.dropout");
  o.num_layers = static_cast<int>(cfg.get_int("model.num_layers"));
  return o;
}

SentenceModel model_from_config(const Config& cfg) {
  const std::string& path = cfg.get_string("model.path");
  if (!path.empty()) return SentenceModel::load(path, model_options(cfg));
  InitOptions init;
  init.vocab = cfg.get_string("model.init.vocab");
  init.hidden_size = static_cast<int>(cfg.get_int("model.init.hidden_size"));
  init.num_layers = static_cast<int>(cfg.get_int("model.init.num_layers"));
  init.num_heads = static_cast<int>(cfg.get_int("model.init.num_heads"));
  init.intermediate_size = static_cast<int>(cfg.get_int("model.init.intermediate_size"));
  init.max_position = static_cast<int>(cfg.get_int("model.init.max_position"));
  init.seed = static_cast<uint64_t>(cfg.get_int("model.init.seed"));
  return SentenceModel::init(init, model_options(cfg));
}

std::string query_prompt(const Config& cfg, const SentenceModel& model) {
  const std::string& p = cfg.get_string("model.query_prompt");
  return p.empty() ? model.query_prompt() : p;
}

Guide guide_from_config(const Config& cfg, const std::string& key, const Tokenizer& tokenizer, int max_length) {
  const std::string& path = cfg.get_string(key);
  DT_CHECK(!path.empty(), key, ": empty (check_run_inputs refuses that before training)");
  Guide g{SentenceModel::load(path), std::nullopt};
  Tokenizer own = Embedder::tokenizer_for(g.model);
  if (own.fingerprint() != tokenizer.fingerprint() || g.model.max_seq_length() < max_length)
    g.tokenizer.emplace(std::move(own));
  return g;
}

namespace {

void check_prompt_roles(const Config& cfg, const std::vector<std::string>& roles, const std::string& of) {
  for (const auto& [role, text] : cfg.get_string_map("training.prompts")) {
    if (std::find(roles.begin(), roles.end(), role) != roles.end()) continue;
    cfg.fail("training.prompts",
             str_cat("'", role, "' is not a role of ", of, " (its roles: ", join(roles, ", "), ")"));
  }
}

}  // namespace

std::vector<std::map<std::string, std::string>> dataset_prompts(
    const Config& cfg, const std::vector<std::pair<const Config*, const TextDataset*>>& datasets) {
  std::vector<std::map<std::string, std::string>> out;
  std::vector<std::string> roles;  // of the datasets that read training.prompts
  for (const auto& [view, data] : datasets) {
    // An entry's own prompts come from its line, not from where the run's came from.
    const bool own = !view->context().empty() && view->where("training.prompts") != cfg.where("training.prompts");
    if (own) {
      check_prompt_roles(*view, data->roles, data->source);
    } else {
      for (const auto& r : data->roles)
        if (std::find(roles.begin(), roles.end(), r) == roles.end()) roles.push_back(r);
    }
    out.push_back(view->get_string_map("training.prompts"));
  }
  check_prompt_roles(cfg, roles, datasets.size() > 1 ? "data.train or datasets" : "data.train");
  // Queries are evaluated as anchors are trained: two different prompts cannot both hold.
  const auto& prompts = cfg.get_string_map("training.prompts");
  const std::string& query = cfg.get_string("model.query_prompt");
  if (const auto it = prompts.find("anchor"); it != prompts.end() && !query.empty() && query != it->second)
    cfg.fail("model.query_prompt", str_cat("'", query, "' differs from training.prompts.anchor ('", it->second,
                                           "'): evaluation embeds queries as training embeds anchors"));
  return out;
}

}  // namespace disttune
