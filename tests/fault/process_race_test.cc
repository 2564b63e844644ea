// Process races: many concurrent `mntns run` processes sharing one template
// keeper, with SIGKILLs at random moments to three kinds of target: mntns
// itself, its sandbox (the setup process, the sandbox's pid 1 or CMD,
// whichever of its descendants is there at that moment) and the keeper. No
// mount may be left in the caller's namespace, no process of any run may
// outlive it (this test is their subreaper, so orphans, the keepers
// included, come back here), every run that was not killed must succeed with
// the output its CMD printed, a record of a killed keeper must not be
// trusted (the next run succeeds and starts a fresh keeper), and the last
// keeper must leave, record and all, after its idle time.
// The keeper directory is fixed to /run/mntns in the CLI: this test mounts a
// tmpfs there in its private mount namespace, so the keeper it kills is its
// own, never the machine's.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/namespace.h"
#include "support/probe.h"

namespace mntns {
namespace {

using namespace std::chrono_literals;

constexpr int kRuns = 200;
constexpr int kMntnsVictims = kRuns / 5;
constexpr int kSandboxVictims = kRuns / 5;
constexpr int kKeeperKills = 6;
// The keeper's idle time for these runs (MNTNS_TEMPLATE_IDLE).
constexpr int kIdleSeconds = 2;
constexpr const char* kKeeperDirectory = "/run/mntns";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The process's own mount table, which no run may change.
std::string Mountinfo() { return ReadFile("/proc/self/mountinfo"); }

// CMD of every run is this binary (as /probe): "print-after MS TEXT" prints
// TEXT after MS ms, "sleep MS" only sleeps.
int Probe(int argc, char** argv) {
  const std::string what = argc > 2 ? argv[2] : "";
  const int ms = argc > 3 ? std::atoi(argv[3]) : 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  if (what == "print-after" && argc > 4) {
    std::cout << argv[4] << "\n";
    return std::cout.flush() ? 0 : 1;
  }
  return what == "sleep" ? 0 : 2;
}

// Starts `args` with stdout to `out` (when not empty) and stderr to /dev/null.
pid_t StartRun(const std::vector<std::string>& args, const std::string& out) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    const int stdout_fd = out.empty() ? null : ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(stdout_fd, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Every process below `pid` now (through /proc/PID/task/TID/children).
std::vector<pid_t> Descendants(pid_t pid) {
  std::vector<pid_t> found;
  std::vector<pid_t> todo = {pid};
  while (!todo.empty()) {
    const pid_t at = todo.back();
    todo.pop_back();
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(at) + "/task", ec)) {
      std::istringstream children(ReadFile(task.path().string() + "/children"));
      for (pid_t child; children >> child;) {
        found.push_back(child);
        todo.push_back(child);
      }
    }
  }
  return found;
}

std::string RecordPath() {
  struct stat user_ns {};
  if (::stat("/proc/self/ns/user", &user_ns) != 0) return {};
  return std::string(kKeeperDirectory) + "/template-" + std::to_string(user_ns.st_ino);
}

// The pid the keeper record names, or 0.
pid_t RecordedKeeper() {
  std::istringstream record(ReadFile(RecordPath()));
  pid_t pid = 0;
  return record >> pid ? pid : 0;
}

bool IsLiveKeeper(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z') return false;
  return ReadFile("/proc/" + std::to_string(pid) + "/comm") == "mntns-template\n";
}

enum class Target { kNone, kMntns, kSandbox };

TEST(ProcessRaces, ConcurrentRunsSurviveKillsOfMntnsItsSandboxAndTheKeeperAndLeaveNothing) {
  testing::InPrivateMountNamespace([] {
    if (!testing::MakeDirs(kKeeperDirectory)) GTEST_SKIP() << "cannot make " << kKeeperDirectory;
    ASSERT_TRUE(testing::MountTmpfs(kKeeperDirectory, "mode=0700"));
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ::setenv("MNTNS_TEMPLATE_IDLE", std::to_string(kIdleSeconds).c_str(), 1);
    const std::string outputs = testing::TempDir();
    const std::string mounts_before = Mountinfo();
    std::vector<std::string> base = {testing::CliPath(), "run", "--die-with-parent", "--unshare-pid"};
    for (const std::string& arg : testing::ProbeBinds()) base.push_back(arg);
    base.insert(base.end(), {"--", "/probe", "--probe"});

    const unsigned seed = std::random_device{}();
    std::mt19937 random(seed);
    std::vector<Target> target(kRuns, Target::kNone);
    std::fill_n(target.begin(), kMntnsVictims, Target::kMntns);
    std::fill_n(target.begin() + kMntnsVictims, kSandboxVictims, Target::kSandbox);
    std::shuffle(target.begin(), target.end(), random);

    // Victims' CMD would run for 30 s: a sandbox that outlived its mntns
    // would still be there when the others are done.
    std::vector<pid_t> runs;
    for (int i = 0; i < kRuns; ++i) {
      std::vector<std::string> args = base;
      if (target[static_cast<std::size_t>(i)] == Target::kNone) {
        args.insert(args.end(), {"print-after", "50", "run-" + std::to_string(i)});
        runs.push_back(StartRun(args, outputs + "/" + std::to_string(i)));
      } else {
        args.insert(args.end(), {"sleep", "30000"});
        runs.push_back(StartRun(args, ""));
      }
    }
    // Each kill at a random moment of the first 1.5 s (setup, a keeper's
    // start, CMD running); a sandbox victim with no descendant yet is tried
    // again 10 ms later.
    std::uniform_int_distribution<int> delay_ms(0, 1500);
    std::multimap<int, int> schedule;  // ms -> run index, or -1 for the keeper
    for (int i = 0; i < kRuns; ++i) {
      if (target[static_cast<std::size_t>(i)] != Target::kNone) schedule.emplace(delay_ms(random), i);
    }
    for (int k = 0; k < kKeeperKills; ++k) schedule.emplace(delay_ms(random), -1);
    std::map<pid_t, int> status_of;
    int keepers_killed = 0;
    int sandbox_kills = 0;
    const auto start = std::chrono::steady_clock::now();
    while (!schedule.empty()) {
      auto next = schedule.begin();
      const auto [at, index] = *next;
      schedule.erase(next);
      std::this_thread::sleep_until(start + std::chrono::milliseconds(at));
      if (index < 0) {
        const pid_t keeper = RecordedKeeper();
        if (keeper > 0 && IsLiveKeeper(keeper) && ::kill(keeper, SIGKILL) == 0) ++keepers_killed;
        continue;
      }
      const pid_t run = runs[static_cast<std::size_t>(index)];
      if (target[static_cast<std::size_t>(index)] == Target::kMntns) {
        ::kill(run, SIGKILL);
        continue;
      }
      // The sandbox: one of mntns's descendants, whichever are there.
      // Should that have been a keeper's start (its intermediate process),
      // mntns goes on without sharing: the next try kills the sandbox.
      int status = 0;
      if (::waitpid(run, &status, WNOHANG) == run) {
        status_of[run] = status;
        continue;
      }
      const std::vector<pid_t> below = Descendants(run);
      if (below.empty()) {
        if (at < 20'000) schedule.emplace(at + 10, index);
        continue;
      }
      ::kill(below[std::uniform_int_distribution<std::size_t>(0, below.size() - 1)(random)], SIGKILL);
      ++sandbox_kills;
      if (at < 20'000) schedule.emplace(at + 300, index);  // still alive then: again
    }

    int survived = 0;
    for (int i = 0; i < kRuns; ++i) {
      const pid_t run = runs[static_cast<std::size_t>(i)];
      int status = 0;
      if (auto known = status_of.find(run); known != status_of.end()) {
        status = known->second;
      } else {
        ASSERT_EQ(::waitpid(run, &status, 0), run);
      }
      switch (target[static_cast<std::size_t>(i)]) {
        case Target::kMntns:
          EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
              << "run " << i << " killed (seed " << seed << "): status " << status;
          break;
        case Target::kSandbox:
          // A failed setup (1) or CMD killed (128 + 9): a failure, said so.
          EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0)
              << "run " << i << " whose sandbox was killed (seed " << seed << "): status " << status;
          break;
        case Target::kNone: {
          const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
          EXPECT_TRUE(ok) << "run " << i << " (seed " << seed << "): status " << status;
          const std::string printed = ReadFile(outputs + "/" + std::to_string(i));
          EXPECT_EQ(printed, "run-" + std::to_string(i) + "\n") << "run " << i << " (seed " << seed << ")";
          if (ok && printed == "run-" + std::to_string(i) + "\n") ++survived;
          break;
        }
      }
    }

    // A keeper killed now leaves its record behind: the next run must not
    // trust it, and must succeed with a fresh keeper.
    const pid_t last_keeper = RecordedKeeper();
    if (last_keeper > 0 && IsLiveKeeper(last_keeper) && ::kill(last_keeper, SIGKILL) == 0) ++keepers_killed;
    std::vector<std::string> after = base;
    after.insert(after.end(), {"print-after", "0", "after"});
    const pid_t following = StartRun(after, outputs + "/after");
    int following_status = 0;
    ASSERT_EQ(::waitpid(following, &following_status, 0), following);
    EXPECT_TRUE(WIFEXITED(following_status) && WEXITSTATUS(following_status) == 0)
        << "the run after the keeper was killed (seed " << seed << "): status " << following_status;
    EXPECT_EQ(ReadFile(outputs + "/after"), "after\n");
    const pid_t fresh = RecordedKeeper();
    EXPECT_NE(fresh, last_keeper) << "the record still names the killed keeper";
    EXPECT_TRUE(fresh > 0 && IsLiveKeeper(fresh)) << "no live keeper after the following run";

    // Everything comes back here: sandboxes that outlived a killed mntns
    // (none should: die-with-parent), killed keepers, and the live ones once
    // their idle time has passed.
    int orphans = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kIdleSeconds) + 20s;
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid < 0) break;  // ECHILD: nothing left
      if (pid > 0) {
        ++orphans;
        continue;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::string left;
        for (pid_t p : Descendants(::getpid())) left += " " + std::to_string(p) + ":" + ReadFile("/proc/" + std::to_string(p) + "/comm");
        ADD_FAILURE() << "processes still alive " << kIdleSeconds << " s + 20 s after the runs (seed " << seed
                      << "):" << left;
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(std::filesystem::exists(RecordPath())) << "the idle keeper left its record behind";
    EXPECT_EQ(Mountinfo(), mounts_before) << "seed " << seed;
    EXPECT_EQ(survived, kRuns - kMntnsVictims - kSandboxVictims) << "seed " << seed;
    EXPECT_GT(keepers_killed, 0) << "no keeper was alive to be killed";
    const std::string line =
        "process races: " + std::to_string(kRuns) + " concurrent mntns run sharing a template, SIGKILLed: " +
        std::to_string(kMntnsVictims) + " mntns, " + std::to_string(kSandboxVictims) + " sandboxes (" +
        std::to_string(sandbox_kills) + " kills), " + std::to_string(keepers_killed) + " keepers; " +
        std::to_string(survived) + " others succeeded with their output, " + std::to_string(orphans) +
        " orphans reaped (keepers included), " +
        (::testing::Test::HasFailure() ? "FAILED"
                                       : "no mount left, no process left, no stale record trusted, no keeper "
                                         "after its idle time") +
        " (seed " + std::to_string(seed) + ")";
    std::printf("%s\n", line.c_str());
    std::error_code ec;
    std::filesystem::create_directories(MNTNS_HARDENING_DIR, ec);
    std::ofstream(std::string(MNTNS_HARDENING_DIR) + "/process-races.summary", std::ios::app) << line << "\n";
  });
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
  if (argc > 1 && std::string(argv[1]) == "--probe") {
    probe_mode = true;
    return mntns::Probe(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
