// Test support: run the mntns CLI and capture what it prints.
#pragma once

#include <string>
#include <vector>

namespace mntns::testing {

struct CliResult {
  int exit_status = -1;  // 128+signal if it was killed
  std::string out;
  std::string err;
};

// Runs the built mntns binary (MNTNS_CLI_PATH) with `args`, optionally with extra
// fds inherited (`inherit_fd` is dup2'ed to the same number in the child).
CliResult RunCli(const std::vector<std::string>& args, int inherit_fd = -1);

// Path of the CLI under test.
std::string CliPath();

}  // namespace mntns::testing
