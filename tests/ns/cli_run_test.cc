// `mntns run` as a command line: where CMD starts, --help, usage errors, and
// what mntns does with the signals that would end it. Part of the run suite:
// the probe (`--probe WHAT`, tests/ns/run_test.cc) is this binary.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::CliResult;
using testing::InPrivateMountNamespace;
using testing::RunCli;

// A command that cannot exist in the sandbox: mntns exits 127 naming it once
// it parsed the command line and set the sandbox up.
constexpr const char* kMissingCommand = "/nonexistent-mntns/cmd";

std::string SelfPath() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

// What the probe needs inside: the host's library directories (bound
// read-only, or recreated as the same symlinks) and this binary at /probe.
std::vector<std::string> ProbeBinds() {
  std::vector<std::string> args;
  for (const char* dir : {"/usr", "/lib", "/lib64", "/bin"}) {
    std::error_code ec;
    const auto status = std::filesystem::symlink_status(dir, ec);
    if (ec) continue;
    if (std::filesystem::is_symlink(status)) {
      args.insert(args.end(), {"--symlink", std::filesystem::read_symlink(dir).string(), dir});
    } else if (std::filesystem::is_directory(status)) {
      args.insert(args.end(), {"--ro-bind", dir, dir});
    }
  }
  args.insert(args.end(), {"--ro-bind", SelfPath(), "/probe"});
  return args;
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::size_t Count(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

#define EXPECT_RAN_MISSING_COMMAND(result)                                                          \
  do {                                                                                             \
    EXPECT_EQ((result).exit_status, 127) << (result).err;                                          \
    EXPECT_NE((result).err.find(std::string("execvp \"") + kMissingCommand + "\" inside the sandbox"), \
              std::string::npos)                                                                   \
        << (result).err;                                                                           \
  } while (0)

// ---- where CMD starts -----------------------------------------------------------

TEST(MntnsRunCommandLine, ACommandAfterALoneDoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--", kMissingCommand});
    EXPECT_RAN_MISSING_COMMAND(r);
  });
}

// CLI11 handed the "--" after flag-only options back to `mntns`, which then
// refused CMD as an unexpected argument.
TEST(MntnsRunCommandLine, ACommandAfterFlagsAndADoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--unshare-pid", "--unshare-ipc", "--", kMissingCommand, "arg"});
    EXPECT_RAN_MISSING_COMMAND(r);
  });
}

TEST(MntnsRunCommandLine, ACommandAfterFlagsWithoutADoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--unshare-pid", kMissingCommand, "--help"});
    EXPECT_RAN_MISSING_COMMAND(r);
  });
}

TEST(MntnsRunCommandLine, ACommandAfterOptionsWithValuesAndADoubleDashIsRun) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli(Concat(Concat({"run"}, ProbeBinds()), {"--", "/probe", "--probe", "exit", "7"}));
    EXPECT_EQ(r.exit_status, 7) << r.err;
  });
}

TEST(MntnsRunCommandLine, ACommandNamedLikeAnMntnsCommandIsTheCommand) {
  InPrivateMountNamespace([] {
    const CliResult r = RunCli({"run", "--unshare-pid", "ls", "-l"});
    EXPECT_EQ(r.exit_status, 127) << r.err;
    EXPECT_NE(r.err.find("execvp \"ls\""), std::string::npos) << r.err;
  });
}

// ---- help and usage errors ---------------------------------------------------------

TEST(MntnsRunHelp, HasOneUsageLineThatSaysWhereCmdStarts) {
  const CliResult r = RunCli({"run", "--help"});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(Count(r.out, "Usage:"), 1U) << r.out;
  EXPECT_NE(r.out.find("Usage: mntns run [OPTION...] [--] CMD [ARG...]"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mntns
