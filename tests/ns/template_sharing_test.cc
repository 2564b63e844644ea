// ShareTemplateNamespace: the template strategy's template held by a keeper
// process and shared between processes. Every test runs in a forked child
// (the namespace factory is per process) with its own record directory, and
// kills the keepers it started.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>
#include <sstream>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "mntns/namespace.h"
#include "support/cli_runner.h"
#include "support/namespace.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

using namespace std::chrono_literals;
using testing::InPrivateMountNamespace;
using testing::MakeDirs;
using testing::MountTmpfs;
using testing::RunCli;
using testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The record's file name for this process's user namespace.
std::string RecordPath(const std::string& directory) {
  struct stat user_ns {};
  EXPECT_EQ(::stat("/proc/self/ns/user", &user_ns), 0);
  return directory + "/template-" + std::to_string(user_ns.st_ino);
}

struct Record {
  pid_t pid = 0;
  std::uint64_t ns_id = 0;
};

Record ReadRecord(const std::string& directory) {
  Record record;
  std::istringstream(ReadFile(RecordPath(directory))) >> record.pid >> record.ns_id;
  return record;
}

// Running, not a zombie waiting for whoever adopted it to reap it.
bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const auto name_end = stat.rfind(')');
  return name_end != std::string::npos && name_end + 2 < stat.size() && stat[name_end + 2] != 'Z';
}

// Waits up to `limit` for `pid` to go; true if it went.
bool WaitUntilGone(pid_t pid, std::chrono::milliseconds limit) {
  for (auto waited = 0ms; waited < limit; waited += 50ms) {
    if (!Alive(pid)) return true;
    std::this_thread::sleep_for(50ms);
  }
  return !Alive(pid);
}

void KillKeeper(const std::string& directory) {
  const Record record = ReadRecord(directory);
  if (record.pid > 0 && ReadFile("/proc/" + std::to_string(record.pid) + "/comm") == "mntns-template\n") {
    ::kill(record.pid, SIGKILL);
  }
}

using Device = std::pair<std::uint32_t, std::uint32_t>;

// The superblock devices of the template roots (tmpfs "mntns-template") in a
// namespace: raw listmount/statmount, as ListMounts() hides them.
std::set<Device> TemplateRootsOf(std::uint64_t ns_id) {
  std::set<Device> devices;
  sys::MntIdReq request{};
  request.size = sys::kMntIdReqSizeVer1;
  request.mnt_id = sys::kListmountRoot;
  request.mnt_ns_id = ns_id;
  std::vector<std::uint64_t> ids(64);
  auto count = sys::Listmount(request, ids, 0);
  EXPECT_TRUE(count) << count.error().Message();
  if (!count) return devices;
  for (std::size_t i = 0; i < *count; ++i) {
    alignas(sys::RawStatmount) std::byte buffer[4096];
    sys::MntIdReq one{};
    one.size = sys::kMntIdReqSizeVer1;
    one.mnt_id = ids[i];
    one.param = sys::kStatmountSbBasic | sys::kStatmountSbSource;
    one.mnt_ns_id = ns_id;
    auto stat = sys::Statmount(one, buffer, 0);
    EXPECT_TRUE(stat) << stat.error().Message();
    if (!stat) continue;
    const auto* raw = reinterpret_cast<const sys::RawStatmount*>(buffer);
    const bool has_source = (raw->mask & sys::kStatmountSbSource) != 0;
    if (has_source && std::string_view(raw->str + raw->sb_source) == "mntns-template") {
      devices.emplace(raw->sb_dev_major, raw->sb_dev_minor);
    }
  }
  return devices;
}

std::uint64_t NamespaceIdOf(int ns_fd) {
  auto id = sys::MountNamespaceId(ns_fd);
  EXPECT_TRUE(id) << id.error().Message();
  return id ? *id : 0;
}

