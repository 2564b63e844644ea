// StartSandbox from a busy multi-threaded process: the forked child may find
// any lock another thread held at the fork (malloc's, the allocator's of a
// sanitizer, the library's own) taken forever. What the child does before it
// execs must not depend on any of them.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "mntns/namespace.h"
#include "mntns/sandbox.h"
#include "run_spec.h"
#include "support/cli_runner.h"
#include "support/namespace.h"
#include "support/probe.h"

namespace mntns {
namespace {

using namespace std::chrono_literals;

// SIGKILLs every child of every thread of this process (a child stuck before
// exec holds the setup pipe open, and StartSandbox would wait for it forever).
int KillOurChildren() {
  int killed = 0;
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return 0;
  while (const dirent* task = ::readdir(tasks)) {
    if (task->d_name[0] == '.') continue;
    std::ifstream children(fmt::format("/proc/self/task/{}/children", task->d_name));
    for (pid_t pid; children >> pid;) killed += ::kill(pid, SIGKILL) == 0 ? 1 : 0;
  }
  ::closedir(tasks);
  return killed;
}

// Other threads of the process keep malloc, the C++ runtime, fmt and the
// template factory busy, each holding a lock of its own part of the time.
class BusyThreads {
 public:
  explicit BusyThreads(int count) {
    for (int t = 0; t < count; ++t) {
      threads_.emplace_back([this, t] { Churn(t); });
    }
    threads_.emplace_back([this] { MakeNamespaces(); });
  }
  ~BusyThreads() {
    stop_ = true;
    for (std::thread& thread : threads_) thread.join();
  }

 private:
  void Churn(int seed) {
    std::vector<std::unique_ptr<char[]>> blocks(64);
    std::vector<std::string> strings(64);
    unsigned state = static_cast<unsigned>(seed) * 2654435761u + 1;
    while (!stop_) {
      state = state * 1103515245u + 12345u;
      const std::size_t slot = state % blocks.size();
      // Small sizes come from the caches, large ones (up to 1 MiB) take the
      // allocator's central locks or mmap.
      const std::size_t size = std::size_t{1} << (4 + (state >> 8) % 17);
      blocks[slot] = std::make_unique<char[]>(size);
      blocks[slot][0] = static_cast<char>(state);
      strings[slot] = fmt::format("{}:{}:{}", seed, state, std::string(size % 300, 'x'));
      std::lock_guard hold(mutex_);
      shared_.push_back(strings[slot]);
      if (shared_.size() > 256) shared_.clear();
    }
  }

