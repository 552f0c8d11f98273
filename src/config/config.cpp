#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/options.h"

namespace disttune {
namespace {

std::string mark_str(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return file;
  return str_cat(file, ":", m.line + 1);
}

std::string node_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  if (n.IsNull()) return "nothing";
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

// YAML scalars that yaml-cpp would coerce but a user almost surely did not mean as
// numbers/bools are refused by checking the text ourselves.
bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  size_t pos = 0;
  try {
    long long v = std::stoll(s, &pos, 10);
    if (pos != s.size()) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

bool parse_float(const std::string& s, double* out) {
  if (s.empty()) return false;
  size_t pos = 0;
  try {
    double v = std::stod(s, &pos);
    if (pos != s.size() || !std::isfinite(v)) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

bool parse_bool(const std::string& s, bool* out) {
  if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") {
    *out = false;
    return true;
  }
  return false;
}

std::string range_text(const OptionSpec& s) {
  std::ostringstream os;
  os << "[" << s.lo << ", " << s.hi << "]";
  return os.str();
}

}  // namespace

Config::Config() {
  // Parsing every registry default is most of the cost of a small config; it is done once.
  static const Config* defaults = [] {
    auto* c = new Config(nullptr);
    for (const auto& spec : option_registry()) {
      YAML::Node n;
      try {
        n = YAML::Load(spec.def);
      } catch (const YAML::Exception& e) {
        DT_CHECK(false, "bad registry default for ", spec.key, ": ", e.what());
      }
      c->set_from_node(spec, n, "default");
    }
    return c;
  }();
  values_ = defaults->values_;
  where_ = defaults->where_;
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) DT_FAIL(path, ": cannot open config file: ", std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return from_yaml(ss.str(), path, overrides);
}

Config Config::from_yaml(const std::string& text, const std::string& name,
                         const std::vector<std::string>& overrides) {
  Config cfg;
  cfg.source_ = name;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    DT_FAIL(name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
  }
  if (root.IsNull()) {
    // An empty file is a valid (all-defaults) config.
  } else if (!root.IsMap()) {
    DT_FAIL(name, ":", root.Mark().line + 1,
            ": expected a mapping of sections (model, data, training, ...), got ",
            node_text(root));
  } else {
    cfg.load_node(root, "", name);
  }
  for (const auto& o : overrides) cfg.apply_override(o);
  return cfg;
}

void Config::load_node(const YAML::Node& node, const std::string& prefix,
                       const std::string& file) {
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string where = mark_str(file, it->first.Mark());
    if (!it->first.IsScalar()) DT_FAIL(where, ": keys must be plain names");
    const std::string name = it->first.Scalar();
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (!seen.insert(name).second) DT_FAIL(where, ": duplicate key '", path, "'");
    if (path == "datasets") {
      load_datasets(it->second, file);
    } else if (const OptionSpec* spec = find_option(path)) {
      set_from_node(*spec, it->second, where);
    } else if (is_option_section(path)) {
      if (!it->second.IsMap())
        DT_FAIL(where, ": '", path, "' is a section: expected a mapping of keys, got ",
                node_text(it->second));
      load_node(it->second, path, file);
    } else {
      DT_FAIL(where, ": unknown key '", path, "' (did you mean '", nearest_option(path), "'?)");
    }
  }
}

namespace {

// The keys of a datasets: entry besides loss, and the run's keys they set.
struct EntryKey {
  const char* entry;
  const char* key;
};
constexpr EntryKey kEntryKeys[] = {{"train", "data.train"},
                                   {"columns", "data.columns"},
                                   {"on_bad_row", "data.on_bad_row"},
                                   {"prompts", "training.prompts"}};

}  // namespace

void Config::load_datasets(const YAML::Node& node, const std::string& file) {
  const std::string at = mark_str(file, node.Mark());
  if (!node.IsMap() || node.size() == 0)
    DT_FAIL(at, ": datasets: expected a mapping of names to datasets, e.g. {nli: {train: nli.jsonl}}, got ",
            node_text(node));
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string where = mark_str(file, it->first.Mark());
    if (!it->first.IsScalar()) DT_FAIL(where, ": datasets: names must be plain names");
    const std::string name = it->first.Scalar();
    // The name becomes a directory of the token cache and the name in the log.
    const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    if (!plain) DT_FAIL(where, ": datasets: '", name, "': a name is letters, digits, '_' and '-'");
    if (datasets_.count(name)) DT_FAIL(where, ": datasets: duplicate name '", name, "'");
    if (name == "data") DT_FAIL(where, ": datasets: 'data' names data.train's dataset; choose another name");
    const std::string label = "datasets." + name;
    if (!it->second.IsMap())
      DT_FAIL(where, ": ", label, ": expected a mapping {train: FILE, columns: ..., loss: ...}, got ",
              node_text(it->second));
    Config scratch;  // the defaults, to parse and check each key as a run's key
    DatasetEntry e;
    for (auto kv = it->second.begin(); kv != it->second.end(); ++kv) {
      const std::string kwhere = mark_str(file, kv->first.Mark());
      const std::string key = kv->first.IsScalar() ? kv->first.Scalar() : "";
      if (key == "loss") {
        if (!kv->second.IsMap())
          DT_FAIL(kwhere, ": ", label, ".loss: expected a mapping of loss keys, e.g. {name: cosent}, got ",
                  node_text(kv->second));
        scratch.load_node(kv->second, "loss", file);
        e.own_loss = true;
        continue;
      }
      const auto own = std::find_if(std::begin(kEntryKeys), std::end(kEntryKeys),
                                    [&](const EntryKey& k) { return key == k.entry; });
      if (own == std::end(kEntryKeys))
        DT_FAIL(kwhere, ": ", label, ": unknown key '", key, "' (expected train, columns, on_bad_row, prompts, loss)");
      scratch.set_from_node(*find_option(own->key), kv->second, kwhere);
    }
    if (!scratch.is_set("data.train") || scratch.get_string("data.train").empty())
      DT_FAIL(where, ": ", label, ": train: required (the dataset's training file)");
    for (const auto& [key, w] : scratch.where_) {
      if (w == "default") continue;
      e.values[key] = scratch.values_.at(key);
      e.where[key] = w;
    }
    dataset_names_.push_back(name);
    datasets_.emplace(name, std::move(e));
  }
}

Config Config::dataset_config(const std::string& name) const {
  const auto it = datasets_.find(name);
  DT_CHECK(it != datasets_.end(), "no dataset '", name, "' in ", source_);
  Config c = *this;
  c.dataset_names_.clear();
  c.datasets_.clear();
  c.context_ = "datasets." + name;
  if (it->second.own_loss) {
    static const Config defaults;
    for (const auto& spec : option_registry()) {
      if (spec.key.rfind("loss.", 0) != 0) continue;
      c.values_[spec.key] = defaults.values_.at(spec.key);
      c.where_[spec.key] = "default";
    }
  }
  for (const auto& [key, v] : it->second.values) {
    c.values_[key] = v;
    c.where_[key] = it->second.where.at(key);
  }
  return c;
}

void Config::set_from_node(const OptionSpec& spec, const YAML::Node& n, const std::string& where) {
  const std::string& key = spec.key;
  auto expected = [&](const std::string& what) {
    DT_FAIL(where, ": ", key, ": expected ", what, ", got ", node_text(n));
  };
  auto check_range = [&](double v, const YAML::Node& item) {
    if (spec.lo <= spec.hi && (v < spec.lo || v > spec.hi))
      DT_FAIL(where, ": ", key, ": ", node_text(item), " is out of range ", range_text(spec));
  };
  auto scalar_int = [&](const YAML::Node& s) {
    int64_t v = 0;
    if (!s.IsScalar() || !parse_int(s.Scalar(), &v))
      expected(spec.type == OptType::Int ? "an integer" : "a list of integers");
    check_range(static_cast<double>(v), s);
    return v;
  };
  auto scalar_float = [&](const YAML::Node& s) {
    double v = 0;
    if (!s.IsScalar() || !parse_float(s.Scalar(), &v))
      expected(spec.type == OptType::Float ? "a number" : "a list of numbers");
    check_range(v, s);
    return v;
  };

  auto choice = [&](const YAML::Node& s) {
    bool ok = false;
    std::stringstream ss(spec.choices);
    for (std::string c; s.IsScalar() && std::getline(ss, c, '|');) ok = ok || c == s.Scalar();
    if (!ok) expected(spec.type == OptType::Choice ? "one of " + spec.choices : "a list of " + spec.choices);
    return s.Scalar();
  };

  Value value;
  switch (spec.type) {
    case OptType::Bool: {
      bool b = false;
      if (!n.IsScalar() || !parse_bool(n.Scalar(), &b)) expected("true or false");
      value = b;
      break;
    }
    case OptType::Int: value = scalar_int(n); break;
    case OptType::Float: value = scalar_float(n); break;
    case OptType::String:
      if (!n.IsScalar()) expected("a string");
      value = n.Scalar();
      break;
    case OptType::Choice: value = choice(n); break;
    case OptType::ChoiceList: {
      if (!n.IsSequence()) expected("a list of " + spec.choices + ", e.g. [" + spec.choices.substr(0, spec.choices.find('|')) + "]");
      std::vector<std::string> v;
      for (const auto& e : n) v.push_back(choice(e));
      value = v;
      break;
    }
    case OptType::IntList: {
      if (!n.IsSequence()) expected("a list of integers, e.g. [1, 10]");
      std::vector<int64_t> v;
      for (const auto& e : n) v.push_back(scalar_int(e));
      value = v;
      break;
    }
    case OptType::FloatList: {
      if (!n.IsSequence()) expected("a list of numbers, e.g. [1.0, 0.5]");
      std::vector<double> v;
      for (const auto& e : n) v.push_back(scalar_float(e));
      value = v;
      break;
    }
    case OptType::StringMap: {
      if (!n.IsMap()) expected("a mapping, e.g. {anchor: question}");
      std::map<std::string, std::string> m;
      for (auto it = n.begin(); it != n.end(); ++it) {
        if (!it->first.IsScalar() || !it->second.IsScalar())
          DT_FAIL(where, ": ", key, ": expected name: value pairs, got ", node_text(n));
        m[it->first.Scalar()] = it->second.Scalar();
      }
      value = m;
      break;
    }
  }
  values_[key] = std::move(value);
  where_[key] = where;
}

void Config::apply_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    DT_FAIL("--set ", assignment, ": expected key.path=value");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  const std::string where = "--set " + key;
  YAML::Node n;
  try {
    n = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    DT_FAIL(where, ": cannot parse value '", text, "': ", e.msg);
  }
  if (text.empty()) n = YAML::Node(std::string());
  override_node(key, n, where);
}

