// config: the bytes are a YAML config (and, after kPartSeparator, one --set override per
// line), loaded against the real option registry, then checked by check_config at several
// world sizes. A config that loads must also survive what `disttune validate` and every
// checkpoint do with it: its resolved YAML (to_yaml) loads again to the same config.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/options.h"
#include "fuzz.h"

namespace disttune::fuzz {
namespace {

void fuzz_config(std::string_view input) {
  const std::vector<std::string_view> parts = split_parts(input, 2);
  std::vector<std::string> overrides;
  if (parts.size() > 1) {
    std::string_view rest = parts[1];
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  const Config cfg = Config::from_yaml(std::string(parts[0]), "fuzz.yaml", overrides);
  const std::string resolved = cfg.to_yaml();
  std::string again;
  try {
    again = Config::from_yaml(resolved, "resolved.yaml").to_yaml();
  } catch (const UserError& e) {
    bug("config", str_cat("the resolved YAML of an accepted config does not load: ", e.what(),
                          "\n--- resolved YAML ---\n", resolved));
  }
  if (again != resolved)
    bug("config", str_cat("the resolved YAML changes when loaded again:\n--- first ---\n", resolved,
                          "--- second ---\n", again));
  for (int world_size : {1, 2, 3, 4}) (void)check_config(cfg, world_size);
}

std::vector<std::string> config_seeds() {
  std::vector<std::string> s;
  // The recipes shipped in configs/ (part of the repository, not the shared data).
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(std::string(DISTTUNE_SOURCE_DIR) + "/configs", ec))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    s.push_back(ss.str());
  }
  s.push_back(R"(model:
  init: {vocab: datasets/vocab/bert-base-uncased.txt, hidden_size: 128, num_layers: 2,
         num_heads: 2, intermediate_size: 512, max_position: 512, seed: 0}
  max_seq_length: 256
  pooling: mean
  normalize: true
  dropout: 0.1
data:
  train: pairs.jsonl
  columns: {anchor: anchor, positive: positive}
  split: {train: 0.81, val: 0.09, test: 0.10, seed: 42}
  on_bad_row: error
training:
  epochs: 6
  max_steps: -1
  global_batch_size: 32
  learning_rate: 2.0e-5
  scheduler: cosine
  warmup_ratio: 0.1
loss:
  name: mnrl
  scale: 20.0
  matryoshka_dims: [768, 256]
eval:
  strategy: epoch
  k: [1, 3, 5, 10, 100]
checkpoint:
  keep_last: 2
  resume: auto
output:
  dir: runs/x
)");
  s.push_back(join_parts({"model: {path: models/m}\ntraining: {global_batch_size: 8}\n",
                          "training.learning_rate=1e-4\ndata.columns.anchor=question\nloss.matryoshka_dims=[64, 32]"}));
  s.push_back("# only a comment\n");
  s.push_back("a: &x {b: 1}\nc: *x\n<<: *x\n");
  s.push_back("model:\n  path: \"quoted \\u00e9 \\x41\"\n  normalize: yes\ntraining:\n  seed: 0x10\n");
  return s;
}

std::vector<std::string> config_dictionary() {
  std::vector<std::string> d = {": ", "\n  ", "- ", "[", "]", "{", "}", ", ", "&a ", "*a", "<<: ",
                                "!!binary ", "!!str ", "? ", "|\n  ", ">\n  ", "---\n", "...\n",
                                "~", "null", "\"", "'", "#", "\t", "%YAML 1.2\n", "\n%%%%\n", "="};
  for (const auto& spec : option_registry()) {
    const size_t dot = spec.key.rfind('.');
    d.push_back(spec.key.substr(dot + 1) + ": ");
    d.push_back(spec.key + "=");
  }
  return d;
}

}  // namespace

DT_FUZZ_TARGET(config, "config", "YAML config loader with the option registry, --set overrides, check_config",
               fuzz_config, config_seeds, 8192, config_dictionary());

}  // namespace disttune::fuzz
