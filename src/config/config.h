// Config: the resolved configuration of a run — registry defaults, then the YAML file,
// then `--set` overrides, each value type- and range-checked against the registry.
// Every value remembers where it came from ("cfg.yaml:12", "--set", "default") so that
// later errors (a missing data file, a bad combination) can point at the line to fix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace YAML {
class Node;
}

namespace disttune {

struct OptionSpec;

class Config {
 public:
  using Value = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>,
                             std::vector<double>, std::map<std::string, std::string>, std::vector<std::string>>;

  // Registry defaults only.
  Config();
  // Defaults, then the YAML file, then each "key.path=value" override. Throws UserError.
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
  // As load, from YAML text; `name` is used in error messages.
  static Config from_yaml(const std::string& text, const std::string& name,
                          const std::vector<std::string>& overrides = {});

  // "key.path=value": value parsed as YAML and checked like a file value. Throws UserError.
  void apply_override(const std::string& assignment);

  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;  // String and Choice
  const std::vector<int64_t>& get_int_list(const std::string& key) const;
  const std::vector<double>& get_float_list(const std::string& key) const;
  const std::map<std::string, std::string>& get_string_map(const std::string& key) const;
  const std::vector<std::string>& get_string_list(const std::string& key) const;  // ChoiceList

  // Whether the key was given explicitly (file or --set) rather than defaulted.
  bool is_set(const std::string& key) const;
  // "file:line" / "--set" / "default": prefix for errors about this key's value.
  std::string where(const std::string& key) const;
  // "cfg.yaml:12: data.train: <msg>" as a UserError.
  [[noreturn]] void fail(const std::string& key, const std::string& msg) const;

  // The resolved configuration as YAML (sections nested, registry order; then `datasets`).
  std::string to_yaml() const;
  const std::string& source() const { return source_; }

  // The `datasets:` section: training datasets beside data.train (sentence-transformers'
  // DatasetDict of train datasets, with a loss per dataset), in file order. Each entry is
  //   <name>: {train: FILE, columns: {...}, on_bad_row: ..., prompts: {...}, loss: {name: ..., ...}}
  // where train is required and the others optional.
  const std::vector<std::string>& dataset_names() const { return dataset_names_; }
  // The configuration dataset `name` trains with: this one with the entry's train, columns,
  // on_bad_row and prompts as data.train, data.columns, data.on_bad_row and training.prompts
  // (inherited when the entry has none), and, where the entry has a loss: section, every loss.*
  // key from the defaults and that section, as a loss built on its own; else the run's loss.
  // Errors about its keys name the entry ("datasets.<name>: ...").
  Config dataset_config(const std::string& name) const;
  // "datasets.<name>" for a dataset's configuration, "" for the run's.
  const std::string& context() const { return context_; }

 private:
  explicit Config(std::nullptr_t) {}  // empty: for building the registry defaults once
  void load_node(const YAML::Node& node, const std::string& prefix, const std::string& file);
  void set_from_node(const OptionSpec& spec, const YAML::Node& node, const std::string& where);
  // One --set key (an option, a map option's entry or a section) to a parsed value.
  void override_node(const std::string& key, const YAML::Node& node, const std::string& where);
  const Value& at(const std::string& key) const;
  void load_datasets(const YAML::Node& node, const std::string& file);

  // One entry of `datasets:`: the keys it sets, as parsed and checked at load.
  struct DatasetEntry {
    bool own_loss = false;
    std::map<std::string, Value> values;
    std::map<std::string, std::string> where;
  };

  std::string source_ = "defaults";
  std::string context_;
  std::map<std::string, Value> values_;
  std::map<std::string, std::string> where_;
  std::vector<std::string> dataset_names_;
  std::map<std::string, DatasetEntry> datasets_;
};

// Cross-key checks that do not need the filesystem (exclusive keys, sums, divisibility).
Status check_config(const Config& cfg, int world_size);

}  // namespace disttune
