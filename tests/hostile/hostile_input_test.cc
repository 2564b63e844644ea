// Hostile input: what a user (or whoever controls a --root, a path, a mount
// point name) can throw at mntns. Every case must be contained (the mount
// lands inside the sandbox's root, nothing is created outside it) or fail
// with one clear error line naming the step; nothing may hang, and nothing
// may be left in the caller's mount table. The figures are written to
// ${build}/hardening/hostile.summary for scripts/test.sh.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/limits.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/query.h"
#include "support/cli_runner.h"
#include "support/namespace.h"
#include "support/probe.h"

namespace mntns {
namespace {

using namespace std::chrono_literals;

bool InVm() { return std::getenv("MNTNS_IN_VM") != nullptr; }

// How many runs race the symlink swaps: 1,000 on the host; fewer where each
// run is slow (the emulated VM, the ASan build's ~20x cost per run).
int SwapRaceRuns() {
#if defined(__SANITIZE_ADDRESS__)
  return InVm() ? 60 : 120;
#else
  return InVm() ? 60 : 1000;
#endif
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Mountinfo() { return ReadFile("/proc/self/mountinfo"); }

// CMD inside the sandboxes: "mounts" prints the sandbox's mount points, one a line.
int Probe(int argc, char** argv) {
  const std::string what = argc > 2 ? argv[2] : "";
  if (what == "mounts") {
    auto mounts = ListMounts({}, {.mask = field::kMntPoint});
    if (!mounts) {
      std::cerr << mounts.error().Message() << "\n";
      return 1;
    }
    for (const Mount& m : *mounts) std::cout << m.point << "\n";
    return std::cout.flush() ? 0 : 1;
  }
  return 2;
}

void WriteSummary(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::error_code ec;
  std::filesystem::create_directories(MNTNS_HARDENING_DIR, ec);
  std::ofstream(std::string(MNTNS_HARDENING_DIR) + "/hostile.summary", std::ios::app) << line << "\n";
}

// A run of the CLI with a deadline: killed (its whole process group) when it
// has not ended by then. stdin is /dev/null, fd 3 a file holding "data".
struct Outcome {
  int status = -1;  // exit status, 128+N for signal N
  bool hung = false;
  std::string out;
  std::string err;
};

pid_t Start(const std::vector<std::string>& args, const std::string& out, const std::string& err,
            const std::string& data) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDONLY);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int d = ::open(data.c_str(), O_RDONLY);
    ::dup2(null, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::dup2(d, 3);
    ::close_range(4, ~0U, 0);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int Decode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

class Runner {
 public:
  Runner() : dir_(testing::TempDir()) { std::ofstream(dir_ + "/data") << "data"; }

  Outcome Run(const std::vector<std::string>& args, std::chrono::seconds deadline = 20s) {
    const std::string out = dir_ + "/out";
    const std::string err = dir_ + "/err";
    const pid_t pid = Start(args, out, err, dir_ + "/data");
    Outcome outcome;
    const auto until = std::chrono::steady_clock::now() + deadline;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        outcome.hung = true;
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(2ms);
    }
    outcome.status = Decode(status);
    outcome.out = ReadFile(out);
    outcome.err = ReadFile(err);
    return outcome;
  }

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

std::vector<std::string> RunArgs(const std::vector<std::string>& options, const std::string& root = "") {
  std::vector<std::string> args = {testing::CliPath(), "run"};
  if (!root.empty()) args.insert(args.end(), {"--root", root});
  for (const std::string& arg : testing::ProbeBinds()) args.push_back(arg);
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {"--", "/probe", "--probe", "mounts"});
  return args;
}

// One error line, "mntns: STEP...", control characters escaped.
::testing::AssertionResult IsOneClearErrorLine(const Outcome& outcome, const std::string& step) {
  if (outcome.hung) return ::testing::AssertionFailure() << "it hung";
  if (outcome.status != 1) return ::testing::AssertionFailure() << "exit status " << outcome.status << ": " << outcome.err;
  if (!outcome.err.starts_with("mntns: " + step) || std::count(outcome.err.begin(), outcome.err.end(), '\n') != 1) {
    return ::testing::AssertionFailure() << "not one line naming " << step << ": " << outcome.err;
  }
  for (const char c : outcome.err.substr(0, outcome.err.size() - 1)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return ::testing::AssertionFailure() << "raw control character in " << outcome.err;
  }
  return ::testing::AssertionSuccess();
}

// Succeeded, or failed with one clear error line naming `step`.
::testing::AssertionResult ContainedOrClearError(const Outcome& outcome, const std::string& step) {
  if (!outcome.hung && outcome.status == 0) return ::testing::AssertionSuccess();
  return IsOneClearErrorLine(outcome, step);
}

// ---- symlink swaps racing every DEST resolution ------------------------------------

// What a directory holds, every entry below it by its path relative to it.
std::set<std::string> EntriesBelow(const std::string& dir) {
  std::set<std::string> entries;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    entries.insert(std::filesystem::relative(it->path(), dir).string());
  }
  return entries;
}

// The sandbox's root is a host directory (a --bind on "/", over a --root)
// whose "a" a thread keeps swapping (renameat2 RENAME_EXCHANGE, atomic) with
// a symlink that leaves it (absolutely, or by climbing ".."): while `mntns
// run` resolves each DEST below /a (a bind, a tmpfs, a symlink, a directory,
// a file). Resolution is confined to the root (openat2 RESOLVE_IN_ROOT), so
// each mount and each created file must land inside it (under /a, or under
// the link's target taken inside the root), or the run fails naming the step.
//
// Why the covered --root: DEST resolution runs after setns into the
// sandbox's namespace, whose only tree is the --root copy, from the
// process's root; there an absolute link or a ".." climb ends at that same
// root with or without RESOLVE_IN_ROOT, so an escape could not be told from
// a confined walk. Once a mount covers "/", the steps resolve from the new
// root while the process's root is still the covered one: an unconfined
// absolute link or ".." climb ends in the covered --root, a host directory
// whose "escaped" would then receive the created directories, files, links
// and mount points. Both links name "/escaped", which exists in both roots.
TEST(HostileInput, SymlinkSwapsRacingEveryDestResolutionNeverReachOutsideTheRoot) {
  testing::InPrivateMountNamespace([] {
    const int total = SwapRaceRuns();
    constexpr int kParallel = 6;
    const std::string base = testing::TempDir();
    const std::string root = base + "/root";
    const std::string covered = base + "/covered";
    ASSERT_TRUE(testing::MakeDirs(root + "/a"));
    ASSERT_TRUE(testing::MakeDirs(root + "/escaped"));
    ASSERT_TRUE(testing::MakeDirs(covered + "/escaped"));
    ASSERT_TRUE(testing::MakeDirs(base + "/src"));
    std::filesystem::create_symlink("/escaped", root + "/absolute");
    std::string climb;
    for (int i = 0; i < 12; ++i) climb += "../";
    std::filesystem::create_symlink(climb + "escaped", root + "/relative");
    const std::set<std::string> covered_before = EntriesBelow(covered);
    const std::string mounts_before = Mountinfo();
    std::ofstream(base + "/data") << "data";

    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
    std::thread flipper([&] {
      const std::string a = root + "/a";
      const std::string links[] = {root + "/absolute", root + "/relative"};
      for (long i = 0; !stop.load(); ++i) {
        const std::string& link = links[i % 2];
        if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) != 0) continue;
        ++swaps;
        std::this_thread::yield();
        static_cast<void>(::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE));
        std::this_thread::yield();
      }
    });

