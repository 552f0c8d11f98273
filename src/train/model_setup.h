// The model a run's configuration names: model.path (a sentence-transformers directory) or
// model.init (a randomly initialised BERT), with the model.* overrides applied.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

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

// training.prompts (role -> text prepended to that role's texts), each role checked against
// `roles`, those of the training data (`of` names it in the message), and the anchors' against
// model.query_prompt (set, they must agree): a UserError naming the key otherwise.
std::map<std::string, std::string> training_prompts(const Config& cfg, const std::vector<std::string>& roles,
                                                    const std::string& of = "data.train");

}  // namespace disttune