void Config::override_node(const std::string& key, const YAML::Node& n, const std::string& where) {
  if (key == "datasets" || key.rfind("datasets.", 0) == 0)
    DT_FAIL(where, ": the datasets section is read from the config file only; edit it there");
  if (const OptionSpec* spec = find_option(key)) {
    set_from_node(*spec, n, where);
    return;
  }
  // A whole section: --set data.split={train: 0.9, val: 0, test: 0.1}, each key as if set alone.
  if (is_option_section(key)) {
    if (!n.IsMap()) DT_FAIL(where, ": '", key, "' is a section: expected a mapping of its keys, got ", node_text(n));
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) DT_FAIL(where, ": keys must be plain names");
      override_node(key + "." + it->first.Scalar(), it->second, where);
    }
    return;
  }
  // One entry of a map-valued option: --set data.columns.anchor=question.
  const auto dot = key.rfind('.');
  if (dot != std::string::npos) {
    const OptionSpec* parent = find_option(key.substr(0, dot));
    if (parent && parent->type == OptType::StringMap) {
      if (!n.IsScalar()) DT_FAIL(where, ": expected a string, got ", node_text(n));
      std::get<std::map<std::string, std::string>>(values_[parent->key])[key.substr(dot + 1)] =
          n.Scalar();
      where_[parent->key] = where;
      return;
    }
  }
  DT_FAIL(where, ": unknown key '", key, "' (did you mean '", nearest_option(key), "'?)");
}

