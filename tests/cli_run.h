// Running actmap-cli as a user does, for the CLI tests of every suite.
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace actmap::test {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
};

// A shell command line as is (its own redirections), stdout captured.
inline CliRun cli_shell(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  CliRun r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// actmap-cli with `args`, stderr merged into the output.
inline CliRun cli(const std::string& args) { return cli_shell(std::string(ACTMAP_CLI_PATH) + " " + args + " 2>&1"); }

}  // namespace actmap::test
