// Commands whose capability has not landed yet. Each moves to its own cmd_<name>.cpp when
// it is built; until then it says so and exits non-zero (no fake output).
#include "cli/commands.h"
#include "config/config.h"
#include "dist/dist.h"

namespace disttune {

int run_train(Dist& d, const Args& args) {
  load_run_config(d, args);  // a bad config is still reported precisely
  not_built("train", "training");
}
int run_encode(Dist&, const Args&) { not_built("encode", "the encoder"); }
int run_eval(Dist&, const Args&) { not_built("eval", "retrieval evaluation"); }
int run_export(Dist&, const Args&) { not_built("export", "checkpoint export"); }

}  // namespace disttune
