// The model a command's --model flag names: a sentence-transformers directory, or a YAML
// config whose model section names one (model.path) or a randomly initialised BERT
// (model.init.*), with the model.* overrides of that section applied.
#pragma once

#include <string>

#include "model/sentence_model.h"

namespace disttune {

class Args;

struct ModelArg {
  SentenceModel model;
  // The retrieval query prompt: a config's model.query_prompt, else the model's
  // (SentenceModel::query_prompt), as training evaluates with it.
  std::string query_prompt;
};

// `command` and `flag` name the option in messages; `num_layers` >= 0 keeps the model's first
// layers (a config's model.num_layers otherwise). Throws UserError.
ModelArg load_model_arg(const std::string& command, const std::string& flag, const std::string& path,
                        int num_layers = -1);

// The --num-layers flag: -1 when absent; UserError unless an integer >= 0.
int num_layers_arg(const std::string& command, const Args& args);

}  // namespace disttune
