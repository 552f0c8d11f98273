#include "cli/output_path.h"

#include <unistd.h>

#include <filesystem>

#include "common/check.h"
#include "common/env.h"
#include "dist/dist.h"

namespace disttune {

void prepare_output_path(Dist& d, const std::string& command, const std::string& flag,
                         const std::string& path, const std::vector<std::string>& inputs) {
  std::string error;
  if (d.is_root()) {
    namespace fs = std::filesystem;
    std::error_code e1, e2;
    const fs::path out = fs::weakly_canonical(path, e1);
    for (const auto& in : inputs)
      if (!in.empty() && !e1 && out == fs::weakly_canonical(in, e2) && !e2)
        error = str_cat(command, ": ", flag, ": '", path, "' is an input file; write the output elsewhere");
    std::error_code ec;
    if (error.empty() && fs::is_directory(path, ec))
      error = str_cat(command, ": ", flag, ": '", path, "' is a directory; expected a file name");
    const std::string dir = fs::path(path).parent_path().string();
    if (error.empty() && !dir.empty()) {
      const Status st = Env::Default()->make_dirs(dir);
      if (!st.ok()) error = str_cat(command, ": ", flag, ": ", st.message());
    }
    if (error.empty() && ::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0)
      error = str_cat(command, ": ", flag, ": cannot write to the directory '", dir.empty() ? "." : dir, "'");
  }
  d.comm->broadcast_bytes(error, 0);
  if (!error.empty()) throw UserError(error);
}

}  // namespace disttune
