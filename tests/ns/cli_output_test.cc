// What every mntns command owes its user whatever the input: rows that stay
// rows, output that reached its file or a failure, usage errors that say what
// is wrong in the user's words, and no hang on a hostile file.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mntns/features.h"
#include "mntns/query.h"
#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::RunCli;
using testing::RunOptions;

std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) lines.push_back(line);
  }
  return lines;
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++count;
  return count;
}

// Mount points whose names hold what a hostile user would put there: a newline
// (a fake row), a tab, an escape sequence, DEL, a "\x" that reads as an escape,
// a byte that is not UTF-8, a C1 control, a space.
const std::vector<std::string>& HostileNames() {
  static const std::vector<std::string> names = {"new\nline", "tab\tx", "esc\x1b[31mred", "del\x7f",
                                                 "bs\\xz",    "bad\xff", "c1\xc2\x85",    "sp ace"};
  return names;
}

void MountHostileNames(const std::string& base) {
  for (const std::string& name : HostileNames()) {
    ASSERT_TRUE(testing::MakeDirs(base + "/" + name));
    ASSERT_TRUE(testing::MountTmpfs(base + "/" + name));
  }
}

// findmnt is the reference: the same rows, byte for byte.
TEST(CliLs, ControlCharactersInTargetsAreEscapedAsFindmntEscapesThem) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    MountHostileNames(base);
    auto ours = RunCli({"ls", "-o", "TARGET"});
    ASSERT_EQ(ours.exit_status, 0) << ours.err;
    // The C locale: findmnt then escapes every byte outside ASCII it does not print.
    auto findmnt = testing::RunProgram({"findmnt", "-l", "-n", "-o", "TARGET"}, {.environment = {"LC_ALL=C"}});
    ASSERT_EQ(findmnt.exit_status, 0) << findmnt.err;
    const auto expected = LinesStartingWith(findmnt.out, base + "/");
    ASSERT_EQ(expected.size(), HostileNames().size()) << findmnt.out;
    auto rows = LinesStartingWith(ours.out, base + "/");
    for (std::string& row : rows) row.erase(row.find_last_not_of(' ') + 1);
    EXPECT_EQ(rows, expected) << ours.out;
  });
}

TEST(CliLs, TreeAndStatEscapeControlCharactersToo) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    MountHostileNames(base);
    auto tree = RunCli({"ls", "--tree", "-o", "TARGET"});
    ASSERT_EQ(tree.exit_status, 0) << tree.err;
    EXPECT_NE(tree.out.find(base + "/new\\x0aline\n"), std::string::npos) << tree.out;
    EXPECT_NE(tree.out.find(base + "/esc\\x1b[31mred\n"), std::string::npos) << tree.out;
    EXPECT_EQ(tree.out.find('\x1b'), std::string::npos);
    auto stat = RunCli({"stat", base + "/new\nline"});
    ASSERT_EQ(stat.exit_status, 0) << stat.err;
    EXPECT_NE(stat.out.find("target:                " + base + "/new\\x0aline\n"), std::string::npos) << stat.out;
    auto summary = RunCli({"new", "-r", base});
    ASSERT_EQ(summary.exit_status, 0) << summary.err;
    EXPECT_NE(summary.out.find("/del\\x7f "), std::string::npos) << summary.out;
    EXPECT_EQ(summary.out.find('\x7f'), std::string::npos) << summary.out;
  });
}

// JSON strings must be UTF-8; the exact bytes ride along in "KEY_hex", so a
// script can open the path again.
TEST(CliLs, JsonCarriesTheExactBytesOfATargetThatIsNotUtf8) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    MountHostileNames(base);
    auto result = RunCli({"ls", "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);  // throws on invalid UTF-8
    int with_hex = 0;
    for (const auto& mount : json["mounts"]) {
      if (!mount.contains("target_hex")) continue;
      ++with_hex;
      std::string bytes;
      const std::string hex = mount["target_hex"];
      for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
      }
      EXPECT_EQ(bytes, base + "/bad\xff");
      struct stat st {};
      EXPECT_EQ(::stat(bytes.c_str(), &st), 0) << "the bytes name the mount point";
    }
    EXPECT_EQ(with_hex, 1) << "only the target that is not UTF-8 needs its bytes:\n" << result.out;
  });
}

