// The model a command's --model flag names: a sentence-transformers directory, or a YAML
// config whose model section names one (model.path) or a randomly initialised BERT
// (model.init.*), with the model.* overrides of that section applied.
#pragma once

#include <string>

#include "model/sentence_model.h"

namespace disttune {

// `command` and `flag` name the option in messages. Throws UserError.
SentenceModel load_model_arg(const std::string& command, const std::string& flag,
                             const std::string& path);

}  // namespace disttune
