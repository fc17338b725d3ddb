// Running actmap-cli as a user does, for the CLI tests of every suite.
#pragma once

#include <string>

#include "test_net.h"

namespace actmap::test {

using CliRun = CommandRun;

// A shell command line as is (its own redirections), stdout captured.
inline CliRun cli_shell(const std::string& command) { return run_command(command); }

#ifdef ACTMAP_CLI_PATH
// actmap-cli with `args`, stderr merged into the output.
inline CliRun cli(const std::string& args) { return cli_shell(std::string(ACTMAP_CLI_PATH) + " " + args + " 2>&1"); }
#endif

}  // namespace actmap::test
