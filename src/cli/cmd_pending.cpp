// Commands whose capability has not landed yet. Each moves to its own cmd_<name>.cpp when
// it is built; until then it says so and exits non-zero (no fake output).
#include "cli/commands.h"
#include "config/config.h"
#include "dist/dist.h"

namespace disttune {

// (none at present)

}  // namespace disttune
