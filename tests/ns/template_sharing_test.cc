// ShareTemplateNamespace: the template strategy's template held by a keeper
// process and shared between processes. Every test runs in a forked child
// (the namespace factory is per process) with its own record directory, and
// kills the keepers it started.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
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

// A test that must finish: SIGALRM ends the test child (a failure) if a call hangs.
constexpr unsigned kWatchdogSeconds = 20;

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

// Made at run time, so that no copy of it lies in the test binary's image.
std::string RandomHex() {
  unsigned char bytes[16];
  EXPECT_EQ(::getrandom(bytes, sizeof bytes, 0), static_cast<ssize_t>(sizeof bytes));
  std::string hex;
  for (const unsigned char byte : bytes) {
    hex += "0123456789abcdef"[byte >> 4];
    hex += "0123456789abcdef"[byte & 15];
  }
  return hex;
}

std::string ProcFile(pid_t pid, const char* name) { return ReadFile("/proc/" + std::to_string(pid) + "/" + name); }

// The NUL-separated entries of a /proc/PID/environ or cmdline.
std::set<std::string> Entries(const std::string& text) {
  std::set<std::string> entries;
  std::istringstream in(text);
  for (std::string entry; std::getline(in, entry, '\0');) entries.insert(entry);
  return entries;
}

// How many fds `pid` holds.
// The targets of a process's fds, without the O_PATH fds of "/" that hold
// the places of a closed stdin, stdout and stderr (so that nothing else is
// opened there). No throwing calls: the process may close one as we look.
std::vector<std::string> HeldFds(pid_t pid) {
  std::vector<std::string> held;
  std::error_code error;  // a process that exits while we look has none
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    std::error_code link_error;
    const std::string target = std::filesystem::read_symlink(it->path(), link_error).string();
    if (link_error) continue;
    const std::string name = it->path().filename().string();
    if ((name == "0" || name == "1" || name == "2") && target == "/") continue;
    held.push_back(target);
  }
  return held;
}

int OpenFdsOf(pid_t pid) { return static_cast<int>(HeldFds(pid).size()); }

// The record directory, made by hand (as ShareTemplateNamespace would) so a
// test can plant something in it first.
void MakeRecordDirectory(const std::string& directory) {
  ASSERT_TRUE(MakeDirs(directory));
  ASSERT_EQ(::chmod(directory.c_str(), 0700), 0);
}

// Writes `text` as the record, with `mode`, as the directory's owner could.
void PlantRecord(const std::string& directory, const std::string& text, mode_t mode = 0600) {
  const std::string path = RecordPath(directory);
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// A record file that names a live keeper started for another directory.
std::string RecordTextOfAnotherKeeper(const std::string& other_directory) {
  StartKeeperFromAnotherProcess(other_directory, 30s);
  return ReadFile(RecordPath(other_directory));
}

// A process (our child) named like a keeper, in a mount namespace of its own,
// that waits to be killed.
struct ForeignProcess {
  pid_t pid = -1;
  std::uint64_t ns_id = 0;
};

ForeignProcess StartForeignProcess() {
  int ready[2];
  EXPECT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ForeignProcess foreign;
  foreign.pid = ::fork();
  if (foreign.pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::prctl(PR_SET_NAME, "mntns-template");
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(1);
    if (::write(ready[1], "x", 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char byte;
  EXPECT_EQ(::read(ready[0], &byte, 1), 1) << "the foreign process did not start";
  ::close(ready[0]);
  auto ns = sys::Open(AT_FDCWD, ("/proc/" + std::to_string(foreign.pid) + "/ns/mnt").c_str(), O_RDONLY);
  EXPECT_TRUE(ns) << ns.error().Message();
  if (ns) foreign.ns_id = NamespaceIdOf(ns->Get());
  return foreign;
}

void StopForeignProcess(const ForeignProcess& foreign) {
  if (foreign.pid <= 0) return;
  ::kill(foreign.pid, SIGKILL);
  ::waitpid(foreign.pid, nullptr, 0);
}

// After ShareTemplateNamespace with something planted in place of the record:
// the record is a regular file again and names a live keeper other than `not_pid`.
void ExpectAFreshKeeper(const std::string& directory, pid_t not_pid) {
  struct stat st {};
  ASSERT_EQ(::lstat(RecordPath(directory).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << std::oct << st.st_mode;
  const Record record = ReadRecord(directory);
  EXPECT_NE(record.pid, not_pid);
  EXPECT_TRUE(Alive(record.pid));
  EXPECT_EQ(ProcFile(record.pid, "comm"), "mntns-template\n");
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
      fds = HeldFds(record.pid);
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
    // pid 1 is alive, but not in that namespace (ids are never reused), nor our keeper.
    PlantRecord(directory, "1 18446744073709551615 " + RandomHex() + "\n");
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

// ---- the keeper is a fresh image: nothing of its starter ---------------------

TEST(TemplateSharing, KeepersCommandLineIsItsNameAlone) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    ASSERT_GT(record.pid, 0);
    // Not the test binary's argv (its --gtest_filter=...).
    EXPECT_EQ(ProcFile(record.pid, "cmdline"), std::string("mntns-template", sizeof "mntns-template"));
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, KeepersEnvironmentHoldsNothingOfItsStarter) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    const std::string secret = RandomHex();
    ASSERT_EQ(::setenv("MNTNS_TEST_API_TOKEN", secret.c_str(), 1), 0);
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    ASSERT_GT(record.pid, 0);
    const std::string keeper_environment = ProcFile(record.pid, "environ");
    EXPECT_FALSE(keeper_environment.empty()) << "/proc/" << record.pid << "/environ is not readable";
    EXPECT_EQ(keeper_environment.find(secret), std::string::npos);
    const std::set<std::string> keepers = Entries(keeper_environment);
    std::vector<std::string> ours_there;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      // The loader's search path is all the keeper takes: it is the same program.
      if (std::string_view(*entry).starts_with("LD_LIBRARY_PATH=")) continue;
      if (keepers.contains(*entry)) ours_there.emplace_back(*entry);
    }
    EXPECT_EQ(ours_there, std::vector<std::string>{});
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, KeeperHoldsNoMemoryOfItsStarter) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    // A page of ours: a forked keeper would have it at the same address.
    void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(page, MAP_FAILED);
    const std::string secret = RandomHex();
    std::memcpy(page, secret.data(), secret.size());
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    ASSERT_GT(record.pid, 0);
    const int mem = ::open(("/proc/" + std::to_string(record.pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(mem, 0) << std::strerror(errno);
    std::string there(secret.size(), '\0');
    const auto address = static_cast<off_t>(reinterpret_cast<std::uintptr_t>(page));
    const ssize_t got = ::pread(mem, there.data(), there.size(), address);
    ::close(mem);
    // Unmapped in the keeper (EIO), or something of its own lies there.
    const bool has_our_page = got == static_cast<ssize_t>(there.size()) && there == secret;
    EXPECT_FALSE(has_our_page);
    ::munmap(page, 4096);
    KillKeeper(directory);
  });
}

// ---- a record is trusted only if it names our keeper --------------------------

TEST(TemplateSharing, ARecordNamingAForeignProcessInItsOwnNamespaceIsNotTrusted) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    ::alarm(kWatchdogSeconds);
    MakeRecordDirectory(directory);
    // Alive, named like a keeper, and the record has its right namespace id:
    // its whole table would land in our namespaces if it were adopted.
    const ForeignProcess foreign = StartForeignProcess();
    ASSERT_GT(foreign.ns_id, 0U);
    PlantRecord(directory,
                std::to_string(foreign.pid) + " " + std::to_string(foreign.ns_id) + " " + RandomHex() + "\n");
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    const Record record = ReadRecord(directory);
    EXPECT_NE(record.pid, foreign.pid);
    EXPECT_NE(record.ns_id, foreign.ns_id);
    const std::string tree = TempDir();
    ASSERT_TRUE(MountTmpfs(tree));
    UniqueFd ns = NewTemplateNamespace(tree);
    ASSERT_TRUE(ns);
    EXPECT_TRUE(CopiesKeptTemplate(ns.Get(), record));
    StopForeignProcess(foreign);
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, AFifoInPlaceOfTheRecordIsReplacedWithoutWaiting) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    ::alarm(kWatchdogSeconds);
    MakeRecordDirectory(directory);
    ASSERT_EQ(::mkfifo(RecordPath(directory).c_str(), 0600), 0);
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    ExpectAFreshKeeper(directory, 0);
    KillKeeper(directory);
  });
}

