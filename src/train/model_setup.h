// The model a run's configuration names: model.path (a sentence-transformers directory) or
// model.init (a randomly initialised BERT), with the model.* overrides applied.
#pragma once

#include <string>

#include "model/sentence_model.h"

namespace disttune {

class Config;

ModelOptions model_options(const Config& cfg);
SentenceModel model_from_config(const Config& cfg);
// The query prompt for retrieval evaluation: model.query_prompt, else the model's "query"
// prompt, else none.
std::string query_prompt(const Config& cfg, const SentenceModel& model);

}  // namespace disttune
