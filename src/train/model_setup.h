// The model a run's configuration names: model.path (a sentence-transformers directory) or
// model.init (a randomly initialised BERT), with the model.* overrides applied.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/text_dataset.h"
#include "model/sentence_model.h"
#include "text/tokenizer.h"

namespace disttune {

class Config;

ModelOptions model_options(const Config& cfg);
SentenceModel model_from_config(const Config& cfg);
// The query prompt for retrieval evaluation: model.query_prompt, else the model's
// (SentenceModel::query_prompt: "query", else the default prompt), else none.
std::string query_prompt(const Config& cfg, const SentenceModel& model);

// The frozen model the loss reads (frozen_model_key: gist's loss.guide, mse's loss.teacher),
// in eval mode. As sentence-transformers' GISTEmbedLoss, it embeds the model's own token ids
// when it tokenizes as the model does (`tokenizer`, at `max_length` tokens); otherwise it
// reads the texts with its own tokenizer, at its own max_seq_length. The key is set (the run
// checks refuse it empty).
struct Guide {
  SentenceModel model;
  std::optional<Tokenizer> tokenizer;  // set: the guide tokenizes the texts itself
};
Guide guide_from_config(const Config& cfg, const std::string& key, const Tokenizer& tokenizer, int max_length);

// The prompts (role -> text prepended to that role's texts) each training dataset is embedded
// with, in the order given (data.train's first, with the run's configuration; then each
// datasets: entry's, with Config::dataset_config): training.prompts, or an entry's own. Each
// role of training.prompts must be a role of a dataset that reads them, and the anchors' must
// agree with model.query_prompt where both are set (evaluation embeds queries as training
// embeds anchors); an entry's own prompts must name roles of that entry (evaluation reads
// data.train alone, so model.query_prompt does not bind them). A UserError naming the key
// otherwise.
std::vector<std::map<std::string, std::string>> dataset_prompts(
    const Config& cfg, const std::vector<std::pair<const Config*, const TextDataset*>>& datasets);

}  // namespace disttune