const Config::Value& Config::at(const std::string& key) const {
  auto it = values_.find(key);
  DT_CHECK(it != values_.end(), "option not in registry: ", key);
  return it->second;
}

template <typename T>
static const T& typed(const Config::Value& v, const std::string& key) {
  const T* p = std::get_if<T>(&v);
  DT_CHECK(p != nullptr, "option ", key, " read with the wrong type");
  return *p;
}

bool Config::get_bool(const std::string& key) const { return typed<bool>(at(key), key); }
int64_t Config::get_int(const std::string& key) const { return typed<int64_t>(at(key), key); }
double Config::get_float(const std::string& key) const { return typed<double>(at(key), key); }
const std::string& Config::get_string(const std::string& key) const {
  return typed<std::string>(at(key), key);
}
const std::vector<int64_t>& Config::get_int_list(const std::string& key) const {
  return typed<std::vector<int64_t>>(at(key), key);
}
const std::vector<double>& Config::get_float_list(const std::string& key) const {
  return typed<std::vector<double>>(at(key), key);
}
const std::vector<std::string>& Config::get_string_list(const std::string& key) const {
  return typed<std::vector<std::string>>(at(key), key);
}
const std::map<std::string, std::string>& Config::get_string_map(const std::string& key) const {
  return typed<std::map<std::string, std::string>>(at(key), key);
}

