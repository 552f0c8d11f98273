#include "data/config_dataset.h"

#include "common/check.h"
#include "config/config.h"

namespace disttune {

TextDataset read_config_dataset(const Config& cfg, const std::string& key) {
  const std::string& path = cfg.get_string(key);
  DT_CHECK(!path.empty(), key, " is not set");
  const std::string own = key == "data.train" ? "" : key + "_columns";
  const std::string mapping = !own.empty() && !cfg.get_string_map(own).empty() ? own : "data.columns";
  auto columns = cfg.get_string_map(mapping);
  try {
    map_columns(columns);
  } catch (const UserError& e) {
    cfg.fail(mapping, e.what());
  }
  // Held-out tuples are evaluated without their scores (the distillation losses' labels), so
  // their files need not carry them.
  if (key != "data.train" && mapping == "data.columns" && columns.count("anchor") > 0) columns.erase("score");
  return read_text_dataset(path, columns, parse_bad_row_policy(cfg.get_string("data.on_bad_row")));
}

}  // namespace disttune