// A template namespace with a tmpfs tree, built the way `mntns new` does.
UniqueFd NewTemplateNamespace(const std::string& dir) {
  auto ns = OpenTreeNamespace(AT_FDCWD, dir, AT_RECURSIVE | OPEN_TREE_CLOEXEC,
                              {.strategy = NamespaceStrategy::kTemplate});
  EXPECT_TRUE(ns) << ns.error().Message();
  return ns ? std::move(*ns) : UniqueFd();
}

// Whether namespace `ns_fd` is a copy of the keeper's template: the keeper's
// template root is one empty tmpfs, and a copy holds a mount of that very
// superblock below its tree. Fails the test if the keeper's root is not one.
bool CopiesKeptTemplate(int ns_fd, const Record& keeper) {
  const auto template_roots = TemplateRootsOf(keeper.ns_id);
  if (template_roots.size() != 1) {
    ADD_FAILURE() << "the keeper's namespace has " << template_roots.size() << " template roots, not 1";
    return false;
  }
  return TemplateRootsOf(NamespaceIdOf(ns_fd)).contains(*template_roots.begin());
}

// Starts a keeper for `directory` from a process that then exits, and
// returns its record.
Record StartKeeperFromAnotherProcess(const std::string& directory, std::chrono::seconds idle) {
  InPrivateMountNamespace([&] {
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = idle});
    ASSERT_TRUE(shared) << shared.error().Message();
  });
  return ReadRecord(directory);
}

// How many fds `pid` holds.
int OpenFdsOf(pid_t pid) {
  int count = 0;
  std::error_code error;  // a process that exits while we look has none
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

TEST(TemplateSharing, NamespacesAreCopiesOfTheKeepersTemplate) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    const std::string tree = TempDir();
    ASSERT_TRUE(MountTmpfs(tree));
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    ASSERT_GT(record.pid, 0);
    UniqueFd ns = NewTemplateNamespace(tree);
    ASSERT_TRUE(ns);
    EXPECT_TRUE(CopiesKeptTemplate(ns.Get(), record));
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, AProcessThatDoesNotAskBuildsItsOwnTemplate) {
  const std::string directory = TempDir() + "/keeper";
  const Record record = StartKeeperFromAnotherProcess(directory, 30s);
  ASSERT_TRUE(Alive(record.pid));
  InPrivateMountNamespace([&] {
    const std::string tree = TempDir();
    ASSERT_TRUE(MountTmpfs(tree));
    UniqueFd ns = NewTemplateNamespace(tree);
    ASSERT_TRUE(ns);
    EXPECT_FALSE(CopiesKeptTemplate(ns.Get(), record));
  });
  KillKeeper(directory);
}

TEST(TemplateSharing, LaterProcessesFindTheSameKeeper) {
  const std::string directory = TempDir() + "/keeper";
  const Record first = StartKeeperFromAnotherProcess(directory, 30s);
  ASSERT_TRUE(Alive(first.pid));
  InPrivateMountNamespace([&] {
    const std::string tree = TempDir();
    ASSERT_TRUE(MountTmpfs(tree));
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    UniqueFd ns = NewTemplateNamespace(tree);
    ASSERT_TRUE(ns);
    EXPECT_TRUE(CopiesKeptTemplate(ns.Get(), first));
  });
  const Record second = ReadRecord(directory);
  EXPECT_EQ(second.pid, first.pid);
  EXPECT_EQ(second.ns_id, first.ns_id);
  KillKeeper(directory);
}

