// disttune export --checkpoint FILE.h5 --output DIR: a sentence-transformers model
// directory from a checkpoint. The checkpoint's own resolved config says how to rebuild the
// model (model.path must still hold the base model's tokenizer and config files).
#include "cli/commands.h"
#include "common/log.h"
#include "config/config.h"
#include "dist/dist.h"
#include "io/checkpoint.h"
#include "model/sentence_model.h"
#include "train/export.h"
#include "train/model_setup.h"

namespace disttune {

int run_export(Dist& d, const Args& args) {
  const std::string path = args.get("checkpoint");
  const std::string out = args.get("output");
  if (d.is_root()) {
    Checkpoint c = read_checkpoint(path);
    Config cfg = Config::from_yaml(c.config_yaml, path + " (config attribute)");
    SentenceModel model = model_from_config(cfg);
    std::vector<NamedTensor> state;
    for (auto& [name, t] : c.model) state.push_back({name, t});
    model.load_state(state);
    export_model_dir(model, out);
    print0("exported ", path, " (step ", c.state.step, ") to ", out);
  }
  d.comm->barrier();
  return 0;
}

}  // namespace disttune
