// disttune train CONFIG.yaml [--set key=value ...] (also: disttune CONFIG.yaml)
#include "cli/commands.h"
#include "config/config.h"
#include "dist/dist.h"
#include "train/trainer.h"

namespace disttune {

int run_train(Dist& d, const Args& args) {
  Config cfg = load_run_config(d, args);
  train(d, cfg);
  return 0;
}

}  // namespace disttune
