// `mntns ls` options that have no findmnt run to compare with: fitting the
// terminal, -N as --pid, and the errors of a namespace that cannot be read.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

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

// ---- a namespace that cannot be read: one line naming the option ------------
// The library names the path or the pid; the option is the user's word for it.

// `mntns COMMAND... OPTION VALUE`: exit 1, nothing on stdout, one line on
// stderr that starts "mntns: VERB OPTION: " and names `words` and the errno once.
void ExpectOneLineNamingTheOption(std::vector<std::string> command, const std::string& option,
                                  const std::string& value, const std::vector<std::string>& words,
                                  const std::string& errno_name) {
  const std::string verb = command.front();
  command.insert(command.end(), {option, value});
  const auto result = RunCli(command);
  EXPECT_EQ(result.exit_status, 1) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_TRUE(result.err.starts_with("mntns: " + verb + " " + option + ": ")) << result.err;
  for (const std::string& word : words) EXPECT_NE(result.err.find(word), std::string::npos) << word << ": " << result.err;
  const std::size_t first = result.err.find(errno_name);
  EXPECT_NE(first, std::string::npos) << result.err;
  if (first != std::string::npos) {
    EXPECT_EQ(result.err.find(errno_name, first + 1), std::string::npos) << result.err;
  }
}

// A pid that named a process once, reaped: it names nothing now.
std::string GonePid() {
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  EXPECT_GT(gone, 0);
  EXPECT_EQ(::waitpid(gone, nullptr, 0), gone);
  return std::to_string(gone);
}

std::string PlainFile() {
  const std::string path = testing::TempDir() + "/plain";
  const int file = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  EXPECT_GE(file, 0);
  ::close(file);
  return path;
}

class CliNamespaceErrors : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(CliNamespaceErrors, APidWithoutAProcessNamesPidPathAndEnoent) {
  const std::string pid = GonePid();
  ExpectOneLineNamingTheOption(GetParam(), "--pid", pid, {"/proc/" + pid + "/ns/mnt"}, "ENOENT");
}
TEST_P(CliNamespaceErrors, AFileThatIsNotANamespaceNamesNsFilePathAndEinval) {
  const std::string path = PlainFile();
  ExpectOneLineNamingTheOption(GetParam(), "--ns-file", path, {"\"" + path + "\"", "not a namespace file"}, "EINVAL");
}
TEST_P(CliNamespaceErrors, AnIdOfNoNamespaceNamesNsTheIdAndEnoentOnce) {
  // Namespace ids count up from 1 at boot: none reaches 2^63 - 1.
  ExpectOneLineNamingTheOption(GetParam(), "--ns", "9223372036854775807", {"9223372036854775807"}, "ENOENT");
}

INSTANTIATE_TEST_SUITE_P(Commands, CliNamespaceErrors,
                         ::testing::Values(std::vector<std::string>{"ls"},
                                           std::vector<std::string>{"stat", "--id", "2147483650"}),
                         [](const auto& info) { return info.param.front(); });

TEST(CliLs, PlusColumnsAreAddedToTheDefault) {
  auto result = RunCli({"ls", "-o", "+FSROOT"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const std::string header = result.out.substr(0, result.out.find('\n'));
  EXPECT_TRUE(header.ends_with(" FSROOT")) << header;
  EXPECT_NE(header.find(" OPTIONS "), std::string::npos) << header;
}

}  // namespace
}  // namespace mntns
