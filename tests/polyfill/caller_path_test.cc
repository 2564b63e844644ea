// FindAsCaller: open_tree's lookup as another task's own would go, done by
// this process for it (the supervisor's position). The other task is a child
// that holds a directory at an fd number this process does not have open.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "polyfill/internal.h"
#include "support/namespace.h"
#include "sys/process.h"

namespace mntns {
namespace {

constexpr int kChildsFd = 321;  // a number this process leaves unused

// A child holding `dir` open at kChildsFd until the object goes.
class ChildWithADirectory {
 public:
  explicit ChildWithADirectory(const std::string& dir) {
    int ready[2], hold[2];
    if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(hold[1]);
      ::close(ready[0]);
      const int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY);
      const char ok = fd >= 0 && ::dup2(fd, kChildsFd) == kChildsFd ? 1 : 0;
      (void)!::write(ready[1], &ok, 1);
      char byte;
      (void)!::read(hold[0], &byte, 1);  // until the parent's end closes
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    hold_ = hold[1];
    char ok = 0;
    if (pid_ > 0 && ::read(ready[0], &ok, 1) == 1 && ok == 1) ready_ = true;
    ::close(ready[0]);
  }
  ~ChildWithADirectory() {
    if (hold_ >= 0) ::close(hold_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  ChildWithADirectory(const ChildWithADirectory&) = delete;
  ChildWithADirectory& operator=(const ChildWithADirectory&) = delete;

  [[nodiscard]] bool ready() const { return ready_; }
  // Its ids as the supervisor reads them.
  [[nodiscard]] internal::PathOwner Owner() const {
    internal::PathOwner owner;
    auto status = sys::ReadProcStatus(AT_FDCWD, fmt::format("/proc/{}/status", pid_).c_str());
    if (!status) return owner;
    for (const auto id : sys::ProcStatusNumbers(sys::ProcStatusField(*status, "NStgid").value_or(""))) {
      owner.tgids.push_back(static_cast<pid_t>(id));
    }
    for (const auto id : sys::ProcStatusNumbers(sys::ProcStatusField(*status, "NSpid").value_or(""))) {
      owner.tids.push_back(static_cast<pid_t>(id));
    }
    owner.start_time = internal::TaskStartTime(AT_FDCWD, fmt::format("/proc/{}", pid_)).value_or(0);
    return owner;
  }

 private:
  pid_t pid_ = -1;
  int hold_ = -1;
  bool ready_ = false;
};

bool SameFile(int fd, const std::string& path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string Outcome(const Result<UniqueFd>& found, const std::string& expected_path) {
  if (!found) return strerrorname_np(found.error().code);
  return SameFile(found->Get(), expected_path) ? "the directory" : "another file";
}

TEST(FindAsCaller, ProcSelfIsTheOwnersNotTheLookingProcesss) {
  ASSERT_EQ(::fcntl(kChildsFd, F_GETFD), -1) << "fd " << kChildsFd << " is open here";
  const std::string dir = testing::TempDir();
  ChildWithADirectory child(dir);
  ASSERT_TRUE(child.ready());
  const auto owner = child.Owner();
  ASSERT_FALSE(owner.tgids.empty());
  for (const std::string& path : {fmt::format("/proc/self/fd/{}", kChildsFd),
                                 fmt::format("/proc/thread-self/fd/{}", kChildsFd),
                                 fmt::format("/proc/self/root/../../proc/self/fd/{}/.", kChildsFd),
                                 fmt::format("/proc/self/fd/{}/../{}", kChildsFd,
                                             dir.substr(dir.rfind('/') + 1))}) {
    EXPECT_EQ(Outcome(internal::FindAsCaller(AT_FDCWD, path, 0, owner), dir), "the directory") << path;
  }
  // Not following the last symlink: the magic link itself.
  auto link = internal::FindAsCaller(AT_FDCWD, fmt::format("/proc/self/fd/{}", kChildsFd), AT_SYMLINK_NOFOLLOW, owner);
  ASSERT_TRUE(link) << link.error().Message();
  struct stat st {};
  ASSERT_EQ(::fstat(link->Get(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

// A task that procfs's pid namespace does not show has no "self" there (the
// kernel's ENOENT), and an fd it does not have is ENOENT too.
TEST(FindAsCaller, ATaskThisProcfsDoesNotShowHasNoSelf) {
  const internal::PathOwner nobody{{2000000000}, {2000000000}};
  EXPECT_EQ(Outcome(internal::FindAsCaller(AT_FDCWD, "/proc/self/fd/0", 0, nobody), "/"), "ENOENT");
  const std::string dir = testing::TempDir();
  ChildWithADirectory child(dir);
  ASSERT_TRUE(child.ready());
  EXPECT_EQ(Outcome(internal::FindAsCaller(AT_FDCWD, fmt::format("/proc/self/fd/{}", kChildsFd + 1), 0,
                                           child.Owner()), dir),
            "ENOENT");
}

// The owner is its process only where it started when the owner did: a
// process of an outer pid namespace may have the owner's inner pid.
TEST(FindAsCaller, AProcessWithTheOwnersPidButAnotherStartIsNotTheOwner) {
  const std::string dir = testing::TempDir();
  ChildWithADirectory child(dir);
  ASSERT_TRUE(child.ready());
  auto owner = child.Owner();
  ASSERT_NE(owner.start_time, 0u);
  const std::string path = fmt::format("/proc/self/fd/{}", kChildsFd);
  EXPECT_EQ(Outcome(internal::FindAsCaller(AT_FDCWD, path, 0, owner), dir), "the directory");
  owner.start_time += 1;
  EXPECT_EQ(Outcome(internal::FindAsCaller(AT_FDCWD, path, 0, owner), dir), "ENOENT");
}

// The start time counts fields after the last ')': a thread name with
// ") 1 2 3" in it changes nothing.
TEST(TaskStartTime, ReadsFieldTwentyTwoWhateverTheTasksName) {
  std::optional<unsigned long long> before, after;
  std::thread([&] {
    const std::string task = fmt::format("/proc/self/task/{}", ::gettid());
    before = internal::TaskStartTime(AT_FDCWD, task);
    ASSERT_EQ(::prctl(PR_SET_NAME, "x) 1 2 3 4 5 6"), 0);
    after = internal::TaskStartTime(AT_FDCWD, task);
  }).join();
  ASSERT_TRUE(before.has_value());
  EXPECT_GT(*before, 0u);
  EXPECT_EQ(before, after);
  // Field 22 as proc(5) counts it, read here apart: this process's own.
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 1));
  std::string field;
  for (int number = 3; number <= 22; ++number) fields >> field;
  EXPECT_EQ(internal::TaskStartTime(AT_FDCWD, "/proc/self"), std::stoull(field));
}

// The kernel lets a process follow its own magic links unchecked; the caller
// it walks for would need CAP_SYS_PTRACE over it. So this process's own
// /proc/PID/fd/N is EACCES for a thread without CAP_SYS_PTRACE, and found
// with it.
TEST(FindAsCaller, TheWalkingProcesssOwnFdsTakeCapSysPtrace) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_PTRACE to drop)";
  const std::string dir = testing::TempDir();
  const int ours = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(ours, 0);
  ChildWithADirectory child(dir);
  ASSERT_TRUE(child.ready());
  const auto owner = child.Owner();
  const std::string by_pid = fmt::format("/proc/{}/fd/{}", ::getpid(), ours);
  const std::string by_task = fmt::format("/proc/{}/task/{}/fd/{}", ::getpid(), ::getpid(), ours);
  for (const bool ptrace : {true, false}) {
    std::string found_by_pid, found_by_task;
    std::thread([&] {
      if (!ptrace && !testing::SetEffectiveCapabilities(1U << CAP_SYS_PTRACE, false)) return;
      found_by_pid = Outcome(internal::FindAsCaller(AT_FDCWD, by_pid, 0, owner), dir);
      found_by_task = Outcome(internal::FindAsCaller(AT_FDCWD, by_task, 0, owner), dir);
    }).join();
    EXPECT_EQ(found_by_pid, ptrace ? "the directory" : "EACCES") << ptrace;
    EXPECT_EQ(found_by_task, ptrace ? "the directory" : "EACCES") << ptrace;
  }
  ::close(ours);
}

// Every step is a lookup of the kernel's with the thread's credentials: fsuid
// 65534 (no filesystem capabilities) may not search root's 0700 directory
// reached through /proc/self/root. 40 symlinks at most.
TEST(FindAsCaller, EachStepChecksTheThreadsPermissionsAndSymlinksAreBounded) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (a root-owned directory, setfsuid)";
  // A directory anyone may search (TempDir()'s parents are mkdtemp's 0700),
  // with root's 0700 "locked" in it.
  std::string dir = "/tmp/mntns-walk-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr) << std::strerror(errno);
  struct Remove {
    std::string path;
    ~Remove() { std::filesystem::remove_all(path); }
  } remove{dir};
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_TRUE(testing::MakeDirs(dir + "/locked/inner") && testing::MakeDirs(dir + "/open"));
  ASSERT_EQ(::chmod((dir + "/locked").c_str(), 0700), 0);
  ChildWithADirectory child(dir);
  ASSERT_TRUE(child.ready());
  const auto owner = child.Owner();
  const std::string through_root = "/proc/self/root" + dir + "/locked/inner";
  EXPECT_EQ(Outcome(internal::FindAsCaller(AT_FDCWD, through_root, 0, owner), dir + "/locked/inner"),
            "the directory");
  std::string locked_as_nobody, open_as_nobody;
  std::thread([&] {
    (void)::syscall(SYS_setfsuid, 65534);
    locked_as_nobody = Outcome(internal::FindAsCaller(AT_FDCWD, through_root, 0, owner), dir + "/locked/inner");
    open_as_nobody = Outcome(internal::FindAsCaller(AT_FDCWD, "/proc/self/root" + dir + "/open", 0, owner),
                             dir + "/open");
  }).join();
  EXPECT_EQ(locked_as_nobody, "EACCES");
  EXPECT_EQ(open_as_nobody, "the directory");
  // link0 -> link1 -> ... -> linkN -> locked: with "self" and "root" on the
  // way, 38 links of its own make 40 symlinks (found), 39 make 41 (ELOOP).
  for (int links : {38, 39}) {
    const std::string chain = fmt::format("{}/chain{}", dir, links);
    ASSERT_TRUE(testing::MakeDirs(chain));
    for (int i = 0; i < links; ++i) {
      const std::string target = i + 1 == links ? dir + "/locked" : fmt::format("link{}", i + 1);
      ASSERT_EQ(::symlink(target.c_str(), fmt::format("{}/link{}", chain, i).c_str()), 0);
    }
    const std::string path = "/proc/self/root" + chain + "/link0";
    EXPECT_EQ(Outcome(internal::FindAsCaller(AT_FDCWD, path, 0, owner), dir + "/locked"),
              links == 38 ? "the directory" : "ELOOP")
        << links;
  }
}

}  // namespace
}  // namespace mntns
