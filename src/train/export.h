// Writing a model directory so that a crash never leaves a half-written directory under
// the final name: the model is saved beside it, then swapped in by renames.
#pragma once

#include <string>

namespace disttune {

class SentenceModel;

void export_model_dir(const SentenceModel& model, const std::string& dir);

}  // namespace disttune