    // The root's bind comes first: every later DEST resolves from it.
    std::vector<std::string> args = {testing::CliPath(), "run", "--root", covered, "--bind", root, "/"};
    for (const std::string& arg : testing::ProbeBinds()) args.push_back(arg);
    args.insert(args.end(), {"--bind", base + "/src", "/a/bound", "--tmpfs", "/a/tmp", "--symlink", "target", "/a/link",
                             "--dir", "/a/made/deep", "--file", "3", "/a/file", "--", "/probe", "--probe", "mounts"});
    // Inside the root, /a may have been the link when a step resolved it:
    // then its mount sits under the link's target, taken inside the root.
    // The directory itself may be at /absolute or /relative when CMD lists
    // the mounts (their paths are its dentry's path at that moment).
    const std::set<std::string> allowed_prefixes = {"/a/", "/absolute/", "/relative/", "/escaped/"};
    std::map<pid_t, int> running;
    int started = 0;
    int succeeded = 0;
    int refused = 0;
    while (started < total || !running.empty()) {
      while (started < total && static_cast<int>(running.size()) < kParallel) {
        const std::string prefix = base + "/run-" + std::to_string(started);
        running[Start(args, prefix + ".out", prefix + ".err", base + "/data")] = started++;
      }
      int status = 0;
      const pid_t done = ::waitpid(-1, &status, 0);
      ASSERT_GT(done, 0);
      const int index = running.at(done);
      running.erase(done);
      const std::string prefix = base + "/run-" + std::to_string(index);
      Outcome outcome{Decode(status), false, ReadFile(prefix + ".out"), ReadFile(prefix + ".err")};
      std::filesystem::remove(prefix + ".out");
      std::filesystem::remove(prefix + ".err");
      if (outcome.status == 0) {
        ++succeeded;
        std::istringstream points(outcome.out);
        for (std::string point; std::getline(points, point);) {
          const bool probe = point == "/" || point == "/probe" || point == "/usr" || point == "/lib" ||
                             point == "/lib64" || point == "/bin";
          const bool placed = std::any_of(allowed_prefixes.begin(), allowed_prefixes.end(),
                                          [&](const std::string& p) { return point.starts_with(p); });
          EXPECT_TRUE(probe || placed) << "run " << index << ": a mount at " << point;
        }
      } else {
        ++refused;
        EXPECT_TRUE(IsOneClearErrorLine(outcome, "--")) << "run " << index;
      }
      // The runs still going may be the ones that escaped: the covered root
      // is checked again when all have ended.
      for (const std::string& entry : EntriesBelow(covered)) {
        EXPECT_TRUE(covered_before.contains(entry))
            << "after run " << index << ": a DEST resolution escaped the root into the covered --root: "
            << covered << "/" << entry << " was created";
      }
      if (::testing::Test::HasFailure()) break;
    }
    stop = true;
    flipper.join();
    for (const auto& [pid, index] : running) ::waitpid(pid, nullptr, 0);
    EXPECT_EQ(EntriesBelow(covered), covered_before) << "a DEST resolution escaped the root into the covered --root";
    EXPECT_EQ(Mountinfo(), mounts_before);
    EXPECT_GT(swaps.load(), 0);
    WriteSummary("hostile input: " + std::to_string(total) + " mntns run racing " + std::to_string(swaps.load()) +
                 " symlink swaps of every DEST kind: " + std::to_string(succeeded) + " inside the root, " +
                 std::to_string(refused) + " refused with a clear error, " +
                 (::testing::Test::HasFailure() ? "FAILED" : "none outside"));
  });
}

