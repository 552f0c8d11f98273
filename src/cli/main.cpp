// disttune: one binary, many subcommands, any number of ranks.
#include <c10/util/Exception.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/log.h"
#include "dist/dist.h"

int main(int argc, char** argv) {
  using namespace disttune;
  Dist& d = dist_init(&argc, &argv);
  log_init(d.rank, "");
  int rc = 0;
  try {
    rc = cli_main(d, std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UserError& e) {
    dist_fatal(e.what());
  } catch (const InternalError& e) {
    dist_fatal(std::string("internal error: ") + e.what());
  } catch (const c10::Error& e) {
    dist_fatal(std::string("torch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    dist_fatal(e.what());
  }
  dist_free();
  return rc;
}
