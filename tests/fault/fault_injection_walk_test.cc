// The fault-injection walk: every operation of the library, run once for
// every system call it makes with that call failing (src/sys/fault_injection.h).
// Each failing run must return the injected errno under the failed call's
// name, and leave behind no mount in the caller's namespace, no fd, no child
// process, no thread and no keeper record; the next run must succeed.
// The figures (injection points per operation) are printed and written to
// ${build}/hardening/, where scripts/test.sh picks them up.
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/features.h"
#include "mntns/namespace.h"
#include "mntns/query.h"
#include "mntns/sandbox.h"
#include "mntns/tree.h"
#include "mntns/watch.h"
#include "support/namespace.h"
#include "support/probe.h"
#include "sys/fault_injection_control.h"

namespace mntns {
namespace {

using namespace std::chrono_literals;
using sys::Call;
using testing::InPrivateMountNamespace;
using testing::TempDir;

// An errno no code path of mntns treats specially (no fallback, no retry), so
// that a failure that reaches the caller is recognisably the injected one.
constexpr int kInjected = ENOTRECOVERABLE;
constexpr std::size_t kCalls = static_cast<std::size_t>(Call::kCount);
// No operation makes this many calls of one kind; a walk that gets there is
// looping on the failure.
constexpr std::size_t kMostCallsOfAKind = 4096;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// What a failed run must not change.
struct ProcessState {
  std::map<int, std::string> fds;  // fd -> what it is
  std::string mounts;              // this namespace's mountinfo
  int threads = 0;
  // The files of the keeper directory, a record with its text ("PID
  // MNTNS_ID TOKEN": a keeper started or replaced by a failed run shows).
  std::map<std::string, std::string> records;

  static ProcessState Now(const std::string& keeper_directory) {
    ProcessState state;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      const int fd = std::stoi(entry.path().filename().string());
      state.fds[fd] = std::filesystem::read_symlink(entry.path(), ec).string();
    }
    // The directory_iterator's own fd was listed too and is closed now.
    for (auto it = state.fds.begin(); it != state.fds.end();) {
      it = ::fcntl(it->first, F_GETFD) < 0 ? state.fds.erase(it) : std::next(it);
    }
    state.mounts = ReadFile("/proc/self/mountinfo");
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
      ++state.threads;
    }
    if (!keeper_directory.empty()) {
      for (const auto& entry : std::filesystem::directory_iterator(keeper_directory)) {
        const std::string name = entry.path().filename().string();
        state.records[name] = name.ends_with(".lock") ? "" : ReadFile(entry.path());
      }
    }
    return state;
  }
};

// What differs from `before`, or "" (fds, mounts, threads, records, children).
std::string Leaks(const ProcessState& before, const std::string& keeper_directory) {
  // A thread that was asked to end may take a moment to be gone.
  ProcessState after;
  for (int i = 0; i < 200; ++i) {
    after = ProcessState::Now(keeper_directory);
    if (after.threads <= before.threads) break;
    std::this_thread::sleep_for(5ms);
  }
  std::string leaks;
  for (const auto& [fd, what] : after.fds) {
    if (!before.fds.contains(fd)) leaks += "fd " + std::to_string(fd) + " (" + what + "); ";
  }
  if (after.mounts != before.mounts) leaks += "the mount table changed; ";
  if (after.threads != before.threads) {
    leaks += std::to_string(after.threads - before.threads) + " more threads; ";
  }
  if (after.records != before.records) leaks += "the keeper directory changed; ";
  siginfo_t child{};
  if (::waitid(P_ALL, 0, &child, WEXITED | WNOHANG | WNOWAIT) == 0) {
    leaks += "a child process (pid " + std::to_string(child.si_pid) + "); ";
  }
  return leaks;
}

struct Operation {
  std::string name;
  std::function<Result<void>()> run;
  // After every run, failed or not (stopping the factory, a keeper).
  std::function<void()> reset = [] {};
  // Also inject into the sandbox setup process (a fresh exec of this binary,
  // armed through kEnvironmentVariable).
  bool has_setup_process = false;
  // Also inject into the template keeper (a fresh exec of this binary that
  // the run starts, armed the same way).
  bool has_keeper_process = false;
  std::string keeper_directory;
  // For the keeper's injection points (has_keeper_process), when set: the
  // keeper outlives the run, as it does for real callers, and is left to end
  // by itself (the run passes this idle time), whatever failed in it: it must
  // be gone within keeper_idle + kKeeperSlack (no orphaned keeper) and leave
  // keeper_directory as it was (no stale record, no lock file). The run is
  // followed by reset_leaving_keeper then, not by reset.
  std::chrono::seconds keeper_idle{0};
  std::function<void()> reset_leaving_keeper = [] {};
  // Points ("fork (setup process)": the call's name, and where) at which a
  // success is a bug: the run must return the failure there.
  std::set<std::string> never_absorbed;
  // An operation that reports any failure under its own name, by contract
  // (StatmountByPath: "stat PATH", as its header says; the StatmountByFd
  // emulation: "statmount fd N (STATMOUNT_BY_FD)", the error the native call
  // gives), so that the errno is named once with the path.
  std::string own_name;
};

struct Figures {
  std::size_t points = 0;      // runs in which the armed call failed
  std::size_t propagated = 0;  // ... and the operation returned that failure
  std::size_t absorbed = 0;    // ... and the operation succeeded regardless
  std::size_t after_the_run = 0;  // ... in the keeper, once the run had returned
  std::set<std::string> absorbed_at;
};

void WriteSummary(const std::string& operation, const Figures& figures) {
  const std::string line = "fault injection: " + operation + ": " + std::to_string(figures.points) +
                           " injection points, " + std::to_string(figures.propagated) +
                           " returned as the injected Error, " + std::to_string(figures.absorbed) +
                           " absorbed by design";
  std::printf("%s\n", line.c_str());
  if (figures.after_the_run > 0) {
    std::printf("  %s: %zu of the keeper's points failed after the run had returned (its idle wait and exit)\n",
                operation.c_str(), figures.after_the_run);
  }
  // The build directory is root's: the walks as uid 65534 (which keep the
  // saved uid 0, AsUid65534KeepingRoot) write as root, or their figures
  // would be missing from the summary.
  const uid_t euid = ::geteuid();
  const int dumpable = ::prctl(PR_GET_DUMPABLE);
  const bool as_root_again = euid != 0 && ::seteuid(0) == 0;
  std::error_code ec;
  std::filesystem::create_directories(MNTNS_HARDENING_DIR, ec);
  std::ofstream summary(std::string(MNTNS_HARDENING_DIR) + "/fault-injection.summary", std::ios::app);
  summary << line << "\n" << std::flush;
  EXPECT_TRUE(summary.good()) << "could not write " << MNTNS_HARDENING_DIR << "/fault-injection.summary";
  summary.close();
  if (as_root_again) {
    EXPECT_EQ(::seteuid(euid), 0) << std::strerror(errno);
    ::prctl(PR_SET_DUMPABLE, dumpable);  // a uid change clears it
  }
}