bool Config::is_set(const std::string& key) const {
  at(key);
  return where_.at(key) != "default";
}

std::string Config::where(const std::string& key) const {
  at(key);
  const std::string& w = where_.at(key);
  return w == "default" ? source_ + ": (default)" : w;
}

void Config::fail(const std::string& key, const std::string& msg) const {
  DT_FAIL(where(key), ": ", context_.empty() ? "" : context_ + ": ", key, ": ", msg);
}

namespace {

void emit_value(YAML::Emitter& out, const Config::Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>> ||
                      std::is_same_v<T, std::vector<std::string>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (auto e : x) out << e;
          out << YAML::EndSeq;
        } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
          out << YAML::Flow << YAML::BeginMap;
          for (const auto& [k, s] : x) out << YAML::Key << k << YAML::Value << s;
          out << YAML::EndMap;
        } else if constexpr (std::is_same_v<T, std::string>) {
          out << YAML::DoubleQuoted << x;
        } else {
          out << x;
        }
      },
      v);
}

}  // namespace

std::string Config::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;  // currently open section path components
  for (const auto& spec : option_registry()) {
    std::vector<std::string> parts;
    std::stringstream ss(spec.key);
    for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common])
      ++common;
    while (open.size() > common) {
      out << YAML::EndMap;
      open.pop_back();
    }
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out << YAML::Key << parts[i] << YAML::Value << YAML::BeginMap;
      open.push_back(parts[i]);
    }
    out << YAML::Key << parts.back() << YAML::Value;
    emit_value(out, at(spec.key));
  }
  while (!open.empty()) {
    out << YAML::EndMap;
    open.pop_back();
  }
  if (!dataset_names_.empty()) {
    out << YAML::Key << "datasets" << YAML::Value << YAML::BeginMap;
    for (const std::string& name : dataset_names_) {
      const DatasetEntry& e = datasets_.at(name);
      out << YAML::Key << name << YAML::Value << YAML::BeginMap;
      for (const EntryKey& k : kEntryKeys) {
        const auto v = e.values.find(k.key);
        if (v == e.values.end()) continue;
        out << YAML::Key << k.entry << YAML::Value;
        emit_value(out, v->second);
      }
      if (e.own_loss) {
        out << YAML::Key << "loss" << YAML::Value << YAML::BeginMap;
        for (const auto& [key, v] : e.values) {
          if (key.rfind("loss.", 0) != 0) continue;
          out << YAML::Key << key.substr(5) << YAML::Value;
          emit_value(out, v);
        }
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Status check_config(const Config& cfg, int world_size) {
  auto err = [&](const std::string& key, const std::string& msg) {
    const std::string& ctx = cfg.context();
    return Status::Error(str_cat(cfg.where(key), ": ", ctx.empty() ? "" : ctx + ": ", key, ": ", msg));
  };
  const bool has_path = !cfg.get_string("model.path").empty();
  const bool has_init = !cfg.get_string("model.init.vocab").empty();
  if (has_path && has_init)
    return err("model.init.vocab", "set either model.path or model.init, not both");
  if (!has_path && !has_init)
    return err("model.path", "no model: set model.path (a model directory) or model.init.vocab");
  if (cfg.get_int("model.init.hidden_size") % cfg.get_int("model.init.num_heads") != 0)
    return err("model.init.num_heads", "must divide model.init.hidden_size");
  if (has_init && cfg.get_int("model.num_layers") > cfg.get_int("model.init.num_layers"))
    return err("model.num_layers", str_cat("keeps ", cfg.get_int("model.num_layers"), " layers of a model of ",
                                           cfg.get_int("model.init.num_layers"), " (model.init.num_layers)"));

  const double sum = cfg.get_float("data.split.train") + cfg.get_float("data.split.val") +
                     cfg.get_float("data.split.test");
  if (std::abs(sum - 1.0) > 1e-6)
    return err("data.split.train", str_cat("split fractions must sum to 1, they sum to ", sum));
  for (const char* key : {"data.columns", "data.val_columns", "data.test_columns"}) {
    for (const auto& [role, col] : cfg.get_string_map(key)) {
      const bool known = role == "anchor" || role == "positive" || role == "sentence1" || role == "sentence2" ||
                         role == "score" || role == "id" || role == "text" || role == "label" ||
                         role.rfind("negative", 0) == 0;
      if (!known)
        return err(key, str_cat("unknown role '", role,
                                "' (expected anchor, positive, negative[_N], id, "
                                "sentence1, sentence2, score, text, label)"));
      if (col.empty()) return err(key, str_cat("role '", role, "' maps to no column"));
    }
  }
  for (const char* split : {"val", "test"}) {
    const std::string key = str_cat("data.", split, "_columns");
    if (!cfg.get_string_map(key).empty() && cfg.get_string(str_cat("data.", split)).empty())
      return err(key, str_cat("set but data.", split, " is empty (a split of data.train is read with data.columns)"));
  }

  const int64_t gb = cfg.get_int("training.global_batch_size");
  const int64_t accum = cfg.get_int("training.gradient_accumulation_steps");
  if (gb % (static_cast<int64_t>(world_size) * accum) != 0)
    return err("training.global_batch_size",
               str_cat(gb, " does not divide evenly over ", world_size, " rank(s) x ", accum,
                       " accumulation step(s)"));
  if (cfg.get_string("eval.strategy") == "steps" && cfg.get_int("eval.steps") <= 0)
    return err("eval.steps", "must be > 0 when eval.strategy is steps");
  if (cfg.get_int("eval.early_stopping_patience") > 0 && cfg.get_string("eval.strategy") == "no")
    return err("eval.early_stopping_patience", "needs evaluations: eval.strategy epoch or steps");
  if (cfg.get_string("checkpoint.save_strategy") == "steps" &&
      cfg.get_int("checkpoint.save_steps") <= 0)
    return err("checkpoint.save_steps", "must be > 0 when checkpoint.save_strategy is steps");
  const auto& dims = cfg.get_int_list("loss.matryoshka_dims");
  const auto& weights = cfg.get_float_list("loss.matryoshka_weights");
  if (!weights.empty() && weights.size() != dims.size())
    return err("loss.matryoshka_weights",
               str_cat("has ", weights.size(), " weights for ", dims.size(), " dims"));
  if (cfg.get_string("output.dir").empty()) return err("output.dir", "must not be empty");
  for (const std::string& name : cfg.dataset_names()) {
    Status s = check_config(cfg.dataset_config(name), world_size);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace disttune
