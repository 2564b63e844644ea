// Test support: run the mntns CLI (or another program) and capture what it prints.
#pragma once

#include <string>
#include <vector>

namespace mntns::testing {

struct CliResult {
  int exit_status = -1;  // 128+signal if it was killed
  std::string out;
  std::string err;
};

// Where the child's standard output goes; by default a pipe into CliResult::out.
struct RunOptions {
  // kBrokenPipe: a pipe nobody reads (its read end closed), SIGPIPE ignored,
  // as a program that spawned the command and stopped reading leaves it.
  enum class Stdout { kCaptured, kClosed, kFile, kBrokenPipe };
  Stdout stdout_kind = Stdout::kCaptured;
  std::string stdout_file{};            // kFile: opened O_WRONLY, e.g. "/dev/full"
  int inherit_fd = -1;                  // an fd kept open across exec, same number
  std::vector<std::string> environment{};  // "NAME=VALUE" entries added to ours
};

// Runs the built mntns binary (MNTNS_CLI_PATH) with `args`, optionally with extra
// fds inherited (`inherit_fd` is dup2'ed to the same number in the child).
CliResult RunCli(const std::vector<std::string>& args, int inherit_fd = -1);
CliResult RunCli(const std::vector<std::string>& args, const RunOptions& options);

// Runs `argv` (argv[0] looked up in PATH) the same way.
CliResult RunProgram(const std::vector<std::string>& argv, const RunOptions& options = {});

// Path of the CLI under test.
std::string CliPath();

// The built libmntns.so, and a program that dlopen()s it to run a sandbox
// (tests/support/dlopen_runtime.cc).
std::string SharedLibraryPath();
std::string DlopenRuntimePath();

// A statically linked program that exits 0 when it is alone at "/" of an
// empty mount namespace (tests/support/empty_root_probe.cc).
std::string EmptyRootProbePath();

}  // namespace mntns::testing
