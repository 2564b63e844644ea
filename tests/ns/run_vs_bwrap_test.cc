// `mntns run` against the real thing: the same command line under Debian's
// bwrap and under mntns, compared as a user sees it. Skipped where bwrap is
// not installed (the 7.x VM packs only our binaries).
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::CliResult;
using testing::RunProgram;

bool HaveBwrapAndShell() { return ::access("/usr/bin/bwrap", X_OK) == 0 && ::access("/bin/sh", X_OK) == 0; }

std::vector<std::string> MinimalSystem() {
  return {"--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
          "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev"};
}

// Runs the same options and command under bwrap and `mntns run`.
std::pair<CliResult, CliResult> UnderBoth(const std::vector<std::string>& options,
                                          const std::vector<std::string>& command) {
  std::vector<std::string> bwrap{"/usr/bin/bwrap"};
  std::vector<std::string> ours{testing::CliPath(), "run"};
  for (auto* line : {&bwrap, &ours}) {
    line->insert(line->end(), options.begin(), options.end());
    line->push_back("--");
    line->insert(line->end(), command.begin(), command.end());
  }
  return {RunProgram(bwrap), RunProgram(ours)};
}

// The red-team report: as root without --unshare-user, CMD had NoNewPrivs 0
// and a rw,relatime root tmpfs; bwrap gives nosuid,nodev and no_new_privs.
TEST(MntnsRunVsBwrap, RootAndDevTmpfsOptionsNoNewPrivsAndPwdAreBwraps) {
  if (!HaveBwrapAndShell()) GTEST_SKIP() << "bwrap (Debian's bubblewrap) or /bin/sh is not installed here";
  testing::InPrivateMountNamespace([] {
    const std::string script =
        "grep NoNewPrivs /proc/self/status; cut -d' ' -f5,6 /proc/self/mountinfo | grep -E '^/ |^/dev '; "
        "echo PWD=$PWD";
    auto [bwrap, ours] = UnderBoth(MinimalSystem(), {"/bin/sh", "-c", script});
    ASSERT_EQ(bwrap.exit_status, 0) << bwrap.err;
    ASSERT_EQ(ours.exit_status, 0) << ours.err;
    EXPECT_EQ(ours.out, bwrap.out);
    EXPECT_NE(ours.out.find("/ rw,nosuid,nodev"), std::string::npos) << ours.out;
  });
}

// bwrap refuses a variable name that is empty or holds '=' (setenv(3) does);
// mntns refuses it as a usage error. Neither runs CMD.
TEST(MntnsRunVsBwrap, SetenvOfANameWithEqualsOrNoNameIsRefusedByBoth) {
  if (!HaveBwrapAndShell()) GTEST_SKIP() << "bwrap (Debian's bubblewrap) or /bin/sh is not installed here";
  testing::InPrivateMountNamespace([] {
    for (const std::vector<std::string>& setenv :
         {std::vector<std::string>{"--setenv", "A=B", "C"}, std::vector<std::string>{"--setenv", "", "x"}}) {
      std::vector<std::string> options = setenv;
      const auto system = MinimalSystem();
      options.insert(options.end(), system.begin(), system.end());
      auto [bwrap, ours] = UnderBoth(options, {"/bin/echo", "ran"});
      EXPECT_NE(bwrap.exit_status, 0) << setenv[1];
      EXPECT_EQ(ours.exit_status, 2) << setenv[1] << ": " << ours.err;
      EXPECT_EQ(bwrap.out, "");
      EXPECT_EQ(ours.out, "");
    }
  });
}

}  // namespace
}  // namespace mntns
