#include "namespace.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "mntns/query.h"

namespace mntns::testing {
namespace {

constexpr int kChildSkipped = 77;

[[noreturn]] void ExitWithVerdict() {
  std::fflush(stdout);
  std::fflush(stderr);
  if (::testing::Test::HasFailure()) ::_exit(1);
  if (::testing::Test::IsSkipped()) ::_exit(kChildSkipped);
  ::_exit(0);
}

void WaitForChild(pid_t pid) {
  int status = 0;
  pid_t waited;
  do {
    waited = ::waitpid(pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  ASSERT_EQ(waited, pid) << "waitpid: " << std::strerror(errno);
  if (WIFSIGNALED(status)) {
    ADD_FAILURE() << "test child killed by signal " << WTERMSIG(status) << " ("
                  << strsignal(WTERMSIG(status)) << ")";
  } else if (WEXITSTATUS(status) == kChildSkipped) {
    GTEST_SKIP() << "skipped inside the test's namespace (reason printed above)";
  } else {
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the test child failed (its assertions are printed above)";
  }
}

bool EnterPrivateMountNamespace(int extra_unshare_flags) {
  if (::unshare(CLONE_NEWNS | extra_unshare_flags) != 0) {
    ADD_FAILURE() << "unshare: " << std::strerror(errno);
    return false;
  }
  // Nothing this test mounts may propagate back into the caller's namespace.
  return SetPropagation("/", MS_PRIVATE, /*recursive=*/true);
}

// Every TempDir() of one test process lives under one directory, made before
// the first test and removed after the last: the test children, in whose
// namespaces things were mounted on those directories, are gone by then.
class TempRoot : public ::testing::Environment {
 public:
  static std::string& Path() {
    static std::string path;
    return path;
  }

  static void Create() {
    std::string pattern = "/tmp/mntns-test-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) Path() = pattern;
  }

  void SetUp() override {
    if (Path().empty()) Create();
  }

  void TearDown() override {
    if (Path().empty()) return;
    // Depth first, without following symlinks or entering other filesystems
    // (FTW_MOUNT): only what the tests made on /tmp itself goes.
    ::nftw(
        Path().c_str(),
        [](const char* path, const struct stat*, int, FTW*) {
          ::remove(path);
          return 0;
        },
        16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    Path().clear();
  }
};

[[maybe_unused]] ::testing::Environment* const kTempRoot = ::testing::AddGlobalTestEnvironment(new TempRoot);

}  // namespace

void InPrivateMountNamespace(const std::function<void()>& body, int extra_unshare_flags) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << "fork: " << std::strerror(errno);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (EnterPrivateMountNamespace(extra_unshare_flags)) body();
    ExitWithVerdict();
  }
  WaitForChild(pid);
}

void AsUnprivilegedUser(const std::function<void()>& setup, const std::function<void()>& body,
                        uid_t uid, gid_t gid) {
  InPrivateMountNamespace([&] {
    setup();
    if (::testing::Test::HasFailure()) return;
    ASSERT_EQ(::setgroups(0, nullptr), 0) << std::strerror(errno);
    ASSERT_EQ(::setresgid(gid, gid, gid), 0) << std::strerror(errno);
    ASSERT_EQ(::setresuid(uid, uid, uid), 0) << std::strerror(errno);  // drops every capability
    body();
  });
}

bool MakeDirs(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  EXPECT_FALSE(error) << "mkdir -p " << path << ": " << error.message();
  return !error;
}

bool MountTmpfs(const std::string& path, const std::string& options) {
  if (!MakeDirs(path)) return false;
  const int fs = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
  EXPECT_GE(fs, 0) << "fsopen tmpfs: " << std::strerror(errno);
  if (fs < 0) return false;
  bool ok = ::fsconfig(fs, FSCONFIG_SET_STRING, "source", ("test-" + std::filesystem::path(path).filename().string()).c_str(), 0) == 0;
  std::size_t start = 0;
  while (ok && start < options.size()) {
    std::size_t end = options.find(',', start);
    if (end == std::string::npos) end = options.size();
    const std::string option = options.substr(start, end - start);
    const auto eq = option.find('=');
    ok = eq == std::string::npos
             ? ::fsconfig(fs, FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0) == 0
             : ::fsconfig(fs, FSCONFIG_SET_STRING, option.substr(0, eq).c_str(),
                          option.substr(eq + 1).c_str(), 0) == 0;
    start = end + 1;
  }
  ok = ok && ::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0;
  const int mnt = ok ? ::fsmount(fs, FSMOUNT_CLOEXEC, 0) : -1;
  ok = mnt >= 0 && ::move_mount(mnt, "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0;
  const int err = errno;
  EXPECT_TRUE(ok) << "mount tmpfs on " << path << " (" << options << "): " << std::strerror(err);
  if (mnt >= 0) ::close(mnt);
  ::close(fs);
  return ok;
}

bool BindMount(const std::string& source, const std::string& target, bool recursive) {
  if (!MakeDirs(target)) return false;
  const int tree = ::open_tree(AT_FDCWD, source.c_str(),
                               OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  EXPECT_GE(tree, 0) << "open_tree " << source << ": " << std::strerror(errno);
  if (tree < 0) return false;
  const bool ok = ::move_mount(tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0;
  EXPECT_TRUE(ok) << "move_mount " << source << " -> " << target << ": " << std::strerror(errno);
  ::close(tree);
  return ok;
}

bool SetPropagation(const std::string& path, unsigned long propagation, bool recursive) {
  struct mount_attr attr {};
  attr.propagation = propagation;
  const bool ok = ::mount_setattr(AT_FDCWD, path.c_str(), recursive ? AT_RECURSIVE : 0, &attr,
                                  sizeof attr) == 0;
  EXPECT_TRUE(ok) << "mount_setattr propagation " << path << ": " << std::strerror(errno);
  return ok;
}

bool SetMountAttributes(const std::string& path, unsigned long attr_set, unsigned long attr_clr) {
  struct mount_attr attr {};
  attr.attr_set = attr_set;
  attr.attr_clr = attr_clr;
  const bool ok = ::mount_setattr(AT_FDCWD, path.c_str(), 0, &attr, sizeof attr) == 0;
  EXPECT_TRUE(ok) << "mount_setattr " << path << ": " << std::strerror(errno);
  return ok;
}

bool CallerListsARootfs() {
  auto own = ListMounts();
  EXPECT_TRUE(own) << own.error().Message();
  if (!own) return false;
  return std::any_of(own->begin(), own->end(), [](const Mount& m) { return m.fs_type == "rootfs"; });
}

std::string TempDir() {
  if (TempRoot::Path().empty()) TempRoot::Create();  // called before the environment's SetUp
  std::string pattern = TempRoot::Path() + "/mntns-test-XXXXXX";
  const char* dir = ::mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr) << "mkdtemp: " << std::strerror(errno);
  return dir != nullptr ? std::string(dir) : std::string("/tmp");
}

int OpenFdCount() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the opendir fd itself
}

bool SetEffectiveCapabilities(unsigned bits, bool on) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  data[0].effective = on ? data[0].effective | bits : data[0].effective & ~bits;
  return ::syscall(SYS_capset, &header, data) == 0;
}

}  // namespace mntns::testing