// A run that does not end is a failure too (a lost wakeup after a failed
// call): SIGALRM then names the injection point and ends the test process.
char hung_at[512];
constexpr unsigned kSecondsPerRun = 60;

void ReportHang(int) {
  static_cast<void>(::write(STDERR_FILENO, hung_at, std::strlen(hung_at)));
  ::_exit(1);
}

void ArmDeadline(const std::string& what) {
  std::snprintf(hung_at, sizeof hung_at, "FAILED: %s did not return within %u s\n", what.c_str(), kSecondsPerRun);
  ::signal(SIGALRM, ReportHang);
  ::alarm(kSecondsPerRun);
}

// How long past its idle time a keeper may take to notice and leave.
constexpr std::chrono::seconds kKeeperSlack{10};

// The processes but this one that hold `directory` open: the keepers
// started for it, recorded or not, named or not, and no other test's.
std::vector<pid_t> OwnKeepers(const std::string& directory) {
  std::vector<pid_t> keepers;
  // Processes end while this looks (their fd directories go): every step
  // takes an error_code, none throws.
  std::error_code ec;
  for (std::filesystem::directory_iterator process("/proc", ec), end; !ec && process != end; process.increment(ec)) {
    const std::string pid = process->path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos || std::stoi(pid) == ::getpid()) continue;
    std::error_code fd_ec;
    for (std::filesystem::directory_iterator fd(process->path() / "fd", fd_ec); !fd_ec && fd != end;
         fd.increment(fd_ec)) {
      std::error_code link_ec;
      if (std::filesystem::read_symlink(fd->path(), link_ec) == directory) {
        keepers.push_back(std::stoi(pid));
        break;
      }
    }
  }
  return keepers;
}

// Whether `directory` holds a keeper's record (not its lock file or draft).
bool HasRecord(const std::string& directory) {
  std::error_code ec;
  for (std::filesystem::directory_iterator entry(directory, ec), end; !ec && entry != end; entry.increment(ec)) {
    const std::string name = entry->path().filename();
    if (name.find('.') == std::string::npos) return true;
  }
  return false;
}

// Waits until no keeper of `directory` is left; "" then, else which ones
// outlived `deadline` (they are killed).
std::string AwaitOwnKeepersEnd(const std::string& directory, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::vector<pid_t> left = OwnKeepers(directory);
  while (!left.empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    left = OwnKeepers(directory);
  }
  std::string orphans;
  for (pid_t pid : left) {
    orphans += "keeper " + std::to_string(pid) + " still there " + std::to_string(deadline.count()) + " s on; ";
    ::kill(pid, SIGKILL);
  }
  return orphans;
}

// One failing run: the armed failure happened (else false). Records a test
// failure for a wrong Error or anything left behind.
bool CheckOneInjection(const Operation& op, const ProcessState& before, Call call, std::size_t nth,
                       const std::string& in_process, Figures& figures, const std::function<bool()>& triggered) {
  const std::string where = std::string(sys::fault::CallName(call)) + " #" + std::to_string(nth) +
                            (in_process.empty() ? "" : " in the " + in_process);
  ArmDeadline(op.name + " with " + where + " failing");
  auto result = op.run();
  ::alarm(0);
  sys::fault::Disarm();
  bool failed = false;
  if (in_process == "keeper" && op.keeper_idle > 0s) {
    // A keeper that got as far as its record lives on after the run and must
    // remove its record and lock file itself, whatever failed in it and
    // whenever. One that failed before (the run fails, or takes the slow
    // path) leaves its starter's lock file, as at the client's own points
    // (callers reuse it): reset removes that.
    const bool recorded = HasRecord(op.keeper_directory);
    op.reset_leaving_keeper();
    const bool during_the_run = triggered();
    EXPECT_EQ(AwaitOwnKeepersEnd(op.keeper_directory, op.keeper_idle + kKeeperSlack), "") << op.name << ", " << where;
    const bool after_the_run = triggered();
    failed = during_the_run || after_the_run;
    if (after_the_run && !during_the_run) ++figures.after_the_run;
    if (!recorded) op.reset();
  } else {
    op.reset();
    failed = triggered();
  }
  if (!failed) return false;
  ++figures.points;
  if (result) {
    // A waitpid(pid) of a child that exists fails for real only where SIGCHLD
    // is ignored, and the kernel then reaps the child itself: the zombie that
    // an injected failure leaves is the injection's own.
    if (call == Call::kWaitpid || call == Call::kWaitid) {
      siginfo_t child{};
      while (::waitid(P_ALL, 0, &child, WEXITED | WNOHANG) == 0 && child.si_pid != 0) child = {};
    }
    ++figures.absorbed;
    const std::string at =
        std::string(sys::fault::CallName(call)) + (in_process.empty() ? "" : " (" + in_process + ")");
    figures.absorbed_at.insert(at);
    EXPECT_FALSE(op.never_absorbed.contains(at)) << op.name << ", " << where << ": the run succeeded";
  } else {
    ++figures.propagated;
    const Error& error = result.error();
    EXPECT_EQ(error.code, kInjected) << op.name << ", " << where << ": " << error.Message();
    EXPECT_TRUE(error.operation.starts_with(sys::fault::CallName(call)) ||
                (!op.own_name.empty() && error.operation == op.own_name))
        << op.name << ", " << where << ": " << error.Message();
    EXPECT_FALSE(error.argument.empty() && call != Call::kSignalfd && call != Call::kPrctl)
        << op.name << ", " << where << ": no argument in " << error.Message();
  }
  const std::string leaks = Leaks(before, op.keeper_directory);
  EXPECT_EQ(leaks, "") << op.name << ", " << where;
  ArmDeadline(op.name + " after " + where);
  auto next = op.run();
  ::alarm(0);
  op.reset();
  EXPECT_TRUE(next.has_value()) << op.name << ", after " << where << ": the next call failed: "
                                << (next ? "" : next.error().Message());
  return true;
}

