// `mntns new` and `mntns bench create` as a user runs them.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mntns/features.h"
#include "mntns/namespace.h"
#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::RunCli;

// The commands `mntns new` runs here are this test binary itself, so that they
// work where there is no shell (the 7.x VM holds only the test binary and
// mntns). With MNTNS_TEST_COMMAND set, it acts before main() and exits:
//   exit:N         exits with status N
//   kill:N         kills itself with signal N
//   mounts:PATH    fails unless PATH is a directory, else prints the number of
//                  lines of /proc/self/mountinfo
//   parent-threads prints the Threads: count of its parent (mntns) at exec
constexpr const char* kCommandVariable = "MNTNS_TEST_COMMAND";

[[noreturn]] void RunTestCommand(const std::string& command) {
  const auto colon = command.find(':');
  const std::string verb = command.substr(0, colon);
  const std::string argument = colon == std::string::npos ? "" : command.substr(colon + 1);
  if (verb == "exit") std::_Exit(std::stoi(argument));
  if (verb == "kill") {
    ::kill(::getpid(), std::stoi(argument));
    std::_Exit(125);
  }
  if (verb == "mounts") {
    struct stat st {};
    if (::stat(argument.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) std::_Exit(3);
    std::ifstream mountinfo("/proc/self/mountinfo");
    std::string line;
    int lines = 0;
    while (std::getline(mountinfo, line)) ++lines;
    std::printf("%d\n", lines);
    std::fflush(stdout);
    std::_Exit(0);
  }
  if (verb == "parent-threads") {
    std::ifstream status("/proc/" + std::to_string(::getppid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("Threads:")) {
        std::printf("%s\n", line.substr(8).c_str());
        std::fflush(stdout);
        std::_Exit(0);
      }
    }
    std::_Exit(4);
  }
  std::_Exit(126);
}

[[maybe_unused]] const bool kIsTestCommand = [] {
  if (const char* command = std::getenv(kCommandVariable)) RunTestCommand(command);
  return false;
}();

// argv for `mntns new ... -- COMMAND`: this binary, told what to do by the
// environment it passes on. Call only in a forked test child.
std::vector<std::string> TestCommand(const std::string& command) {
  ::setenv(kCommandVariable, command.c_str(), 1);
  char self[4096] = {};
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  EXPECT_GT(n, 0);
  return {std::string(self, n > 0 ? static_cast<std::size_t>(n) : 0)};
}

std::vector<std::string> Concat(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

TEST(CliNew, ExitsWithTheCommandsStatus) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli(Concat({"new", "/", "--"}, TestCommand("exit:7")));
    EXPECT_EQ(result.exit_status, 7) << result.err;
  });
}

TEST(CliNew, ExitsWith128PlusTheSignalThatKilledTheCommand) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli(Concat({"new", "/", "--"}, TestCommand("kill:9")));
    EXPECT_EQ(result.exit_status, 128 + 9) << result.err;
  });
}

TEST(CliNew, RunsTheCommandWithTheTreeAsRoot) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base + "/tree/sub"));
    auto result = RunCli(Concat({"new", "--recursive", "/", "--"}, TestCommand("mounts:" + base + "/tree/sub")));
    ASSERT_EQ(result.exit_status, 0) << result.err;
    auto own = RunCli({"ls", "--json"});
    ASSERT_EQ(own.exit_status, 0);
    EXPECT_EQ(std::stoul(result.out), nlohmann::json::parse(own.out)["mounts"].size());
  });
}

// mntns forks CMD; a fork from a process with other threads (the template
// factory's) may copy a lock one of them held, and the child would hang on it.
// So the factory is stopped first: at the fork mntns has one thread.
TEST(CliNew, TheCommandIsForkedFromASingleThreadedMntns) {
  testing::InPrivateMountNamespace([] {
    auto result =
        RunCli(Concat({"new", "--recursive", "--strategy", "template", "/", "--"}, TestCommand("parent-threads")));
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(std::stoi(result.out), 1) << "threads of mntns when CMD ran";
  });
}