TEST(TemplateSharing, CallersStartingAtOnceGetOneKeeper) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    // Eight processes released together, none finding a keeper: one starts it,
    // the others (waiting for the exclusive lock) find and share it.
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    std::vector<pid_t> callers;
    for (int i = 0; i < 8; ++i) {
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        ::close(go[1]);
        char byte;
        if (::read(go[0], &byte, 1) != 0) ::_exit(3);  // EOF is the start signal
        auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
        ::_exit(shared ? 0 : 1);
      }
      callers.push_back(pid);
    }
    ::close(go[0]);
    ::close(go[1]);
    for (pid_t pid : callers) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    }
    const Record record = ReadRecord(directory);
    EXPECT_TRUE(Alive(record.pid));
    // Exactly one keeper for this directory: every other mntns-template
    // process here holds another directory.
    int keepers = 0;
    std::error_code listing;  // processes come and go while we look
    for (const auto& entry : std::filesystem::directory_iterator("/proc", listing)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      if (ReadFile(entry.path().string() + "/comm") != "mntns-template\n") continue;
      std::error_code error;
      for (const auto& fd : std::filesystem::directory_iterator(entry.path() / "fd", error)) {
        if (std::filesystem::read_symlink(fd.path(), error).string() == directory) ++keepers;
      }
    }
    EXPECT_EQ(keepers, 1);
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, KeeperIsADetachedProcessThatHoldsOnlyItsDirectory) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    // A pipe the keeper must not hold: a reader of our output waits for EOF.
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    const std::string proc = "/proc/" + std::to_string(record.pid);
    EXPECT_EQ(ReadFile(proc + "/comm"), "mntns-template\n");
    // Not our child (nothing for our waitpid), a session of its own.
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    EXPECT_EQ(::getsid(record.pid), record.pid);
    // Its socket to us goes once it sees our end closed (when the call returned).
    std::vector<std::string> fds;
    for (auto waited = 0ms; waited < 5s; waited += 20ms) {
      fds.clear();
      // The socket may close between listing and reading its link: no throwing calls.
      std::error_code error;
      for (const auto& entry : std::filesystem::directory_iterator(proc + "/fd", error)) {
        const auto target = std::filesystem::read_symlink(entry.path(), error);
        if (!error) fds.push_back(target.string());
      }
      if (fds.size() == 1) break;
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(fds, std::vector<std::string>{directory});
    // Its own table: the template root alone.
    const std::string mountinfo = ReadFile(proc + "/mountinfo");
    EXPECT_EQ(std::count(mountinfo.begin(), mountinfo.end(), '\n'), 1) << mountinfo;
    EXPECT_NE(mountinfo.find(" - tmpfs mntns-template "), std::string::npos) << mountinfo;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, KeeperExitsAfterItsIdleTimeAndRemovesItsRecord) {
  const std::string directory = TempDir() + "/keeper";
  const Record record = StartKeeperFromAnotherProcess(directory, 1s);
  ASSERT_TRUE(Alive(record.pid));
  EXPECT_TRUE(WaitUntilGone(record.pid, 10s));
  EXPECT_FALSE(std::filesystem::exists(RecordPath(directory)));
}

TEST(TemplateSharing, EachUseRestartsTheIdleTime) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 2s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    // 4 s of use, every 0.5 s: twice the idle time, and the keeper stays.
    for (int i = 0; i < 8; ++i) {
      std::this_thread::sleep_for(500ms);
      ASSERT_TRUE(Alive(record.pid)) << "after " << (i + 1) * 500 << " ms";
      ASSERT_TRUE(ShareTemplateNamespace({.directory = directory, .idle = 2s}));
    }
    EXPECT_EQ(ReadRecord(directory).pid, record.pid);
    EXPECT_TRUE(WaitUntilGone(record.pid, 10s));
  });
}

TEST(TemplateSharing, ARecordThatDoesNotMatchItsProcessIsReplaced) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    ASSERT_TRUE(MakeDirs(directory));
    ASSERT_EQ(::chmod(directory.c_str(), 0700), 0);
    // pid 1 is alive, but not in that namespace (ids are never reused).
    std::ofstream(RecordPath(directory)) << "1 18446744073709551615\n";
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    EXPECT_NE(record.pid, 1);
    EXPECT_EQ(ReadFile("/proc/" + std::to_string(record.pid) + "/comm"), "mntns-template\n");
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, ADeadKeepersRecordIsReplaced) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    ASSERT_TRUE(ShareTemplateNamespace({.directory = directory, .idle = 30s}));
    const Record dead = ReadRecord(directory);
    ASSERT_EQ(::kill(dead.pid, SIGKILL), 0);
    ASSERT_TRUE(WaitUntilGone(dead.pid, 10s));
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    EXPECT_NE(record.pid, dead.pid);
    EXPECT_NE(record.ns_id, dead.ns_id);
    EXPECT_TRUE(Alive(record.pid));
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, ADirectoryOthersCanWriteIsRefused) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    ASSERT_TRUE(MakeDirs(directory));
    ASSERT_EQ(::chmod(directory.c_str(), 0777), 0);
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_FALSE(shared);
    EXPECT_EQ(shared.error().code, EPERM);
    EXPECT_NE(shared.error().Message().find(directory), std::string::npos) << shared.error().Message();
    EXPECT_FALSE(std::filesystem::exists(RecordPath(directory)));
  });
}