// ---- /proc tricks as SRC ----------------------------------------------------------------

// SRC is resolved in the caller: /proc/self/fd/N names mntns's own fds
// (whatever they are at that moment), /proc/PID/root another process's root.
// Each bind is contained or refused, and never hangs or crashes mntns.
TEST(HostileInput, ProcFdAndProcRootSourcesAreContainedOrClearErrors) {
  testing::InPrivateMountNamespace([] {
    Runner runner;
    const std::string mounts_before = Mountinfo();
    std::vector<std::string> sources = {"/proc/self/root", "/proc/thread-self/root", "/proc/1/root/",
                                        "/proc/self/cwd", "/proc/self/ns/mnt", "/proc/self/exe"};
    for (int fd = 0; fd < 12; ++fd) sources.push_back("/proc/self/fd/" + std::to_string(fd));
    int cases = 0;
    for (const std::string& source : sources) {
      const Outcome outcome = runner.Run(RunArgs({"--bind", source, "/x"}));
      EXPECT_TRUE(ContainedOrClearError(outcome, "--bind " + source + " /x")) << source;
      if (outcome.status == 0) {
        EXPECT_NE(outcome.out.find("\n/x\n"), std::string::npos) << source << ": no mount at /x in " << outcome.out;
      }
      ++cases;
    }
    EXPECT_EQ(Mountinfo(), mounts_before);
    WriteSummary("hostile input: " + std::to_string(cases) + " /proc/self/fd and /proc/PID/root sources: " +
                 (::testing::Test::HasFailure() ? "FAILED" : "each contained or a clear error"));
  });
}