TEST(CliNew, PinnedNamespaceCanBeListedAfterMntnsExits) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::MountTmpfs(base + "/tree", "size=16k"));
    ASSERT_TRUE(testing::MountTmpfs(base + "/tree/sub"));
    auto created = RunCli({"new", "--pin", base + "/ns", "--recursive", base + "/tree"});
    ASSERT_EQ(created.exit_status, 0) << created.err;
    EXPECT_NE(created.out.find("pinned at " + base + "/ns"), std::string::npos) << created.out;
    auto listed = RunCli({"ls", "--json", "--ns-file", base + "/ns"});
    ASSERT_EQ(listed.exit_status, 0) << listed.err;
    const auto mounts = nlohmann::json::parse(listed.out)["mounts"];
    ASSERT_EQ(mounts.size(), 2U) << listed.out;
    EXPECT_EQ(mounts[0]["target"], "/");
    // Kernels built with CONFIG_TMPFS_INODE64 (Debian's 7.x) add ",inode64".
    EXPECT_TRUE(mounts[0]["fs_options"].get<std::string>().starts_with("rw,size=16k")) << listed.out;
    EXPECT_EQ(mounts[1]["target"], "/sub");
  });
}

TEST(CliNew, PinOnASharedMountSaysWhyItFails) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::SetPropagation(base, MS_SHARED));
    auto result = RunCli({"new", "--pin", base + "/ns", "/"});
    EXPECT_EQ(result.exit_status, 1);
    EXPECT_NE(result.err.find("is shared"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(base + "/ns"), std::string::npos) << result.err;
  });
}

TEST(CliNew, ErrorsNameTheOperationThePathAndTheErrno) {
  auto result = RunCli({"new", "/no/such/dir"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("open_tree(OPEN_TREE_NAMESPACE) \"/no/such/dir\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("ENOENT"), std::string::npos) << result.err;
}

TEST(CliNew, UnknownStrategyIsAUsageError) {
  auto result = RunCli({"new", "--strategy", "fast", "/"});
  EXPECT_EQ(result.exit_status, 2) << result.err;
}

TEST(CliNew, JsonDescribesTheNamespace) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli({"new", "--json", "/proc"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_TRUE(json["ns_id"].is_number());
    EXPECT_EQ(json["strategy"], std::string(StrategyName(ResolveStrategy(NamespaceOperation::kOpenTreeNamespace, NamespaceStrategy::kAuto))));
    EXPECT_TRUE(json["pinned"].is_null());
    ASSERT_EQ(json["mounts"].size(), 1U);
    EXPECT_EQ(json["mounts"][0]["fstype"], "proc");
  });
}

std::size_t Occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++count;
  return count;
}

// CMD comes only after "--": `new /tmp /tmp` used to run "/tmp".
TEST(CliNew, ASecondPathIsAUsageErrorNotACommand) {
  auto result = RunCli({"new", "/tmp", "/tmp"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("not expected: /tmp"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("exec"), std::string::npos) << result.err;
}

TEST(CliNew, DashDashWithoutACommandIsAUsageError) {
  auto result = RunCli({"new", "/tmp", "--"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("needs CMD"), std::string::npos) << result.err;
}

TEST(CliNew, PinOntoAnAlreadyPinnedFileIsRefused) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    const std::string pin = base + "/ns";
    ASSERT_EQ(RunCli({"new", "--pin", pin, "/tmp"}).exit_status, 0);
    auto second = RunCli({"new", "--pin", pin, "/tmp"});
    EXPECT_EQ(second.exit_status, 1);
    EXPECT_NE(second.err.find("already pins a namespace"), std::string::npos) << second.err;
    // One umount releases it: nothing was stacked on the first pin.
    ASSERT_EQ(::umount2(pin.c_str(), MNT_DETACH), 0);
    EXPECT_NE(::umount2(pin.c_str(), MNT_DETACH), 0);
  });
}

TEST(CliNew, PinErrorsNameThePathAndTheErrnoOnce) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    auto missing = RunCli({"new", "--pin", base + "/nodir/f", "/tmp"});
    EXPECT_EQ(missing.exit_status, 1);
    EXPECT_EQ(missing.err, "mntns: --pin \"" + base + "/nodir/f\": its directory \"" + base +
                               "/nodir\": No such file or directory (ENOENT)\n");
    auto directory = RunCli({"new", "--pin", base, "/tmp"});
    EXPECT_EQ(directory.exit_status, 1);
    EXPECT_NE(directory.err.find("is a directory"), std::string::npos) << directory.err;
    EXPECT_EQ(Occurrences(directory.err, "EISDIR"), 1U) << directory.err;
  });
}