TEST(CliOutput, WriteErrorsExitOneAndSayWhy) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"ls"}, {"ls", "--json"}, {"ls", "--tree"}, {"stat", "/"}, {"stat", "--json", "/"}, {"features"},
           {"features", "--json"}, {"new", "/tmp"}}) {
    auto full = RunCli(args, RunOptions{.stdout_kind = RunOptions::Stdout::kFile, .stdout_file = "/dev/full"});
    EXPECT_EQ(full.exit_status, 1) << args[0] << " " << args.back();
    EXPECT_EQ(full.err, "mntns: write standard output: No space left on device (ENOSPC)\n") << args.back();
    auto closed = RunCli(args, RunOptions{.stdout_kind = RunOptions::Stdout::kClosed});
    EXPECT_EQ(closed.exit_status, 1) << args[0] << " " << args.back();
    EXPECT_EQ(closed.err, "mntns: write standard output: Bad file descriptor (EBADF)\n") << args.back();
  }
}

// A table longer than one write (64 KiB) into a pipe whose reader went away,
// SIGPIPE ignored: the failed write happened pieces before the end, and its
// errno is long gone by then; the message must still say what it was.
TEST(CliOutput, AReaderThatWentAwayIsEpipeLikeFindmntFails) {
  const bool have_findmnt = testing::RunProgram({"findmnt", "--version"}).exit_status == 0;
  testing::InPrivateMountNamespace([have_findmnt] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    for (int i = 0; i < 1500; ++i) {
      const std::string dir = base + "/a-long-enough-mount-point-name-" + std::to_string(i);
      ASSERT_TRUE(testing::MakeDirs(dir));
      ASSERT_TRUE(testing::BindMount(dir, dir));
    }
    const RunOptions broken{.stdout_kind = RunOptions::Stdout::kBrokenPipe};
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"ls"}, {"ls", "--json"}, {"ls", "--tree"}, {"ls", "-r"}}) {
      auto result = RunCli(args, broken);
      EXPECT_EQ(result.exit_status, 1) << args.back();
      EXPECT_EQ(result.err, "mntns: write standard output: Broken pipe (EPIPE)\n") << args.back();
    }
    // findmnt (libsmartcols' close_stdout) fails the same table the same way:
    // exit status 1 (its message, "write error", names no errno).
    if (have_findmnt) {
      EXPECT_EQ(testing::RunProgram({"findmnt", "-l"}, broken).exit_status, 1);
    }
  });
}

TEST(CliOutput, ACommandRunWithStdoutClosedStillFindsItClosed) {
  // The reserved /dev/null on fd 1 is close-on-exec: CMD sees what the caller gave.
  testing::InPrivateMountNamespace([] {
    auto result = RunCli({"new", "-r", "/", "--", testing::CliPath(), "--version"},
                         RunOptions{.stdout_kind = RunOptions::Stdout::kClosed});
    // mntns again, inside: it writes to the closed fd 1 and fails.
    EXPECT_EQ(result.exit_status, 1) << result.err;
    EXPECT_NE(result.err.find("EBADF"), std::string::npos) << result.err;
  });
}