// How many failing injection points one operation may show before its walk
// stops: each is reported, the rest of the walk goes on past it (so a failure
// does not hide the ones after it), but a broken seam would otherwise print a
// failure for every point.
constexpr int kMostFailingPoints = 10;

int FailuresSoFar() {
  const ::testing::TestResult* result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
  int failures = 0;
  for (int i = 0; i < result->total_part_count(); ++i) failures += result->GetTestPartResult(i).failed() ? 1 : 0;
  return failures;
}

// A thread that was joined may still show in /proc/self/task for a moment:
// the state to compare with is the one that stays.
ProcessState SettledState(const std::string& keeper_directory) {
  ProcessState state = ProcessState::Now(keeper_directory);
  for (int same = 0, i = 0; same < 3 && i < 200; ++i) {
    std::this_thread::sleep_for(5ms);
    ProcessState now = ProcessState::Now(keeper_directory);
    same = now.threads == state.threads ? same + 1 : 0;
    state = std::move(now);
  }
  return state;
}

// After a failing point, what it left behind is the state the later points
// are compared with: each point reports only what it left itself. Zombies it
// left are reaped (a live child stays, and shows again).
void RebaseAfterFailure(ProcessState& before, const std::string& keeper_directory) {
  siginfo_t child{};
  while (::waitid(P_ALL, 0, &child, WEXITED | WNOHANG) == 0 && child.si_pid != 0) child = {};
  before = SettledState(keeper_directory);
}

void Walk(const Operation& op) {
  // A pipe whose write end the setup process inherits: it writes a byte there
  // when its armed call fails.
  int marks[2] = {-1, -1};
  ASSERT_EQ(::pipe2(marks, O_NONBLOCK), 0);
  ::fcntl(marks[0], F_SETFD, FD_CLOEXEC);
  auto first = op.run();
  op.reset();
  ASSERT_TRUE(first.has_value()) << op.name << ": " << first.error().Message();
  ProcessState before = SettledState(op.keeper_directory);

  sys::fault::Arm(Call::kOpen, 0, 0);
  auto counted = op.run();
  sys::fault::Disarm();
  op.reset();
  ASSERT_TRUE(counted.has_value()) << op.name << ": " << counted.error().Message();
  const auto counts = sys::fault::Counts();

  Figures figures;
  int failing_points = 0;
  // One point; whether the walk of this call kind goes on (the armed call
  // failed, and the walk has not failed too often). A point that recorded a
  // failure counts as failing, also where the armed call never failed (a
  // keeper that outlived its idle time).
  const auto walk_point = [&](Call call, std::size_t nth, const std::string& in_process,
                             const std::function<bool()>& triggered) {
    const int failures = FailuresSoFar();
    const bool happened = CheckOneInjection(op, before, call, nth, in_process, figures, triggered);
    if (FailuresSoFar() != failures && ++failing_points < kMostFailingPoints) {
      RebaseAfterFailure(before, op.keeper_directory);
    }
    return happened && failing_points < kMostFailingPoints;
  };
  for (std::size_t i = 0; i < kCalls && failing_points < kMostFailingPoints; ++i) {
    if (counts[i] == 0) continue;
    const Call call = static_cast<Call>(i);
    for (std::size_t nth = 1; nth < kMostCallsOfAKind; ++nth) {
      sys::fault::Arm(call, nth, kInjected);
      if (!walk_point(call, nth, "", [] { return sys::fault::Triggered(); })) break;
    }
  }
  // The other processes, each armed alone: the setup process (and what it
  // forks), the keeper (a setup or a caller may start one).
  std::vector<std::pair<std::string, sys::fault::Target>> processes;
  if (op.has_setup_process) processes.emplace_back("setup process", sys::fault::Target::kNotTheKeeper);
  if (op.has_keeper_process) processes.emplace_back("keeper", sys::fault::Target::kKeeperOnly);
  for (const auto& [in_process, target] : processes) {
    for (std::size_t i = 0; i < kCalls && failing_points < kMostFailingPoints; ++i) {
      const Call call = static_cast<Call>(i);
      for (std::size_t nth = 1; nth < kMostCallsOfAKind; ++nth) {
        const std::string arming = sys::fault::FormatArming(
            {.call = call, .nth = nth, .error = kInjected, .marker_fd = marks[1], .target = target});
        ::setenv(sys::fault::kEnvironmentVariable, arming.c_str(), 1);
        const auto triggered = [&] {
          char mark;
          bool any = false;
          while (::read(marks[0], &mark, 1) == 1) any = true;
          ::unsetenv(sys::fault::kEnvironmentVariable);
          return any;
        };
        if (!walk_point(call, nth, in_process, triggered)) break;
      }
    }
  }
  if (failing_points >= kMostFailingPoints) {
    ADD_FAILURE() << op.name << ": the walk stopped after " << kMostFailingPoints << " failing injection points";
  }
  ::close(marks[0]);
  ::close(marks[1]);
  EXPECT_GT(figures.points, 0u) << op.name << " made no system call through src/sys";
  WriteSummary(op.name, figures);
  std::string absorbed;
  for (const std::string& at : figures.absorbed_at) absorbed += at + " ";
  if (!absorbed.empty()) std::printf("  %s: absorbed at: %s\n", op.name.c_str(), absorbed.c_str());
}


// ---- queries --------------------------------------------------------------------

TEST(FaultInjectionWalk, ListMountsWithEachBackendAndNamespaceReference) {
  InPrivateMountNamespace([] {
    const std::vector<std::pair<std::string, std::pair<NamespaceRef, Backend>>> cases = {
        {"ListMounts(caller, listmount)", {NamespaceRef::Caller(), Backend::kListmount}},
        {"ListMounts(caller, mountinfo)", {NamespaceRef::Caller(), Backend::kMountinfo}},
        {"ListMounts(pid, listmount)", {NamespaceRef::ByPid(::getpid()), Backend::kListmount}},
        {"ListMounts(pid, mountinfo)", {NamespaceRef::ByPid(::getpid()), Backend::kMountinfo}},
        {"ListMounts(file, listmount)", {NamespaceRef::ByFile("/proc/self/ns/mnt"), Backend::kListmount}},
    };
    for (const auto& [name, ref_backend] : cases) {
      const auto& [ref, backend] = ref_backend;
      Walk({.name = name, .run = [ref, backend]() -> Result<void> {
              auto mounts = ListMounts(ref, {.mask = field::kAll, .backend = backend});
              if (!mounts) return std::unexpected(mounts.error());
              return kOk;
            }});
    }
  });
}