  void MakeNamespaces() {
    while (!stop_) {
      auto ns = OpenTreeNamespace(AT_FDCWD, "/", OPEN_TREE_CLOEXEC, {.strategy = NamespaceStrategy::kAuto});
      if (!ns) ADD_FAILURE() << ns.error().Message();
      std::this_thread::sleep_for(1ms);
    }
  }

  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> shared_;
  std::vector<std::thread> threads_;
};

// 1,000 take ~20-30 s on two busy cores. Under AddressSanitizer every start
// execs an instrumented test binary (~180 ms there): 200. In the 7.x VM (one
// emulated CPU, no KVM, shared with the two busy threads) a start takes 0.7-2 s
// and one may wait several seconds for the CPU: 20.
// How long a start may make no progress before it counts as stuck: 10 s, 60 s
// on the VM's one emulated CPU.
std::chrono::seconds StallLimit() { return std::getenv("MNTNS_IN_VM") != nullptr ? 60s : 10s; }

int Iterations() {
  const char* text = std::getenv("MNTNS_SANDBOX_FORK_ITERATIONS");
  if (text != nullptr) return std::atoi(text);
  if (std::getenv("MNTNS_IN_VM") != nullptr) return 20;
#if defined(__SANITIZE_ADDRESS__)
  return 200;
#else
  return 1000;
#endif
}

TEST(StartSandboxInABusyProcess, NeverHangsLeaksFdsOrLeavesZombies) {
  testing::InPrivateMountNamespace([] {
    std::vector<std::string> args = testing::ProbeBinds();
    args.insert(args.end(), {"--", "/probe", "--probe", "exit", "0"});
    auto spec = cli::ParseRunArguments(args);
    ASSERT_TRUE(spec.has_value()) << spec.error().Message();
    {  // warm up: the factory's threads and template, the allocator's pools
      auto process = StartSandbox(*spec);
      ASSERT_TRUE(process.has_value()) << process.error().Message();
      ASSERT_TRUE(WaitSandbox(*process).has_value());
    }
    const int fds = testing::OpenFdCount();
    const int iterations = Iterations();

    std::atomic<int> done{0};
    std::atomic<bool> finished{false};
    std::atomic<bool> stuck{false};
    // Fails instead of hanging: a start that makes no progress for StallLimit()
    // is a child stuck on a lock; killing it lets StartSandbox return.
    std::thread watchdog([&] {
      int seen = -1;
      auto last_progress = std::chrono::steady_clock::now();
      while (!finished) {
        std::this_thread::sleep_for(50ms);
        if (done != seen) {
          seen = done;
          last_progress = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - last_progress > StallLimit()) {
          stuck = true;
          KillOurChildren();
          last_progress = std::chrono::steady_clock::now();
        }
      }
    });
    const auto start = std::chrono::steady_clock::now();
    {
      BusyThreads busy(2);
      for (int i = 0; i < iterations && !stuck; ++i) {
        auto process = StartSandbox(*spec);
        if (!process) {
          ADD_FAILURE() << i << ": " << process.error().Message();
          break;
        }
        auto status = WaitSandbox(*process);
        if (!stuck && (!status || *status != 0)) {
          ADD_FAILURE() << i << ": " << (status ? fmt::format("status {}", *status) : status.error().Message());
          break;
        }
        ++done;
      }
    }
    finished = true;
    watchdog.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%d of %d sandboxes in %.1f s\n", done.load(), iterations, seconds);
    EXPECT_FALSE(stuck) << "a sandbox child made no progress for " << StallLimit().count() << " s after " << done
                        << " starts (a lock held at fork time?)";
    EXPECT_EQ(done, iterations);
    EXPECT_EQ(testing::OpenFdCount(), fds);
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a child is left (a zombie?)";
    EXPECT_EQ(errno, ECHILD);
  });
}

// A SandboxProcess dropped without WaitSandbox: its process is killed and
// reaped, not left running or as a zombie of the caller.
TEST(SandboxProcess, DroppedWithoutWaitingIsKilledAndReaped) {
  testing::InPrivateMountNamespace([] {
    std::vector<std::string> args = testing::ProbeBinds();
    args.insert(args.end(), {"--", "/probe", "--probe", "wait-for-signal"});
    auto spec = cli::ParseRunArguments(args);
    ASSERT_TRUE(spec.has_value()) << spec.error().Message();
    pid_t pid = -1;
    {
      auto process = StartSandbox(*spec);
      ASSERT_TRUE(process.has_value()) << process.error().Message();
      pid = process->pid;
    }
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "the sandbox is still our child";
    EXPECT_EQ(errno, ECHILD);
    EXPECT_EQ(::kill(pid, 0), -1) << "pid " << pid << " still exists";
    if (::kill(pid, 0) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  });
}

// Why the dlopen() runtime tests cannot run here, or "".
std::string WhyNoDlopenRuntime() {
#if defined(__SANITIZE_ADDRESS__)
  // The preloaded instrumented library would come before the ASan runtime in
  // the exec'd image, which ASan refuses at start.
  return "a preloaded libmntns.so cannot precede the ASan runtime";
#else
  const std::string library = testing::SharedLibraryPath();
  const std::string runtime = testing::DlopenRuntimePath();
  if (!std::filesystem::exists(library) || !std::filesystem::exists(runtime)) {
    return "needs " + library + " and " + runtime + " (not packed into the VM)";
  }
  return "";
#endif
}

// The setup process is a fresh exec of the caller's program. A runtime that
// dlopen()ed libmntns.so (here by a relative name) does not load it at start:
// the exec preloads it, so that its constructor takes over.
TEST(StartSandbox, WorksInAProgramThatDlopenedTheLibraryByARelativeName) {
  if (const std::string why = WhyNoDlopenRuntime(); !why.empty()) GTEST_SKIP() << why;
  const std::filesystem::path library = testing::SharedLibraryPath();
  testing::InPrivateMountNamespace([&] {
    ASSERT_EQ(::chdir(library.parent_path().c_str()), 0);
    auto result = testing::RunProgram(
        {testing::DlopenRuntimePath(), "./" + library.filename().string(), "/bin/sh", "-c", "exit 7"});
    EXPECT_EQ(result.exit_status, 7) << result.err;
  });
}

// The setup is a fresh exec that preloads the library; were the library gone
// by then, the loader would ignore the preload and run the program's main()
// again with the caller's argv. StartSandbox refuses before the fork instead.
TEST(StartSandbox, ADlopenedLibraryThatIsGoneIsTheCallersError) {
  if (const std::string why = WhyNoDlopenRuntime(); !why.empty()) GTEST_SKIP() << why;
  const std::filesystem::path library = testing::SharedLibraryPath();
  testing::InPrivateMountNamespace([&] {
    const std::filesystem::path copy = testing::TempDir() + "/libmntns-copy.so";
    std::filesystem::copy_file(library, copy);
    auto result = testing::RunProgram({testing::DlopenRuntimePath(), copy.string(), "/bin/sh", "-c", "exit 7"},
                                      {.environment = {"MNTNS_TEST_UNLINK_LIBRARY=1"}});
    EXPECT_EQ(result.exit_status, 103) << result.err;
    EXPECT_NE(result.err.find("is gone"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("dlopen"), std::string::npos) << "main() ran again: " << result.err;
  });
}

}  // namespace
}  // namespace mntns