TEST(TemplateSharing, TheCallersMountTableIsUnchanged) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    const std::string before = ReadFile("/proc/self/mountinfo");
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    EXPECT_EQ(ReadFile("/proc/self/mountinfo"), before);
    KillKeeper(directory);
  });
}

// ---- the idle time ---------------------------------------------------------------

TEST(TemplateSharing, AnIdleTimeOutsideOneSecondToOneDayIsRefused) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    const std::chrono::seconds day = TemplateSharingOptions::kMaximumIdle;
    ASSERT_EQ(day, 86400s);
    for (const std::chrono::seconds idle : {0s, -1s, day + 1s, std::chrono::seconds(100000000000),
                                            std::chrono::seconds::max()}) {
      auto shared = ShareTemplateNamespace({.directory = directory, .idle = idle});
      ASSERT_FALSE(shared) << idle.count();
      EXPECT_EQ(shared.error().code, EINVAL) << idle.count();
      EXPECT_NE(shared.error().Message().find(std::to_string(idle.count())), std::string::npos)
          << shared.error().Message();
    }
    EXPECT_FALSE(std::filesystem::exists(RecordPath(directory)));
  });
}

TEST(TemplateSharing, AKeeperWithTheLongestIdleTimeStays) {
  const std::string directory = TempDir() + "/keeper";
  const Record record = StartKeeperFromAnotherProcess(directory, TemplateSharingOptions::kMaximumIdle);
  ASSERT_GT(record.pid, 0);
  // Its first look at the record, right after it closes its socket to its
  // starter, reckons the deadline; well past that look it is still there.
  for (auto waited = 0ms; waited < 10s && OpenFdsOf(record.pid) > 1; waited += 20ms) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(OpenFdsOf(record.pid), 1);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(Alive(record.pid));
  EXPECT_EQ(ReadRecord(directory).pid, record.pid);
  KillKeeper(directory);
}

TEST(TemplateSharing, ARecordTouchedInTheFutureCountsItsIdleTimeFromNow) {
  const std::string directory = TempDir() + "/keeper";
  const Record record = StartKeeperFromAnotherProcess(directory, 1s);
  ASSERT_TRUE(Alive(record.pid));
  // 2100-01-01: the clock was set back, or someone touched the record by hand.
  const timespec future[2] = {{4102444800, 0}, {4102444800, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, RecordPath(directory).c_str(), future, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_TRUE(WaitUntilGone(record.pid, 10s));
  KillKeeper(directory);
}

TEST(TemplateSharing, TheCliTurnsSharingOffForAnIdleTimeBeyondOneDay) {
  InPrivateMountNamespace([&] {
    const std::string tree = TempDir();
    ASSERT_TRUE(MountTmpfs(tree));
    for (const std::string value : {"86401", "100000000000", "9223372036854775807", "99999999999999999999"}) {
      ASSERT_EQ(::setenv("MNTNS_TEMPLATE_IDLE", value.c_str(), 1), 0);
      const auto r = RunCli({"new", "--strategy", "template", tree});
      EXPECT_EQ(r.exit_status, 0) << r.err;
      EXPECT_NE(r.err.find("MNTNS_TEMPLATE_IDLE=\"" + value + "\""), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("template sharing is off"), std::string::npos) << r.err;
    }
  });
}

}  // namespace
}  // namespace mntns