// ---- a hostile --root -------------------------------------------------------------------


// A root with a FIFO, a device node and a set-user-ID file where the steps
// expect directories or files: nothing blocks on the FIFO (a --file open for
// writing used to wait for a reader forever), the device is never opened
// (the root is nodev), and each step succeeds or says why not.
TEST(HostileRoot, FifosDeviceNodesAndSetuidFilesAtDestinationsNeverHang) {
  testing::InPrivateMountNamespace([] {
    Runner runner;
    const std::string root = runner.dir() + "/root";
    ASSERT_TRUE(testing::MakeDirs(root + "/dir"));
    ASSERT_EQ(::mkfifo((root + "/fifo").c_str(), 0600), 0);
    ASSERT_EQ(::mkfifo((root + "/dir/fifo").c_str(), 0600), 0);
    ASSERT_EQ(::mknod((root + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    std::ofstream(root + "/suid") << "#!/bin/sh\n";
    ASSERT_EQ(::chmod((root + "/suid").c_str(), 04755), 0);
    const std::string mounts_before = Mountinfo();
    const std::vector<std::vector<std::string>> cases = {
        {"--file", "3", "/fifo"},           {"--file", "3", "/dir/fifo"},
        {"--bind-data", "3", "/fifo"},      {"--ro-bind-data", "3", "/fifo"},
        {"--tmpfs", "/fifo"},               {"--dir", "/fifo/x"},
        {"--dir", "/fifo"},                 {"--bind", "/proc/self/exe", "/fifo"},
        {"--symlink", "x", "/fifo"},        {"--chmod", "0700", "/fifo"},
        {"--file", "3", "/null"},           {"--bind-data", "3", "/null"},
        {"--tmpfs", "/null"},               {"--file", "3", "/suid"},
        {"--bind", "/proc/self/exe", "/suid"}, {"--dev", "/fifo"},
        {"--proc", "/null"},                {"--mqueue", "/fifo"},
    };
    for (const std::vector<std::string>& options : cases) {
      std::string step;
      for (const std::string& word : options) step += word + " ";
      const Outcome outcome = runner.Run(RunArgs(options, root), 15s);
      EXPECT_FALSE(outcome.hung) << step << "hung";
      EXPECT_TRUE(ContainedOrClearError(outcome, options[0] + " ")) << step;
      // The node being a device still afterwards cannot show that it was
      // never opened (a write to /dev/null leaves no trace): the open must be
      // the step that fails, with the EACCES of a nodev mount, where an
      // opened device would be refused later as "not a regular file".
      if (options == std::vector<std::string>{"--file", "3", "/null"}) {
        EXPECT_NE(outcome.err.find("(EACCES)"), std::string::npos)
            << step << "opened the device node instead of being refused by nodev: " << outcome.err;
      }
    }
    struct stat st {};
    ASSERT_EQ(::stat((root + "/null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node was replaced";
    EXPECT_EQ(Mountinfo(), mounts_before);
    WriteSummary("hostile input: " + std::to_string(cases.size()) +
                 " steps onto FIFOs, device nodes and set-user-ID files of a --root: " +
                 (::testing::Test::HasFailure() ? "FAILED" : "none hung, each contained or a clear error"));
  });
}

TEST(HostileRoot, AFileWrittenOverAFifoIsRefusedInsteadOfWaitingForAReader) {
  testing::InPrivateMountNamespace([] {
    Runner runner;
    const std::string root = runner.dir() + "/root";
    ASSERT_TRUE(testing::MakeDirs(root));
    ASSERT_EQ(::mkfifo((root + "/fifo").c_str(), 0600), 0);
    const Outcome outcome = runner.Run(RunArgs({"--file", "3", "/fifo"}, root), 15s);
    EXPECT_FALSE(outcome.hung);
    EXPECT_TRUE(IsOneClearErrorLine(outcome, "--file /fifo: ")) << outcome.err;
    EXPECT_NE(outcome.err.find("\"/fifo\" inside the sandbox"), std::string::npos) << outcome.err;
  });
}

// ---- paths at the kernel's limits, and odd bytes --------------------------------------

TEST(HostilePaths, AComponentOfNameMaxPlusOneBytesIsAClearError) {
  testing::InPrivateMountNamespace([] {
    Runner runner;
    const std::string longest(NAME_MAX, 'n');
    const Outcome fits = runner.Run(RunArgs({"--tmpfs", "/t", "--dir", "/t/" + longest}));
    EXPECT_EQ(fits.status, 0) << fits.err;
    const Outcome over = runner.Run(RunArgs({"--tmpfs", "/t", "--dir", "/t/" + longest + "n"}));
    EXPECT_TRUE(IsOneClearErrorLine(over, "--dir /t/")) << over.err;
    EXPECT_NE(over.err.find("(ENAMETOOLONG)"), std::string::npos) << over.err;
  });
}

TEST(HostilePaths, ADestAtAndOverPathMaxIsAClearError) {
  testing::InPrivateMountNamespace([] {
    Runner runner;
    // Components of 200 bytes up to PATH_MAX - 1 bytes in all (the most a
    // path may have with its NUL), then one and two bytes more.
    std::string at = "/t";
    while (at.size() + 201 < PATH_MAX) at += "/" + std::string(200, 'p');
    at += "/" + std::string(PATH_MAX - 1 - at.size() - 1, 'q');
    ASSERT_EQ(at.size(), static_cast<std::size_t>(PATH_MAX - 1));
    for (const std::string& dest : {at, at + "r", at + "rr", at + std::string(PATH_MAX, 's')}) {
      const Outcome outcome = runner.Run(RunArgs({"--tmpfs", "/t", "--dir", dest}));
      EXPECT_FALSE(outcome.hung);
      // DEST is resolved inside the root as a relative path (without its
      // leading "/"): up to PATH_MAX bytes it fits, beyond it the kernel
      // says ENAMETOOLONG.
      if (outcome.status != 0) {
        EXPECT_TRUE(IsOneClearErrorLine(outcome, "--dir /t/")) << dest.size() << ": " << outcome.err.substr(0, 200);
        EXPECT_NE(outcome.err.find("(ENAMETOOLONG)"), std::string::npos) << outcome.err.substr(0, 200);
      }
      if (dest.size() > PATH_MAX) {
        EXPECT_NE(outcome.status, 0) << dest.size();
      }
    }
  });
}

// Mount points named with a newline, a tab, ESC and bytes that are not UTF-8:
// the sandbox gets them, and its error messages, `ls` and `stat` print them
// escaped (\xNN), one row per mount.
const std::string kOddName = std::string("odd\nname\tesc\x1b") + "\xff\xfe" + "end";
const std::string kOddEscaped = "odd\\x0aname\\x09esc\\x1b\\xff\\xfeend";
// Error messages escape control characters (C0, DEL, C1), not other bytes.
const std::string kControlName = "odd\nname\tesc\x1b" "end";
const std::string kControlEscaped = "odd\\x0aname\\x09esc\\x1bend";

TEST(HostilePaths, MountPointsWithControlCharactersAndInvalidUtf8AreContained) {
  testing::InPrivateMountNamespace([] {
    Runner runner;
    const Outcome outcome = runner.Run(RunArgs({"--tmpfs", "/" + kOddName, "--dir", "/" + kOddName + "/d"}));
    ASSERT_EQ(outcome.status, 0) << outcome.err;
    EXPECT_NE(outcome.out.find("/" + kOddName + "\n"), std::string::npos) << outcome.out;
  });
}

TEST(HostilePaths, ErrorsAboutOddPathsEscapeThem) {
  testing::InPrivateMountNamespace([] {
    Runner runner;
    const Outcome outcome = runner.Run(RunArgs({"--bind", "/nonexistent/" + kControlName, "/x"}));
    EXPECT_TRUE(IsOneClearErrorLine(outcome, "--bind /nonexistent/" + kControlEscaped)) << outcome.err;
  });
}

TEST(HostilePaths, LsAndStatEscapeMountPointsWithControlCharactersAndInvalidUtf8) {
  testing::InPrivateMountNamespace([] {
    const std::string dir = testing::TempDir() + "/" + kOddName;
    ASSERT_TRUE(testing::MakeDirs(dir));
    ASSERT_TRUE(testing::MountTmpfs(dir));
    const std::string escaped = dir.substr(0, dir.size() - kOddName.size()) + kOddEscaped;
    const auto ls = testing::RunCli({"ls", "-o", "TARGET", "-n"});
    ASSERT_EQ(ls.exit_status, 0) << ls.err;
    EXPECT_NE(ls.out.find(escaped + "\n"), std::string::npos) << ls.out;
    EXPECT_EQ(ls.out.find(kOddName), std::string::npos) << "raw bytes in the table";
    const auto stat = testing::RunCli({"stat", dir});
    ASSERT_EQ(stat.exit_status, 0) << stat.err;
    EXPECT_NE(stat.out.find(kOddEscaped), std::string::npos) << stat.out;
    EXPECT_EQ(stat.out.find(kOddName), std::string::npos) << "raw bytes in stat";
    const auto json = testing::RunCli({"ls", "--json", "-o", "TARGET"});
    ASSERT_EQ(json.exit_status, 0) << json.err;
    EXPECT_EQ(json.out.find('\t'), std::string::npos) << "a raw tab in JSON";
    EXPECT_EQ(json.out.find('\x1b'), std::string::npos) << "a raw ESC in JSON";
    EXPECT_NE(json.out.find("odd\\"), std::string::npos) << json.out.substr(0, 2000);
  });
}

// ---- usage refused -------------------------------------------------------------------------

TEST(HostileUsage, BenchCreateEmptyRefusesWorkersReaperAndRawWithExitStatus2) {
  for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{
           {"--strategy", "auto", "--workers", "2"},
           {"--strategy", "auto", "--reaper"},
           {"--strategy", "raw"},
           {"--strategy", "auto", "--against-raw"}}) {
    std::vector<std::string> args = {"bench", "create", "--empty", "--count", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = testing::RunCli(args);
    EXPECT_EQ(result.exit_status, 2) << extra.back() << ": " << result.err;
    EXPECT_TRUE(result.err.starts_with("mntns: --empty: ")) << result.err;
    EXPECT_EQ(result.out, "") << extra.back();
  }
}

}  // namespace
}  // namespace mntns

namespace {
bool probe_mode = false;
}  // namespace

// LeakSanitizer (make test's ASan build) needs /proc to stop the world at
// exit; the probe inside a sandbox has none, so it does not check there.
extern "C" int __lsan_is_turned_off() { return probe_mode ? 1 : 0; }

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "--probe") {
    probe_mode = true;
    return mntns::Probe(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
