// `mntns ls` options that have no findmnt run to compare with: fitting the
// terminal, and -N as --pid.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::RunCli;

// Runs `mntns ARGS` with stdout on a pseudo-terminal (so ls takes it for one)
// and COLUMNS=`columns`, and returns what it printed there.
std::string RunOnTerminal(const std::vector<std::string>& args, int columns) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  EXPECT_GE(master, 0);
  if (master < 0) return {};
  EXPECT_EQ(::grantpt(master), 0);
  EXPECT_EQ(::unlockpt(master), 0);
  const std::string slave = ::ptsname(master);
  auto result = testing::RunCli(args, {.stdout_kind = testing::RunOptions::Stdout::kFile,
                                       .stdout_file = slave,
                                       .environment = {"COLUMNS=" + std::to_string(columns)}});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  std::string out;
  char buffer[65536];
  for (;;) {
    pollfd ready{master, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) break;
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(master);
  // The terminal turns "\n" into "\r\n".
  std::string lines;
  for (char c : out) {
    if (c != '\r') lines += c;
  }
  return lines;
}

std::size_t WidestLine(const std::string& text) {
  std::istringstream lines(text);
  std::size_t widest = 0;
  for (std::string line; std::getline(lines, line);) {
    std::size_t width = 0;
    for (unsigned char c : line) width += (c & 0xC0) != 0x80 ? 1 : 0;
    widest = std::max(widest, width);
  }
  return widest;
}

// A mount whose options alone are wider than the terminal.
void MountWithLongOptions(const std::string& base) {
  ASSERT_TRUE(testing::MountTmpfs(base, "size=1m,mode=0755,uid=12345678,gid=87654321,nr_inodes=1234567"));
}

TEST(CliLsTerminal, OptionColumnsAreCutToTheTerminalWidth) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    MountWithLongOptions(base);
    const std::string out = RunOnTerminal({"ls", "-o", "FSTYPE,OPTIONS", "-t", "tmpfs"}, 40);
    ASSERT_NE(out.find("tmpfs"), std::string::npos) << out;
    EXPECT_LE(WidestLine(out), 40U) << out;
  });
}

TEST(CliLsTerminal, NotruncateKeepsWholeCells) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    MountWithLongOptions(base);
    const std::string out = RunOnTerminal({"ls", "-u", "-o", "FSTYPE,OPTIONS", "-t", "tmpfs"}, 40);
    EXPECT_NE(out.find("nr_inodes=1234567"), std::string::npos) << out;
    EXPECT_GT(WidestLine(out), 40U) << out;
  });
}

TEST(CliLsTerminal, APipeIsNeverCut) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    MountWithLongOptions(base);
    auto result = testing::RunCli({"ls", "-o", "FSTYPE,OPTIONS", "-t", "tmpfs"}, {.environment = {"COLUMNS=40"}});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_NE(result.out.find("nr_inodes=1234567"), std::string::npos) << result.out;
  });
}

TEST(CliLs, TaskIsPidByFindmntsName) {
  const std::string self = std::to_string(::getpid());
  auto by_task = RunCli({"ls", "-N", self, "-o", "OLD_ID,TARGET"});
  auto by_pid = RunCli({"ls", "--pid", self, "-o", "OLD_ID,TARGET"});
  ASSERT_EQ(by_task.exit_status, 0) << by_task.err;
  EXPECT_EQ(by_task.out, by_pid.out);
}

TEST(CliLs, TaskWithAnotherNamespaceOptionIsAUsageError) {
  auto result = RunCli({"ls", "-N", "1", "--ns-file", "/proc/self/ns/mnt"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("-N/--task"), std::string::npos) << result.err;
}

TEST(CliLs, PlusColumnsAreAddedToTheDefault) {
  auto result = RunCli({"ls", "-o", "+FSROOT"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const std::string header = result.out.substr(0, result.out.find('\n'));
  EXPECT_TRUE(header.ends_with(" FSROOT")) << header;
  EXPECT_NE(header.find(" OPTIONS "), std::string::npos) << header;
}

}  // namespace
}  // namespace mntns