TEST(TemplateSharing, ASymlinkInPlaceOfTheRecordIsNotFollowed) {
  const std::string directory = TempDir() + "/keeper";
  const std::string other = TempDir() + "/other";
  InPrivateMountNamespace([&] {
    ::alarm(kWatchdogSeconds);
    RecordTextOfAnotherKeeper(other);
    const Record others = ReadRecord(other);
    MakeRecordDirectory(directory);
    ASSERT_EQ(::symlink(RecordPath(other).c_str(), RecordPath(directory).c_str()), 0);
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    ExpectAFreshKeeper(directory, others.pid);
    KillKeeper(directory);
    KillKeeper(other);
  });
}

TEST(TemplateSharing, AHugeRecordIsNotTrusted) {
  const std::string directory = TempDir() + "/keeper";
  const std::string other = TempDir() + "/other";
  InPrivateMountNamespace([&] {
    ::alarm(kWatchdogSeconds);
    // A live keeper's record, followed by a megabyte of padding.
    const std::string text = RecordTextOfAnotherKeeper(other);
    const Record others = ReadRecord(other);
    MakeRecordDirectory(directory);
    PlantRecord(directory, text + std::string(1 << 20, '\n'));
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    ExpectAFreshKeeper(directory, others.pid);
    KillKeeper(directory);
    KillKeeper(other);
  });
}

TEST(TemplateSharing, ARecordOthersCanReadIsNotTrusted) {
  const std::string directory = TempDir() + "/keeper";
  const std::string other = TempDir() + "/other";
  InPrivateMountNamespace([&] {
    ::alarm(kWatchdogSeconds);
    const std::string text = RecordTextOfAnotherKeeper(other);
    const Record others = ReadRecord(other);
    MakeRecordDirectory(directory);
    PlantRecord(directory, text, 0644);
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_TRUE(shared) << shared.error().Message();
    ExpectAFreshKeeper(directory, others.pid);
    KillKeeper(directory);
    KillKeeper(other);
  });
}

TEST(TemplateSharing, ADirectoryInPlaceOfTheRecordFailsWithoutWaiting) {
  const std::string directory = TempDir() + "/keeper";
  InPrivateMountNamespace([&] {
    ::alarm(kWatchdogSeconds);
    MakeRecordDirectory(directory);
    ASSERT_EQ(::mkdir(RecordPath(directory).c_str(), 0700), 0);
    auto shared = ShareTemplateNamespace({.directory = directory, .idle = 30s});
    ASSERT_FALSE(shared);
    EXPECT_NE(shared.error().Message().find(RecordPath(directory)), std::string::npos) << shared.error().Message();
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
