// The disttune subcommands: one table (commands.cpp) maps names to their flag declarations
// and entry points; each command lives in its own cmd_<name>.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "data/text_dataset.h"

namespace disttune {

struct Dist;

struct Command {
  CommandSpec spec;
  std::function<int(Dist&, const Args&)> run;
};

const std::vector<Command>& commands();

// Entry point after dist_init: dispatches argv[1..] to a command. Returns the exit code;
// errors are thrown (UserError) and reported by main.
int cli_main(Dist& d, const std::vector<std::string>& argv);

// Entry points.
int run_train(Dist& d, const Args& args);
int run_validate(Dist& d, const Args& args);
int run_encode(Dist& d, const Args& args);
int run_tokenize(Dist& d, const Args& args);
int run_eval(Dist& d, const Args& args);
int run_mine_negatives(Dist& d, const Args& args);
int run_export(Dist& d, const Args& args);
int run_help(Dist& d, const Args& args);

// Loads CONFIG.yaml with the command's --set overrides (rank 0 reads the file and
// broadcasts it, so every rank resolves the same text) and runs check_config.
class Config;
Config load_run_config(Dist& d, const Args& args);
// Only the reading, broadcasting and parsing part of load_run_config (keys and values are
// checked against the registry, but not the cross-key run checks): for commands that use a
// few sections of a run config.
Config load_config(Dist& d, const Args& args);

// The --on-bad-row flag of a command that reads rows: error or skip. UserError naming
// `command` otherwise.
BadRowPolicy bad_row_policy_arg(const std::string& command, const Args& args);

}  // namespace disttune