TEST(FaultInjectionWalk, ForEachMountBlockOnItsReadingThreads) {
  InPrivateMountNamespace([] {
    Walk({.name = "ForEachMountBlock", .run = []() -> Result<void> {
            auto blocks = ForEachMountBlock({}, {.mask = field::kAll, .backend = Backend::kListmount}, 2,
                                            [](std::size_t, std::span<const Mount>) -> Result<void> { return kOk; });
            if (!blocks) return std::unexpected(blocks.error());
            return kOk;
          }});
  });
}

TEST(FaultInjectionWalk, StatmountByIdAndByPath) {
  InPrivateMountNamespace([] {
    auto root = StatmountByPath("/", {.mask = field::kMntBasic});
    ASSERT_TRUE(root.has_value()) << root.error().Message();
    const std::uint64_t id = root->id;
    Walk({.name = "StatmountById", .run = [id]() -> Result<void> {
            auto mount = StatmountById(id);
            if (!mount) return std::unexpected(mount.error());
            return kOk;
          }});
    Walk({.name = "StatmountByPath",
          .run = []() -> Result<void> {
            auto mount = StatmountByPath("/proc");
            if (!mount) return std::unexpected(mount.error());
            return kOk;
          },
          .own_name = "stat"});
  });
}

TEST(FaultInjectionWalk, StatmountByFdOnAttachedAndDetachedMounts) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir();
    ASSERT_TRUE(testing::MountTmpfs(dir));
    const int attached = ::open(dir.c_str(), O_PATH | O_CLOEXEC);
    ASSERT_GE(attached, 0);
    const int detached = static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, dir.c_str(),
                                                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    ASSERT_GE(detached, 0);
    Walk({.name = "StatmountByFd(attached)",
          .run = [attached]() -> Result<void> {
            auto mount = StatmountByFd(attached);
            if (!mount) return std::unexpected(mount.error());
            return kOk;
          },
          .own_name = KernelFeatures().statmount_by_fd ? "" : "statmount"});
    // A detached tree of one mount: 7.2's BY_FD fails ENOENT there, and the
    // native path derives the answer from the fd as the emulation does, under
    // the call's own name on both kernels.
    Walk({.name = "StatmountByFd(detached)",
          .run = [detached]() -> Result<void> {
            auto mount = StatmountByFd(detached);
            if (!mount) return std::unexpected(mount.error());
            return kOk;
          },
          .own_name = "statmount"});
    ::close(detached);
    ::close(attached);
  });
}

// ---- watching -------------------------------------------------------------------

// A watcher opened, a mount made and removed by the test (raw calls, never
// failed), and the event of the mount read: fanotify's read and statmount,
// or the mountinfo re-read.
TEST(FaultInjectionWalk, MountWatcherWithEachBackendSeesAMount) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir();
    for (const auto& [name, backend] : {std::pair{"fanotify", WatchBackend::kFanotify},
                                        std::pair{"mountinfo", WatchBackend::kMountinfo}}) {
      if (backend == WatchBackend::kFanotify && !KernelFeatures().fanotify_mount_events) {
        std::printf("MountWatcher(fanotify) not walked: this kernel has no fanotify mount events (6.15)\n");
        continue;
      }
      Walk({.name = std::string("MountWatcher(") + name + ")", .run = [dir, backend]() -> Result<void> {
              auto watcher = MountWatcher::Open({}, {.backend = backend});
              if (!watcher) return std::unexpected(watcher.error());
              if (::mount("walk", dir.c_str(), "tmpfs", 0, nullptr) != 0) {
                return MakeError(errno, "mount (test)", dir);
              }
              auto events = watcher->Next(0);
              ::umount2(dir.c_str(), MNT_DETACH);
              if (!events) return std::unexpected(events.error());
              if (events->empty()) return MakeError(EIO, "MountWatcher::Next (test)", "no event for the mount");
              return kOk;
            }});
    }
  });
}

// ---- namespaces -----------------------------------------------------------------

std::vector<NamespaceStrategy> EmulatedAndNativeStrategies(NamespaceOperation operation) {
  std::vector<NamespaceStrategy> strategies = {NamespaceStrategy::kTemplate, NamespaceStrategy::kClassic};
  if (ResolveStrategy(operation, NamespaceStrategy::kAuto) == NamespaceStrategy::kNative) {
    strategies.push_back(NamespaceStrategy::kNative);
  }
  return strategies;
}

TEST(FaultInjectionWalk, OpenTreeNamespaceWithEachStrategy) {
  InPrivateMountNamespace([] {
    const std::string dir = TempDir();
    ASSERT_TRUE(testing::MountTmpfs(dir));
    ASSERT_TRUE(testing::MakeDirs(dir + "/sub"));
    ASSERT_TRUE(testing::MountTmpfs(dir + "/sub"));
    for (NamespaceStrategy strategy : EmulatedAndNativeStrategies(NamespaceOperation::kOpenTreeNamespace)) {
      Walk({.name = "OpenTreeNamespace(" + std::string(StrategyName(strategy)) + ")",
            .run = [dir, strategy]() -> Result<void> {
              auto ns = OpenTreeNamespace(AT_FDCWD, dir, AT_RECURSIVE, {.strategy = strategy});
              if (!ns) return std::unexpected(ns.error());
              return kOk;
            },
            .reset = [] { StopNamespaceFactory(); }});
    }
  });
}

TEST(FaultInjectionWalk, FsmountNamespaceWithEachStrategy) {
  InPrivateMountNamespace([] {
    for (NamespaceStrategy strategy : EmulatedAndNativeStrategies(NamespaceOperation::kFsmountNamespace)) {
      Walk({.name = "FsmountNamespace(" + std::string(StrategyName(strategy)) + ")",
            .run = [strategy]() -> Result<void> {
              // The context is the caller's input, made with the seam's calls too.
              auto fs = FsContext::Open("tmpfs");
              if (!fs) return std::unexpected(fs.error());
              if (auto r = fs->SetString("size", "1m"); !r) return r;
              if (auto r = fs->Create(); !r) return r;
              auto ns = FsmountNamespace(fs->fd(), 0, MOUNT_ATTR_NODEV, {.strategy = strategy});
              if (!ns) return std::unexpected(ns.error());
              return kOk;
            },
            .reset = [] { StopNamespaceFactory(); }});
    }
  });
}

