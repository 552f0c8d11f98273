// The datasets a run's configuration names: data.train / data.val / data.test, read with
// data.columns (data.val_columns / data.test_columns where set) and data.on_bad_row. Errors
// in the mapping point at the config line.
#pragma once

#include <string>

#include "data/text_dataset.h"

namespace disttune {

class Config;

// Reads the file named by `key` (one of data.train, data.val, data.test; must be set).
// data.val and data.test are read with their own mapping where given, else with data.columns
// less a score beside anchor/positive/negatives (the evaluators do not read it). Throws
// UserError.
TextDataset read_config_dataset(const Config& cfg, const std::string& key);

}  // namespace disttune