TEST(CliNew, NativeStrategyOnAKernelWithoutItSaysWhatIsMissing) {
  auto result = RunCli({"new", "--strategy", "native", "/tmp"});
  if (KernelFeatures().open_tree_namespace) {
    EXPECT_EQ(result.exit_status, 0) << result.err;
    return;
  }
  EXPECT_EQ(result.exit_status, 1);
  // Under a feature profile the flag may be there but hidden: the text says so.
  const std::string missing = KernelFeatures().profile.empty()
                                  ? "this kernel has no OPEN_TREE_NAMESPACE"
                                  : "OPEN_TREE_NAMESPACE is missing or hidden by MNTNS_FEATURE_PROFILE=" +
                                        KernelFeatures().profile;
  EXPECT_NE(result.err.find(missing + ": it needs Linux 7.0"), std::string::npos) << result.err;
  EXPECT_EQ(Occurrences(result.err, "EINVAL"), 1U) << result.err;
}

// Snap-style pinned namespaces under /run are common: `new -r` of a tree
// that holds one must work on every strategy, and leave the file out as
// OPEN_TREE_NAMESPACE does. On one CPU, 6.18's namespace ids are ordered, so
// the attach of the pinned file would fail (ELOOP) without that.
TEST(CliNew, RecursiveCopyOfATreeWithAPinnedNamespaceLeavesThePinOut) {
  testing::InPrivateMountNamespace([] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(std::max(::sched_getcpu(), 0), &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    ASSERT_TRUE(testing::MakeDirs(base + "/pd"));
    ASSERT_TRUE(testing::MountTmpfs(base + "/sub"));
    ASSERT_EQ(RunCli({"new", "--pin", base + "/pd/ns1", "/tmp"}).exit_status, 0);
    std::vector<std::string> strategies = {"auto", "template", "classic"};
    if (KernelFeatures().open_tree_namespace) strategies.push_back("native");
    for (const std::string& strategy : strategies) {
      for (const std::string& tree : {base, std::string("/")}) {
        auto result = RunCli({"new", "--json", "-r", "--strategy", strategy, tree});
        ASSERT_EQ(result.exit_status, 0) << strategy << " " << tree << ": " << result.err;
        const auto json = nlohmann::json::parse(result.out);
        std::vector<std::string> targets;
        for (const auto& mount : json["mounts"]) targets.push_back(mount["target"]);
        const std::string pin = tree == "/" ? base + "/pd/ns1" : "/pd/ns1";
        const std::string sub = tree == "/" ? base + "/sub" : "/sub";
        EXPECT_EQ(std::count(targets.begin(), targets.end(), pin), 0) << strategy << " " << tree << result.out;
        EXPECT_EQ(std::count(targets.begin(), targets.end(), sub), 1) << strategy << " " << tree << result.out;
      }
    }
    // The caller's pin is untouched: the copies were made private first.
    EXPECT_EQ(RunCli({"ls", "--ns-file", base + "/pd/ns1"}).exit_status, 0);
  });
}