// ---- empty namespaces ---------------------------------------------------------------

TEST(FaultInjectionWalk, EmptyMountNamespaceWithEachStrategy) {
  InPrivateMountNamespace([] {
    for (NamespaceStrategy strategy : EmulatedAndNativeStrategies(NamespaceOperation::kEmptyMountNamespace)) {
      Walk({.name = "EmptyMountNamespace(" + std::string(StrategyName(strategy)) + ")",
            .run = [strategy]() -> Result<void> {
              auto ns = EmptyMountNamespace({.strategy = strategy});
              if (!ns) return std::unexpected(ns.error());
              return kOk;
            },
            .reset = [] { StopNamespaceFactory(); }});
    }
  });
}

TEST(FaultInjectionWalk, UnshareEmptyMountNamespaceOnAThreadWithEachStrategy) {
  InPrivateMountNamespace([] {
    for (NamespaceStrategy strategy : EmulatedAndNativeStrategies(NamespaceOperation::kEmptyMountNamespace)) {
      Walk({.name = "UnshareEmptyMountNamespace(" + std::string(StrategyName(strategy)) + ", on a thread)",
            .run = [strategy]() -> Result<void> {
              // The thread's namespace goes with the thread; the caller's
              // table must be what it was whether the call failed or not.
              Result<void> result = kOk;
              std::thread([&result, strategy] { result = UnshareEmptyMountNamespace({.strategy = strategy}); })
                  .join();
              return result;
            },
            .reset = [] { StopNamespaceFactory(); }});
    }
  });
}

TEST(FaultInjectionWalk, ForkIntoEmptyMountNamespaceWithEachStrategy) {
  InPrivateMountNamespace([] {
    for (NamespaceStrategy strategy : EmulatedAndNativeStrategies(NamespaceOperation::kEmptyMountNamespace)) {
      for (const std::uint64_t flags : {std::uint64_t{0}, std::uint64_t{CLONE_NEWUSER}}) {
        Walk({.name = "ForkIntoEmptyMountNamespace(" + std::string(StrategyName(strategy)) +
                      (flags != 0 ? ", CLONE_NEWUSER)" : ")"),
              .run = [strategy, flags]() -> Result<void> {
                auto child = ForkIntoEmptyMountNamespace(flags, {.strategy = strategy});
                if (!child) return std::unexpected(child.error());
                if (child->pid == 0) ::_exit(0);
                siginfo_t info{};
                if (::waitid(P_PIDFD, static_cast<id_t>(child->pidfd.Get()), &info, WEXITED) != 0) {
                  return MakeError(errno, "waitid (test)", "the empty-namespace child");
                }
                if (info.si_code != CLD_EXITED || info.si_status != 0) {
                  return MakeError(EIO, "the empty-namespace child (test)", std::to_string(info.si_status));
                }
                return kOk;
              },
              .reset = [] { StopNamespaceFactory(); }});
      }
    }
  });
}

// ---- the keeper -------------------------------------------------------------------

bool KeeperGone(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z';
}

// Ends the keepers that `directory` records (template-* or rootless-*), and
// removes their files, so that every run starts one.
void EndKeeper(const std::string& directory) {
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("template-") && !name.starts_with("rootless-")) continue;
    std::istringstream record(ReadFile(entry.path()));
    pid_t pid = 0;
    if (record >> pid && pid > 0) {
      ::kill(pid, SIGKILL);
      // Not our child (double fork): wait until it is gone or a zombie.
      for (int i = 0; i < 500 && !KeeperGone(pid); ++i) std::this_thread::sleep_for(2ms);
    }
    std::filesystem::remove(entry.path());
  }
}

// Every run starts a keeper (reset ends it and removes its files). The
// keeper's own points (its exec is armed) let it live on after the run, as
// for a real caller: its idle wait, the record's removal and its exit are
// walked too, and each must still end the keeper in time and leave no file.
TEST(FaultInjectionWalk, ShareTemplateNamespaceStartingItsKeeper) {
  InPrivateMountNamespace([] {
    const std::string directory = TempDir() + "/keeper";
    ASSERT_TRUE(testing::MakeDirs(directory));
    ::chmod(directory.c_str(), 0700);
    Walk({.name = "ShareTemplateNamespace",
          .run = [directory]() -> Result<void> {
            if (auto r = ShareTemplateNamespace({.directory = directory, .idle = 1s}); !r) return r;
            auto ns = OpenTreeNamespace(AT_FDCWD, "/", 0, {.strategy = NamespaceStrategy::kTemplate});
            if (!ns) return std::unexpected(ns.error());
            return kOk;
          },
          .reset = [directory] {
            StopNamespaceFactory();
            EndKeeper(directory);
          },
          .has_keeper_process = true,
          .keeper_directory = directory,
          .keeper_idle = 1s,
          .reset_leaving_keeper = [] { StopNamespaceFactory(); }});
  });
}

// A client's use of a live keeper: the record is found, the keeper proven and
// its namespace adopted. A failed run must neither start another keeper nor
// replace the record (its text is compared), and the keeper must stay usable.
// The keeper itself makes no call while a client adopts it (the client reads
// the record and opens /proc/KEEPER/ns/mnt); what it calls while it lives,
// its idle wait and its exit, is walked with the keeper armed in
// ShareTemplateNamespaceStartingItsKeeper.
TEST(FaultInjectionWalk, ShareTemplateNamespaceAdoptingALiveKeeper) {
  InPrivateMountNamespace([] {
    const std::string directory = TempDir() + "/keeper";
    ASSERT_TRUE(testing::MakeDirs(directory));
    ::chmod(directory.c_str(), 0700);
    ASSERT_TRUE(ShareTemplateNamespace({.directory = directory, .idle = 600s}).has_value());
    StopNamespaceFactory();
    Walk({.name = "ShareTemplateNamespace(a live keeper)",
          .run = [directory]() -> Result<void> {
            if (auto r = ShareTemplateNamespace({.directory = directory, .idle = 600s}); !r) return r;
            auto ns = OpenTreeNamespace(AT_FDCWD, "/", 0, {.strategy = NamespaceStrategy::kTemplate});
            if (!ns) return std::unexpected(ns.error());
            return kOk;
          },
          .reset = [] { StopNamespaceFactory(); },
          .keeper_directory = directory});
    EndKeeper(directory);
  });
}

