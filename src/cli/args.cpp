#include "cli/args.h"

#include <sstream>

#include "common/check.h"

namespace disttune {
namespace {

const FlagSpec* find_flag(const CommandSpec& spec, const std::string& name) {
  for (const auto& f : spec.flags)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace

Args Args::parse(const CommandSpec& spec, const std::vector<std::string>& argv) {
  Args a;
  a.spec_ = &spec;
  const std::string cmd = "disttune " + spec.name;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      a.help_ = true;
      return a;
    }
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      std::string name = arg.substr(2), value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      const FlagSpec* f = find_flag(spec, name);
      if (!f) DT_FAIL(cmd, ": unknown option --", name, " (see disttune ", spec.name, " --help)");
      if (f->value.empty()) {
        if (inline_value) DT_FAIL(cmd, ": option --", name, " takes no value");
        value = "true";
      } else if (!inline_value) {
        if (i + 1 >= argv.size()) DT_FAIL(cmd, ": option --", name, " needs a value (", f->value, ")");
        value = argv[++i];
      }
      if (!f->repeated && a.values_.count(name))
        DT_FAIL(cmd, ": option --", name, " given more than once");
      a.values_[name].push_back(value);
    } else {
      a.positional_.push_back(arg);
    }
  }
  if (static_cast<int>(a.positional_.size()) < spec.min_positional)
    DT_FAIL(cmd, ": missing ", spec.positional, " (usage: disttune ", spec.name, " ",
            spec.positional, " ...)");
  if (static_cast<int>(a.positional_.size()) > spec.max_positional)
    DT_FAIL(cmd, ": unexpected argument '", a.positional_[spec.max_positional], "'");
  for (const auto& f : spec.flags)
    if (f.required && !a.values_.count(f.name))
      DT_FAIL(cmd, ": missing required option --", f.name, " ", f.value);
  return a;
}

bool Args::has(const std::string& name) const {
  DT_CHECK(find_flag(*spec_, name), "flag not declared: ", name);
  return values_.count(name) > 0;
}

std::string Args::get(const std::string& name) const {
  const FlagSpec* f = find_flag(*spec_, name);
  DT_CHECK(f, "flag not declared: ", name);
  auto it = values_.find(name);
  return it == values_.end() ? f->def : it->second.back();
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  DT_CHECK(find_flag(*spec_, name), "flag not declared: ", name);
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &pos);
  } catch (...) {
    pos = 0;
  }
  if (v.empty() || pos != v.size())
    DT_FAIL("disttune ", spec_->name, ": --", name, ": expected an integer, got '", v, "'");
  return n;
}

std::vector<int64_t> Args::get_int_list(const std::string& name) const {
  std::vector<int64_t> out;
  std::stringstream ss(get(name));
  for (std::string item; std::getline(ss, item, ',');) {
    size_t pos = 0;
    long long n = 0;
    try {
      n = std::stoll(item, &pos);
    } catch (...) {
      pos = 0;
    }
    if (item.empty() || pos != item.size())
      DT_FAIL("disttune ", spec_->name, ": --", name,
              ": expected comma-separated integers, got '", get(name), "'");
    out.push_back(n);
  }
  return out;
}

std::string command_help(const CommandSpec& spec) {
  std::ostringstream os;
  os << "usage: disttune " << spec.name;
  if (!spec.positional.empty()) os << " " << spec.positional;
  if (!spec.flags.empty()) os << " [options]";
  os << "\n\n" << spec.summary << "\n";
  if (!spec.flags.empty()) {
    os << "\noptions:\n";
    for (const auto& f : spec.flags) {
      std::string left = "  --" + f.name + (f.value.empty() ? "" : " " + f.value);
      os << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << f.help;
      if (f.required) os << " (required)";
      else if (!f.def.empty()) os << " (default: " << f.def << ")";
      if (f.repeated) os << " (repeatable)";
      os << "\n";
    }
  }
  os << "  -h, --help                show this help\n";
  return os.str();
}

}  // namespace disttune