TEST(CliNew, HelpTeachesWithExamples) {
  auto result = RunCli({"new", "--help"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_NE(result.out.find("Examples:"), std::string::npos);
  EXPECT_NE(result.out.find("--pin"), std::string::npos);
}

// ---- --empty ----------------------------------------------------------------------

TEST(CliNewEmpty, JsonSaysEmptyAndListsNoMount) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli({"new", "--empty", "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_TRUE(json["ns_id"].is_number());
    EXPECT_EQ(json["empty"], true);
    EXPECT_TRUE(json["source"].is_null());
    EXPECT_EQ(json["strategy"],
              std::string(StrategyName(ResolveStrategy(NamespaceOperation::kEmptyMountNamespace, NamespaceStrategy::kAuto))));
    EXPECT_TRUE(json["mounts"].empty()) << result.out;
  });
}

TEST(CliNewEmpty, AStaticCommandRunsAloneAtTheEmptyRoot) {
  testing::InPrivateMountNamespace([] {
    auto result = RunCli({"new", "--empty", "--", testing::EmptyRootProbePath()});
    EXPECT_EQ(result.exit_status, 0) << result.out << result.err;
    EXPECT_EQ(result.out, "mounts 1 cwd / root-entries 0\n") << result.err;
  });
}

TEST(CliNewEmpty, ADynamicallyLinkedCommandFailsWithENOENTAndSaysWhy) {
  testing::InPrivateMountNamespace([] {
    // This test binary is linked dynamically (mntns itself is static).
    const std::string self = std::filesystem::read_symlink("/proc/self/exe");
    auto result = RunCli({"new", "--empty", "--", self});
    EXPECT_EQ(result.exit_status, 127) << result.err;
    EXPECT_NE(result.err.find("ENOENT"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("statically linked"), std::string::npos) << result.err;
  });
}

TEST(CliNewEmpty, PinnedItCanBeListedAfterMntnsExits) {
  testing::InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    auto created = RunCli({"new", "--empty", "--pin", base + "/ns"});
    ASSERT_EQ(created.exit_status, 0) << created.err;
    auto listed = RunCli({"ls", "--json", "--ns-file", base + "/ns"});
    ASSERT_EQ(listed.exit_status, 0) << listed.err;
    EXPECT_TRUE(nlohmann::json::parse(listed.out)["mounts"].empty()) << listed.out;
  });
}

TEST(CliNewEmpty, APathOrRecursiveWithEmptyIsAUsageError) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"new", "--empty", "/tmp"},
                                              std::vector<std::string>{"new", "--empty", "--recursive"}}) {
    auto result = RunCli(args);
    EXPECT_EQ(result.exit_status, 2) << args.back() << ": " << result.err;
    EXPECT_NE(result.err.find("--empty"), std::string::npos) << result.err;
  }
  auto neither = RunCli({"new"});
  EXPECT_EQ(neither.exit_status, 2);
  EXPECT_NE(neither.err.find("--empty"), std::string::npos) << neither.err;
}

TEST(CliBenchCreate, JsonHasEveryDocumentedKey) {
  auto result = RunCli({"bench", "create", "--strategy", "auto", "--count", "50", "--host-mounts", "10",
                        "--workers", "2", "--json"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  for (const char* key : {"strategy", "host_mounts", "count", "workers", "per_second", "p50_us", "p99_us"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["host_mounts"], 10);
  EXPECT_EQ(json["count"], 50);
  EXPECT_GT(json["per_second"].get<double>(), 0);
}

// The names the issue asks for ("what was timed") and numbers for the times:
// bench/report.py and users' scripts read them.
TEST(CliBenchLs, JsonTimesEveryContenderAsANumber) {
  auto result = RunCli({"bench", "ls", "--host-mounts", "20", "--runs", "2", "--json"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["host_mounts"], 20);
  EXPECT_EQ(json["peers"], 0);
  EXPECT_EQ(json["runs"], 2);
  std::vector<std::string> names;
  for (const auto& contender : json["contenders"]) {
    names.push_back(contender["name"].get<std::string>());
    ASSERT_TRUE(contender["p50_ms"].is_number()) << contender;
    EXPECT_GT(contender["p50_ms"].get<double>(), 0) << contender;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"mntns ls --json", "mntns ls", "library query", "mountinfo read+parse",
                                             "statmount calls alone", "findmnt -l -n", "mntns ls -t tmpfs",
                                             "findmnt -l -t tmpfs"}));
}

}  // namespace
}  // namespace mntns