// ---- the sandbox -------------------------------------------------------------------

// What CMD needs inside a sandbox whose root is not the host's: the library
// directories and this binary (run as /probe, which runs no test).
std::vector<SandboxMount> ProbeMounts() {
  std::vector<SandboxMount> mounts;
  const std::vector<std::string> args = testing::ProbeBinds();
  for (std::size_t i = 0; i + 2 < args.size(); i += 3) {
    SandboxMount mount;
    mount.kind = args[i] == "--symlink" ? SandboxMount::Kind::kSymlink : SandboxMount::Kind::kBind;
    mount.read_only = true;
    mount.source = args[i + 1];
    mount.dest = args[i + 2];
    mounts.push_back(mount);
  }
  return mounts;
}

// Waits for a started sandbox: an Error unless CMD exited 0.
Result<void> AwaitCmd(SandboxProcess& process) {
  auto status = WaitSandbox(process);
  if (!status) return std::unexpected(status.error());
  if (*status != 0) return MakeError(EIO, "sandbox CMD", "exit status " + std::to_string(*status));
  return kOk;
}

Result<void> RunSandbox(const SandboxSpec& spec) {
  auto process = StartSandbox(spec);
  if (!process) return std::unexpected(process.error());
  return AwaitCmd(*process);
}

TEST(FaultInjectionWalk, StartSandboxWithEveryMountKindAndNamespace) {
  InPrivateMountNamespace([] {
    const std::string host = TempDir();
    ASSERT_TRUE(testing::MakeDirs(host + "/data"));
    ASSERT_TRUE(testing::MakeDirs(host + "/lower"));
    std::ofstream(host + "/data/file") << "walk";
    SandboxSpec spec;
    spec.mounts = ProbeMounts();
    auto add = [&spec](SandboxMount mount) { spec.mounts.push_back(std::move(mount)); };
    add({.kind = SandboxMount::Kind::kBind, .source = host + "/data", .dest = "/data"});
    add({.kind = SandboxMount::Kind::kBind, .source = host + "/missing", .dest = "/missing", .optional = true});
    add({.kind = SandboxMount::Kind::kTmpfs, .dest = "/tmp", .size = 1 << 20, .perms = 0700});
    add({.kind = SandboxMount::Kind::kProc, .dest = "/proc"});
    add({.kind = SandboxMount::Kind::kDev, .dest = "/dev"});
    add({.kind = SandboxMount::Kind::kDir, .dest = "/made/deep", .perms = 0750});
    add({.kind = SandboxMount::Kind::kSymlink, .source = "/made", .dest = "/link"});
    add({.kind = SandboxMount::Kind::kFile, .dest = "/made/file", .perms = 0640, .data = "walk"});
    add({.kind = SandboxMount::Kind::kChmod, .dest = "/made/file", .perms = 0600});
    add({.kind = SandboxMount::Kind::kBindData, .dest = "/made/data", .data = "walk"});
    add({.kind = SandboxMount::Kind::kBind, .source = host + "/data/file", .dest = "/made/bound-file"});
    add({.kind = SandboxMount::Kind::kRemountRo, .dest = "/data"});
    add({.kind = SandboxMount::Kind::kOverlay, .dest = "/overlay", .layers = {host + "/lower"},
         .overlay_upper = SandboxMount::OverlayUpper::kTmpfs});
    spec.env = {{.kind = SandboxEnvChange::Kind::kSet, .name = "MNTNS_WALK", .value = "1"},
                {.kind = SandboxEnvChange::Kind::kUnset, .name = "HOME"}};
    spec.chdir = "/tmp";
    spec.unshare_pid = true;
    spec.unshare_net = true;
    spec.unshare_uts = true;
    spec.unshare_ipc = true;
    spec.hostname = "walk";
    spec.die_with_parent = true;
    // Held by the sandbox's pid 1 (a pid namespace): open, fcntl(F_SETLK).
    spec.lock_files = {"/data/file"};
    spec.new_session = true;
    spec.argv = {"/probe", "--gtest_filter=-*"};
    Walk({.name = "StartSandbox(tmpfs root, every mount kind, pid/net/uts/ipc, --lock-file, --new-session)",
          .run = [spec] { return RunSandbox(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true});
  });
}

TEST(FaultInjectionWalk, StartSandboxOfAHostDirectoryInAUserNamespace) {
  InPrivateMountNamespace([] {
    const std::string root = TempDir() + "/root";
    ASSERT_TRUE(testing::MakeDirs(root));
    SandboxSpec spec;
    spec.root = root;
    spec.mounts = ProbeMounts();
    spec.unshare_user = true;
    spec.uid = 1000;
    spec.gid = 1000;
    spec.argv = {"/probe", "--gtest_filter=-*"};
    Walk({.name = "StartSandbox(host root, user namespace)",
          .run = [spec] { return RunSandbox(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true});
  });
}

// One instruction, SECCOMP_RET_ALLOW: a --seccomp program CMD runs under.
std::string AllowEverySyscallProgram() {
  const sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  return std::string(reinterpret_cast<const char*>(&allow), sizeof allow);
}

// Runs `spec` with a --block-fd that has its byte: a pipe made for the run
// (closed after it, so that a failed run leaves no fd of it).
Result<void> RunSandboxWithBlockFd(SandboxSpec spec) {
  int unblock[2];
  if (::pipe2(unblock, O_CLOEXEC) != 0) return MakeError(errno, "pipe2", "the --block-fd pipe");
  static_cast<void>(::write(unblock[1], "x", 1));
  spec.block_fd = unblock[0];
  auto result = RunSandbox(spec);
  ::close(unblock[0]);
  ::close(unblock[1]);
  return result;
}

// The options the other sandbox walks leave out: a cgroup namespace, CMD as
// pid 1, its argv[0], a seccomp program, a capability set, --block-fd and
// the --info-fd status.
TEST(FaultInjectionWalk, StartSandboxAsPid1WithSeccompCapabilitiesBlockFdAndStatus) {
  InPrivateMountNamespace([] {
    SandboxSpec spec;
    spec.mounts = ProbeMounts();
    spec.unshare_pid = true;
    spec.as_pid_1 = true;
    spec.unshare_cgroup = true;
    spec.argv0 = "walk";
    spec.seccomp_programs = {AllowEverySyscallProgram()};
    spec.capabilities = (std::uint64_t{1} << CAP_CHOWN) | (std::uint64_t{1} << CAP_NET_BIND_SERVICE);
    spec.report_status = true;
    spec.argv = {"/probe", "--gtest_filter=-*"};
    Walk({.name = "StartSandbox(--as-pid-1, --unshare-cgroup, --argv0, --seccomp, --cap-add, --block-fd, --info-fd)",
          .run = [spec] { return RunSandboxWithBlockFd(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true});
  });
}

// A user namespace in which CMD may create none, asserted before exec, and
// CMD keeping what that namespace gives it.
TEST(FaultInjectionWalk, StartSandboxWithUserNamespacesDisabledAndAsserted) {
  InPrivateMountNamespace([] {
    SandboxSpec spec;
    spec.mounts = ProbeMounts();
    spec.unshare_user = true;
    spec.disable_userns = true;
    spec.assert_userns_disabled = true;
    spec.keep_capabilities = true;
    spec.argv = {"/probe", "--gtest_filter=-*"};
    // The assertion's check forks a child that tries unshare(CLONE_NEWUSER):
    // its failing unshare means "disabled" (any errno, as with bwrap), but a
    // check that could not run (fork, waitpid) proves nothing.
    Walk({.name = "StartSandbox(--unshare-user, --disable-userns, --assert-userns-disabled, keeping capabilities)",
          .run = [spec] { return RunSandbox(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true,
          .never_absorbed = {"fork (setup process)", "waitpid (setup process)"}});
  });
}

// A user namespace with ids 0-1999 mapped to the same ids outside, held by
// an fd only (its process is gone): -1 when it cannot be made. Not
// close-on-exec: the sandbox setup, a fresh exec, inherits it.
int HeldUserNamespace() {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWUSER) != 0) ::_exit(1);
    static_cast<void>(::write(ready[1], "x", 1));
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte;
  const bool started = child > 0 && ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  int fd = -1;
  bool mapped = started;
  if (started) {
    for (const char* map : {"uid_map", "gid_map"}) {
      std::ofstream file("/proc/" + std::to_string(child) + "/" + map);
      file << "0 0 2000\n" << std::flush;
      mapped = mapped && file.good();
    }
    // Not close-on-exec: as a caller's --userns fd, it crosses the setup's exec.
    if (mapped) fd = ::open(("/proc/" + std::to_string(child) + "/ns/user").c_str(), O_RDONLY);
  }
  if (child > 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  return fd;
}

// A pid namespace held by an fd, and its pid 1 (a grandchild that pauses:
// not our child, so that the walk's child check does not see it; a pid
// namespace whose init is gone takes no more processes). {-1, -1} when it
// cannot be made.
std::pair<int, pid_t> HeldPidNamespace() {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return {-1, -1};
  const pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWPID) != 0) ::_exit(1);
    const pid_t init = ::fork();
    if (init == 0) {
      ::pause();
      ::_exit(0);
    }
    static_cast<void>(::write(ready[1], &init, sizeof init));
    ::_exit(init > 0 ? 0 : 1);
  }
  ::close(ready[1]);
  pid_t init = -1;
  if (child < 0 || ::read(ready[0], &init, sizeof init) != sizeof init) init = -1;
  ::close(ready[0]);
  if (child > 0) ::waitpid(child, nullptr, 0);
  if (init <= 0) return {-1, -1};
  // Not close-on-exec: as a caller's --pidns fd, it crosses the setup's exec.
  const int fd = ::open(("/proc/" + std::to_string(init) + "/ns/pid").c_str(), O_RDONLY);
  if (fd < 0) ::kill(init, SIGKILL);
  return {fd, fd < 0 ? -1 : init};
}

// --pidns (with a pid namespace of its own nested inside) and --userns2: the
// sandbox's processes join both just before CMD starts.
TEST(FaultInjectionWalk, StartSandboxJoiningAPidNamespaceAndASecondUserNamespace) {
  InPrivateMountNamespace([] {
    const auto [pidns, init] = HeldPidNamespace();
    if (pidns < 0) GTEST_SKIP() << "no pid namespace could be held here: " << std::strerror(errno);
    const int userns = HeldUserNamespace();
    if (userns < 0) {
      ::kill(init, SIGKILL);
      GTEST_SKIP() << "no user namespace with id maps could be made here: " << std::strerror(errno);
    }
    SandboxSpec spec;
    spec.mounts = ProbeMounts();
    spec.pidns_fd = pidns;
    spec.unshare_pid = true;
    spec.userns2_fd = userns;
    spec.argv = {"/probe", "--gtest_filter=-*"};
    Walk({.name = "StartSandbox(--pidns, --unshare-pid, --userns2)",
          .run = [spec] { return RunSandbox(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true});
    ::close(userns);
    ::close(pidns);
    ::kill(init, SIGKILL);
  });
}

// --userns-block-fd: the sandbox's user namespace has no id maps until the
// caller writes them at /proc/CHILD_PID/ while the sandbox waits; the run
// writes them (and unblocks it) whatever StartSandbox's status says.
Result<void> RunSandboxWritingItsIdMaps(SandboxSpec spec) {
  int unblock[2];
  if (::pipe2(unblock, O_CLOEXEC) != 0) return MakeError(errno, "pipe2", "the --userns-block-fd pipe");
  spec.userns_block_fd = unblock[0];
  auto process = StartSandbox(spec);
  if (!process) {
    ::close(unblock[0]);
    ::close(unblock[1]);
    return std::unexpected(process.error());
  }
  Result<void> mapped = kOk;
  const std::string proc = "/proc/" + std::to_string(process->status->child_pid);
  for (const auto& [file, map] : {std::pair{"/uid_map", "1000 0 1\n"}, {"/gid_map", "1000 0 1\n"}}) {
    std::ofstream out(proc + file);
    out << map << std::flush;
    if (!out && mapped) mapped = MakeError(EIO, "write", proc + file);
  }
  static_cast<void>(::write(unblock[1], "x", 1));
  ::close(unblock[0]);
  ::close(unblock[1]);
  auto ran = AwaitCmd(*process);
  if (!mapped) return mapped;
  return ran;
}

TEST(FaultInjectionWalk, StartSandboxWhoseIdMapsTheCallerWrites) {
  InPrivateMountNamespace([] {
    SandboxSpec spec;
    spec.mounts = ProbeMounts();
    spec.unshare_user = true;
    spec.report_status = true;
    spec.argv = {"/probe", "--gtest_filter=-*"};
    Walk({.name = "StartSandbox(--unshare-user, --userns-block-fd, --info-fd)",
          .run = [spec] { return RunSandboxWritingItsIdMaps(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true});
  });
}

// --userns FD --uid --gid: the setup joins the namespace (setns), CMD takes
// ids that its maps have (setresgid, setresuid). Without a pid namespace CMD
// itself holds the --lock-file lock across its exec.
TEST(FaultInjectionWalk, StartSandboxInAJoinedUserNamespaceWithUidGidAndALockFile) {
  InPrivateMountNamespace([] {
    const int userns = HeldUserNamespace();
    if (userns < 0) GTEST_SKIP() << "no user namespace with id maps could be made here: " << std::strerror(errno);
    SandboxSpec spec;
    spec.mounts = ProbeMounts();
    spec.userns_fd = userns;
    spec.uid = 1000;
    spec.gid = 1000;
    spec.lock_files = {"/probe"};
    spec.argv = {"/probe", "--gtest_filter=-*"};
    Walk({.name = "StartSandbox(--userns, --uid/--gid, --lock-file)",
          .run = [spec] { return RunSandbox(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true});
    ::close(userns);
  });
}

// ---- rootless: the walk as an unprivileged user -----------------------------------

constexpr uid_t kUser = 65534;
constexpr gid_t kGroup = 65534;

// Runs `body` as uid/gid 65534, in a private mount namespace, with a runtime
// directory of that user's. The saved uid stays 0 so that the test can clean
// up as root: the permitted capabilities stay too, the effective set is
// empty, and what this process execs (the setup, the keeper) has none.
// Dumpable again, as a process of that user is (a uid change clears it, and
// /proc/self would then be root's).
void AsUid65534KeepingRoot(const std::function<void(const std::string& runtime)>& body) {
  InPrivateMountNamespace([&] {
    // Not under TempDir: its parent is root's alone.
    char runtime[] = "/tmp/mntns-fault-walk-XXXXXX";
    ASSERT_NE(::mkdtemp(runtime), nullptr) << std::strerror(errno);
    const std::string records = std::string(runtime) + "/mntns";
    ASSERT_TRUE(testing::MakeDirs(records));
    for (const std::string& dir : {std::string(runtime), records}) {
      ASSERT_EQ(::chown(dir.c_str(), kUser, kGroup), 0) << std::strerror(errno);
      ASSERT_EQ(::chmod(dir.c_str(), 0700), 0) << std::strerror(errno);
    }
    ASSERT_EQ(::setgroups(0, nullptr), 0) << std::strerror(errno);
    ASSERT_EQ(::setresgid(kGroup, kGroup, 0), 0) << std::strerror(errno);
    ASSERT_EQ(::setresuid(kUser, kUser, 0), 0) << std::strerror(errno);
    ASSERT_EQ(::prctl(PR_SET_DUMPABLE, 1), 0) << std::strerror(errno);
    body(runtime);
    ASSERT_EQ(::setresuid(0, 0, 0), 0) << std::strerror(errno);
    ASSERT_EQ(::setresgid(0, 0, 0), 0) << std::strerror(errno);
    std::error_code ec;
    std::filesystem::remove_all(runtime, ec);
  });
}

SandboxSpec UnprivilegedProbeSpec() {
  SandboxSpec spec;
  spec.mounts = ProbeMounts();
  spec.mounts.push_back({.kind = SandboxMount::Kind::kTmpfs, .dest = "/tmp"});
  spec.mounts.push_back({.kind = SandboxMount::Kind::kProc, .dest = "/proc"});
  spec.unshare_user = true;
  spec.unshare_pid = true;
  spec.uid = 1000;
  spec.gid = 1000;
  spec.argv = {"/probe", "--gtest_filter=-*"};
  return spec;
}

// The slow path of an unprivileged `mntns run --unshare-user`: the setup
// copies the caller's table in a user namespace of its own.
TEST(FaultInjectionWalk, StartSandboxAsAnUnprivilegedUserCopyingTheTable) {
  AsUid65534KeepingRoot([](const std::string&) {
    const SandboxSpec spec = UnprivilegedProbeSpec();
    Walk({.name = "StartSandbox(uid 65534, --unshare-user, the slow path)",
          .run = [spec] { return RunSandbox(spec); },
          .reset = [] { StopNamespaceFactory(); },
          .has_setup_process = true});
  });
}

// The rootless fast path: each run starts the per-user keeper (reset ends
// it), whose user namespace, host view and template the setup joins. The
// caller's lookup, the setup and the keeper are walked each on their own;
// a caller whose keeper fails takes the slow path (absorbed by design),
// and the keeper's own points let it end by itself as for the root keeper.
TEST(FaultInjectionWalk, StartSandboxAsAnUnprivilegedUserServedByTheRootlessKeeper) {
  AsUid65534KeepingRoot([](const std::string& runtime) {
    const std::string directory = runtime + "/mntns";
    SandboxSpec spec = UnprivilegedProbeSpec();
    spec.rootless_keeper = TemplateSharingOptions{.directory = directory, .idle = 1s};
    // The fast path serves these runs (else this would walk the slow path
    // again): a keeper is recorded after one.
    ASSERT_TRUE(RunSandbox(spec).has_value());
    const bool recorded = HasRecord(directory);
    StopNamespaceFactory();
    EndKeeper(directory);
    ASSERT_TRUE(recorded) << "no rootless keeper served the run";
    Walk({.name = "StartSandbox(uid 65534, --unshare-user, the rootless keeper)",
          .run = [spec] { return RunSandbox(spec); },
          .reset = [directory] {
            StopNamespaceFactory();
            EndKeeper(directory);
          },
          .has_setup_process = true,
          .has_keeper_process = true,
          .keeper_directory = directory,
          .keeper_idle = 1s,
          .reset_leaving_keeper = [] { StopNamespaceFactory(); }});
  });
}

}  // namespace
}  // namespace mntns
