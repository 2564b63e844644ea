// Process races: many concurrent `mntns run` processes, some killed with
// SIGKILL at random moments of their setup or run. No mount may be left in
// the caller's namespace, no process of any run may outlive it (this test is
// their subreaper, so orphans come back here), and every run that was not
// killed must succeed. The keeper of /run/mntns is shared with whatever else
// runs on the machine, so it is used (each run shares the template) but
// never killed here.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

std::string Mountinfo() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

pid_t StartRun(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

TEST(ProcessRaces, ConcurrentRunsKilledAtRandomLeaveNoMountNoProcessAndTheOthersSucceed) {
  testing::InPrivateMountNamespace([] {
    if (::access("/usr/bin/sleep", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/sleep";
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    const std::string mounts_before = Mountinfo();
    std::vector<std::string> args = {testing::CliPath(), "run", "--die-with-parent", "--unshare-pid"};
    for (const std::string& arg : testing::ProbeBinds()) args.push_back(arg);
    args.insert(args.end(), {"--", "/usr/bin/sleep", "0.05"});

    const unsigned seed = std::random_device{}();
    std::mt19937 random(seed);
    // A third of them, killed each at a random moment of its first 100 ms
    // (setup, or CMD running). Their CMD would run for 30 s: a sandbox that
    // outlived its mntns would still be there when the others are done.
    std::vector<bool> victim(kRuns, false);
    for (int i = 0; i < kRuns / 3; ++i) victim[static_cast<std::size_t>(i)] = true;
    std::shuffle(victim.begin(), victim.end(), random);
    std::vector<std::string> victim_args = args;
    victim_args.back() = "30";
    std::vector<pid_t> runs;
    std::set<pid_t> killed;
    std::uniform_int_distribution<int> delay_ms(0, 100);
    std::vector<std::pair<int, pid_t>> schedule;
    for (int i = 0; i < kRuns; ++i) {
      const bool kill_it = victim[static_cast<std::size_t>(i)];
      runs.push_back(StartRun(kill_it ? victim_args : args));
      if (kill_it) schedule.emplace_back(delay_ms(random), runs.back());
    }
    std::sort(schedule.begin(), schedule.end());
    const auto start = std::chrono::steady_clock::now();
    for (const auto& [at, pid] : schedule) {
      std::this_thread::sleep_until(start + std::chrono::milliseconds(at));
      ::kill(pid, SIGKILL);
      killed.insert(pid);
    }
    int survived = 0;
    for (pid_t run : runs) {
      int status = 0;
      ASSERT_EQ(::waitpid(run, &status, 0), run);
      if (killed.contains(run)) {
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            << "killed run " << run << " (seed " << seed << "): status " << status;
        continue;
      }
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "run " << run << " (seed " << seed << "): status " << status;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++survived;
    }
    // The sandboxes of killed runs die with them (die-with-parent); as their
    // subreaper this process gets any that did not.
    int orphans = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid < 0) break;  // ECHILD: nothing left
      if (pid > 0) {
        ++orphans;
        continue;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "a process of a killed run is still alive after 20 s (seed " << seed << ")";
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(Mountinfo(), mounts_before) << "seed " << seed;
    EXPECT_EQ(survived, kRuns - static_cast<int>(killed.size()));
    const std::string line = "process races: " + std::to_string(kRuns) + " concurrent mntns run, " +
                             std::to_string(killed.size()) + " SIGKILLed at random, " + std::to_string(survived) +
                             " succeeded, " + std::to_string(orphans) +
                             " orphans reaped, " +
                             (::testing::Test::HasFailure() ? "FAILED" : "no mount left, no process left") +
                             " (seed " + std::to_string(seed) + ")";
    std::printf("%s\n", line.c_str());
    std::error_code ec;
    std::filesystem::create_directories(MNTNS_HARDENING_DIR, ec);
    std::ofstream(std::string(MNTNS_HARDENING_DIR) + "/process-races.summary", std::ios::app) << line << "\n";
  });
}

}  // namespace
}  // namespace mntns
