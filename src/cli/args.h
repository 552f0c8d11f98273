// Command-line flags for the subcommands: each command declares its flags once (name,
// value name, help, default); parsing, --help text and errors come from that declaration.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace disttune {

struct FlagSpec {
  std::string name;     // without dashes, e.g. "batch-size"
  std::string value;    // value name for help ("N", "FILE"); empty: boolean switch
  std::string help;
  std::string def;      // default shown in help and returned by get() when absent
  bool required = false;
  bool repeated = false;  // may be given several times (e.g. --set)
};

struct CommandSpec {
  std::string name;
  std::string positional;  // e.g. "CONFIG.yaml" (empty: none), shown in usage
  int min_positional = 0, max_positional = 0;
  std::string summary;
  std::vector<FlagSpec> flags;
};

class Args {
 public:
  // Throws UserError naming the command and the flag on unknown/missing/malformed flags.
  static Args parse(const CommandSpec& spec, const std::vector<std::string>& argv);

  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;  // value or the declared default
  std::vector<std::string> get_all(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  std::vector<int64_t> get_int_list(const std::string& name) const;  // "1,3,5"
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  const CommandSpec* spec_ = nullptr;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

std::string command_help(const CommandSpec& spec);

}  // namespace disttune
