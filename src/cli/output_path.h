// Checks done before a command spends time computing an output file: the parent directory
// exists (created when missing) and is writable, and the output is none of the inputs.
// Collective: rank 0 checks, every rank throws the same UserError.
#pragma once

#include <string>
#include <vector>

namespace disttune {

struct Dist;

// `flag` names the option in messages ("--output").
void prepare_output_path(Dist& d, const std::string& command, const std::string& flag,
                         const std::string& path, const std::vector<std::string>& inputs);

}  // namespace disttune