TEST(CliMain, VersionPrintsTheVersion) {
  auto result = RunCli({"--version"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_TRUE(std::regex_match(result.out, std::regex("mntns [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << result.out;
}

TEST(CliMain, HelpCommandIsTheHelpOption) {
  auto help = RunCli({"help"});
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_EQ(help.out, RunCli({"--help"}).out);
  auto ls = RunCli({"help", "ls"});
  EXPECT_EQ(ls.exit_status, 0);
  EXPECT_EQ(ls.out, RunCli({"ls", "--help"}).out);
}

TEST(CliMain, TopLevelHelpHasOneUsageLine) {
  auto help = RunCli({"--help"});
  EXPECT_EQ(Count(help.out, "Usage:"), 1U) << help.out;
}

TEST(CliMain, UnknownCommandIsAUsageErrorThatNamesIt) {
  auto result = RunCli({"bogus"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("unknown command \"bogus\""), std::string::npos) << result.err;
}

TEST(CliMain, NoCommandPrintsTheHelpAndIsAUsageError) {
  auto result = RunCli({});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.out.find("Usage: mntns"), std::string::npos) << result.out;
}

// CLI11's own checks clamped 2^64 to 2^64-1 and printed their internals.
TEST(CliOptions, NumbersOutOfRangeAreUsageErrorsThatSayTheRange) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"ls", "--ns", "18446744073709551616"}, "--ns: \"18446744073709551616\" is not a number from 1 to 18446744073709551615"},
      {{"ls", "--ns", "0"}, "--ns: \"0\" is not a number from 1 to 18446744073709551615"},
      {{"ls", "--ns", "-1"}, "--ns: \"-1\" is not a number from 1 to 18446744073709551615"},
      {{"ls", "--ns", "1e3"}, "--ns: \"1e3\" is not a number from 1 to"},
      {{"ls", "--pid", "2147483648"}, "--pid: \"2147483648\" is not a number from 1 to 2147483647"},
      {{"ls", "--pid", " 1"}, "--pid: \" 1\" is not a number"},
      {{"stat", "--id", "99999999999999999999"}, "--id: \"99999999999999999999\" is not a number from 1 to"},
      {{"stat", "--fd", "-1"}, "--fd: \"-1\" is not a number from 0 to 2147483647"},
      {{"ls", "--backend", "bogus"}, "--backend: \"bogus\" is not one of auto|listmount|mountinfo"},
      {{"ls", "--ns-file", ""}, "--ns-file: the path is empty"},
  };
  for (const Case& c : cases) {
    auto result = RunCli(c.args);
    EXPECT_EQ(result.exit_status, 2) << c.args.back();
    EXPECT_TRUE(result.err.starts_with("mntns: " + c.message)) << result.err;
    EXPECT_EQ(result.err.find("0000"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("->"), std::string::npos) << result.err;
  }
}

TEST(CliOptions, BackendNamesAreCaseInsensitive) {
  auto result = RunCli({"ls", "--backend", "MountInfo", "-o", "TARGET"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
}

TEST(CliStat, EmptyPathIsAPathThatDoesNotExist) {
  auto result = RunCli({"stat", ""});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_EQ(result.err, "mntns: stat \"\": No such file or directory (ENOENT)\n");
}

TEST(CliLs, FifoAsNamespaceFileFailsAtOnceWithEitherBackend) {
  const std::string fifo = testing::TempDir() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const char* backend : {"listmount", "mountinfo"}) {
    if (std::string(backend) == "listmount" && !KernelFeatures().listmount) continue;
    auto result = RunCli({"ls", "--backend", backend, "--ns-file", fifo});
    EXPECT_EQ(result.exit_status, 1) << backend;
    EXPECT_NE(result.err.find("\"" + fifo + "\" is not a"), std::string::npos) << backend << ": " << result.err;
    EXPECT_EQ(Count(result.err, "(E"), 1U) << "the errno once: " << result.err;
  }
}

TEST(CliLs, RegularFileAsNamespaceFileSaysItIsNotOne) {
  const std::string file = testing::TempDir() + "/plain";
  ASSERT_EQ(::close(::creat(file.c_str(), 0600)), 0);
  auto result = RunCli({"ls", "--ns-file", file});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("is not a namespace file"), std::string::npos) << result.err;
}

// Above a chroot the root mount is still attached, just not reachable: the
// kernel leaves out MNT_POINT but not MNT_NS_ID.
TEST(CliStat, MountAboveTheCallersRootIsOutsideTheRootNotDetached) {
  testing::InPrivateMountNamespace([] {
    auto root_mount = StatmountByPath("/", {.mask = field::kMntBasic});
    ASSERT_TRUE(root_mount) << root_mount.error().Message();
    const std::string jail = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(jail));
    // The CLI and what it links against (the ASan build is dynamic), as on the host.
    // /proc too: LeakSanitizer reads it at exit.
    for (const char* dir : {"/usr", "/lib", "/lib64", "/bin", "/proc"}) {
      char target[4096];
      const ssize_t n = ::readlink(dir, target, sizeof target - 1);
      if (n > 0) {
        ASSERT_EQ(::symlink(std::string(target, static_cast<std::size_t>(n)).c_str(), (jail + dir).c_str()), 0);
      } else if (::access(dir, F_OK) == 0) {
        ASSERT_TRUE(testing::MakeDirs(jail + dir));
        ASSERT_TRUE(testing::BindMount(dir, jail + dir, true));
      }
    }
    ASSERT_EQ(::close(::creat((jail + "/mntns").c_str(), 0700)), 0);
    ASSERT_EQ(::mount(testing::CliPath().c_str(), (jail + "/mntns").c_str(), nullptr, MS_BIND, nullptr), 0);
    ASSERT_EQ(::chroot(jail.c_str()), 0);
    ASSERT_EQ(::chdir("/"), 0);
    const std::string id = std::to_string(root_mount->id);
    auto json = testing::RunProgram({"/mntns", "stat", "--id", id, "--json"});
    ASSERT_EQ(json.exit_status, 0) << json.err;
    const auto mount = nlohmann::json::parse(json.out);
    EXPECT_TRUE(mount["target"].is_null());
    EXPECT_EQ(mount.value("outside_root", false), true) << json.out;
    EXPECT_FALSE(mount.contains("detached")) << json.out;
    auto text = testing::RunProgram({"/mntns", "stat", "--id", id});
    ASSERT_EQ(text.exit_status, 0) << text.err;
    EXPECT_NE(text.out.find("target:                (outside your root)\n"), std::string::npos) << text.out;
  });
}

}  // namespace
}  // namespace mntns
