// The option registry: every configuration key is declared exactly once, in options.cpp,
// with its type, default, range and one-line help. The YAML loader, `--set`, `disttune
// validate` and docs/config.md are all driven from this table.
#pragma once

#include <string>
#include <vector>

namespace disttune {

enum class OptType { Bool, Int, Float, String, Choice, IntList, FloatList, StringMap, ChoiceList };

struct OptionSpec {
  std::string key;      // dotted path, e.g. "training.learning_rate"
  OptType type;
  std::string def;      // default, as YAML flow text
  double lo = 0, hi = 0;  // inclusive range for Int/Float and list elements (lo > hi: none)
  std::string choices;  // "a|b|c" for Choice and ChoiceList
  std::string help;
};

const std::vector<OptionSpec>& option_registry();
const OptionSpec* find_option(const std::string& key);
// True when `path` names a section (some key starts with "path.").
bool is_option_section(const std::string& path);
// The known key or section nearest to `key` (edit distance, section-insensitive).
std::string nearest_option(const std::string& key);
std::string type_name(const OptionSpec& spec);
// Markdown reference of every option (docs/config.md).
std::string options_markdown();

}  // namespace disttune
