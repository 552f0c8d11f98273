// Writing a model directory so that a crash or a full disk never leaves a half-written
// directory under the final name: the model is saved beside it (DIR.tmp.<pid>), then swapped
// in by renames; on failure the temporary is removed and a previous DIR is untouched.
//
// Only DIR itself is ever replaced, and only when it is absent, empty or a model directory
// (modules.json, config.json or model.safetensors in it): `--output .`, `--output ..` or a
// directory holding other things is refused instead of being moved aside and deleted. A DIR
// that is a symlink is replaced by the new directory; its target is not touched.
#pragma once

#include <string>

namespace disttune {

class SentenceModel;

void export_model_dir(const SentenceModel& model, const std::string& dir);
// Throws the UserError export_model_dir would throw for `dir` before writing anything (so a
// run can refuse a bad target at its start rather than after training).
void check_export_target(const std::string& dir);

}  // namespace disttune
