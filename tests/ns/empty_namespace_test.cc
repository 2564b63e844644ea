// Empty mount namespaces: what 7.1's UNSHARE_EMPTY_MNTNS / CLONE_EMPTY_MNTNS
// do (observed on 7.2, docs/empty-namespaces.md), asked of every strategy:
// native in the 7.x VM, the emulations everywhere. Where the emulations
// differ (namespace.h), the test says which answer each gives.
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mntns/features.h"
#include "mntns/namespace.h"
#include "mntns/query.h"
#include "mntns/tree.h"
#include "support/namespace.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

using testing::InPrivateMountNamespace;

// ioctl on a pidfd (6.11): an nsfs fd of the task's user namespace.
constexpr unsigned long kPidfdGetUserNamespace = _IO(0xFF, 9);

// Runs `body` in a forked child (which may change its own namespaces); the
// child's assertion failures fail the test.
void InChild(const std::function<void()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(::testing::Test::HasFailure() ? 1 : (::testing::Test::IsSkipped() ? 77 : 0));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "the child skipped";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child failed";
}

std::uint64_t NamespaceIdOf(int fd) {
  auto id = sys::MountNamespaceId(fd);
  EXPECT_TRUE(id) << id.error().Message();
  return id ? *id : 0;
}

// The mount ids listmount(LSMT_ROOT) gives the calling thread in its own namespace.
std::vector<std::uint64_t> OwnListing() {
  sys::MntIdReq request{};
  request.size = sys::kMntIdReqSizeVer0;
  request.mnt_id = sys::kListmountRoot;
  std::vector<std::uint64_t> ids(16);
  auto n = sys::Listmount(request, ids, 0);
  EXPECT_TRUE(n) << n.error().Message();
  ids.resize(n ? *n : 0);
  return ids;
}

// statmount's mount point of `id` in the calling thread's namespace.
std::string MountPointOf(std::uint64_t id) {
  auto mount = StatmountById(id, {}, {.mask = field::kMntPoint | field::kMntBasic});
  EXPECT_TRUE(mount) << mount.error().Message();
  return mount ? mount->point : "";
}

std::vector<std::string> Entries(const char* directory) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_FALSE(error) << error.message();
  return names;
}

std::string Cwd() {
  char buffer[4096];
  return ::getcwd(buffer, sizeof buffer) != nullptr ? buffer : std::string("getcwd: ") + std::strerror(errno);
}

// The inode of the user namespace that owns the mount namespace `ns_fd`.
ino_t OwnerOf(int ns_fd) {
  const int user = ::ioctl(ns_fd, NS_GET_USERNS);
  EXPECT_GE(user, 0) << std::strerror(errno);
  struct stat st {};
  EXPECT_EQ(::fstat(user, &st), 0);
  ::close(user);
  return st.st_ino;
}

ino_t OwnUserNamespace() {
  struct stat st {};
  EXPECT_EQ(::stat("/proc/self/ns/user", &st), 0);
  return st.st_ino;
}

// A fresh tmpfs, detached: what a runtime stacks on the empty root.
UniqueFd DetachedTmpfs() {
  auto fs = sys::FsOpen("tmpfs", 0);
  EXPECT_TRUE(fs) << fs.error().Message();
  if (!fs) return UniqueFd();
  EXPECT_TRUE(sys::FsConfigCreate(fs->Get()));
  auto mount = sys::FsMount(fs->Get(), 0, 0);
  EXPECT_TRUE(mount) << mount.error().Message();
  return mount ? std::move(*mount) : UniqueFd();
}

class EmptyNamespaceTest : public ::testing::TestWithParam<NamespaceStrategy> {
 protected:
  void SetUp() override {
    if (GetParam() == NamespaceStrategy::kNative && !KernelFeatures().empty_mount_namespace) {
      GTEST_SKIP() << "kernel " << KernelFeatures().kernel << " has no UNSHARE_EMPTY_MNTNS (7.1)";
    }
  }
  NamespaceOptions options() const { return {.strategy = GetParam()}; }
  bool native() const {
    return ResolveStrategy(NamespaceOperation::kEmptyMountNamespace, GetParam()) == NamespaceStrategy::kNative;
  }
  UniqueFd MustCreate() const {
    auto ns = EmptyMountNamespace(options());
    EXPECT_TRUE(ns) << ns.error().Message();
    return ns ? std::move(*ns) : UniqueFd();
  }
  void MustUnshare() const {
    auto r = UnshareEmptyMountNamespace(options());
    ASSERT_TRUE(r) << r.error().Message();
  }
  // What the kernel says to a file created in the empty root.
  int CreateErrno() const { return native() ? ENOENT : EROFS; }

  // The state every way in must leave: one mount, "/", empty, root and cwd there.
  void ExpectInsideAnEmptyNamespace() const {
    const std::vector<std::uint64_t> ids = OwnListing();
    ASSERT_EQ(ids.size(), 1U);
    EXPECT_EQ(MountPointOf(ids[0]), "/");
    EXPECT_EQ(Cwd(), "/");
    EXPECT_TRUE(Entries("/").empty());
    struct stat st {};
    ASSERT_EQ(::stat("/", &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0555U);
    EXPECT_NE(::access("/proc/self", F_OK), 0) << "no /proc in an empty namespace";
    EXPECT_EQ(::mkdir("/new", 0755), -1);
    EXPECT_EQ(errno, CreateErrno());
  }
};

std::string ParamName(const ::testing::TestParamInfo<NamespaceStrategy>& info) {
  return std::string(StrategyName(info.param));
}

INSTANTIATE_TEST_SUITE_P(Strategies, EmptyNamespaceTest,
                         ::testing::Values(NamespaceStrategy::kAuto, NamespaceStrategy::kNative,
                                           NamespaceStrategy::kTemplate, NamespaceStrategy::kClassic),
                         ParamName);

// ---- EmptyMountNamespace: an fd, the caller stays ----------------------------------

TEST_P(EmptyNamespaceTest, EmptyMountNamespaceGivesACloseOnExecFdOfANewMountNamespace) {
  InPrivateMountNamespace([&] {
    auto own = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(own);
    UniqueFd a = MustCreate();
    UniqueFd b = MustCreate();
    ASSERT_TRUE(a && b);
    auto type = sys::NamespaceType(a.Get());
    ASSERT_TRUE(type) << type.error().Message();
    EXPECT_EQ(*type, CLONE_NEWNS);
    EXPECT_NE(::fcntl(a.Get(), F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_NE(NamespaceIdOf(a.Get()), NamespaceIdOf(b.Get()));
    EXPECT_NE(NamespaceIdOf(a.Get()), NamespaceIdOf(own->Get()));
  });
}

TEST_P(EmptyNamespaceTest, EmptyMountNamespaceLeavesTheCallerWhereItWas) {
  InPrivateMountNamespace([&] {
    auto own = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(own);
    const std::uint64_t before = NamespaceIdOf(own->Get());
    ASSERT_EQ(::chdir("/tmp"), 0);
    UniqueFd ns = MustCreate();
    ASSERT_TRUE(ns);
    auto now = sys::Open(AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(now) << now.error().Message();
    EXPECT_EQ(NamespaceIdOf(now->Get()), before);
    EXPECT_EQ(Cwd(), "/tmp");
  });
}

TEST_P(EmptyNamespaceTest, EnteredItHoldsOneEmptyRootAtSlash) {
  InPrivateMountNamespace([&] {
    UniqueFd ns = MustCreate();
    ASSERT_TRUE(ns);
    InChild([&] {
      ASSERT_EQ(::chdir("/tmp"), 0);
      ASSERT_EQ(::setns(ns.Get(), CLONE_NEWNS), 0) << std::strerror(errno);
      ExpectInsideAnEmptyNamespace();
    });
  });
}

// 7.x hides the nullfs root from outside as it hides OPEN_TREE_NAMESPACE's
// (listmount: ENOENT); the emulations hide their template root the same way.
TEST_P(EmptyNamespaceTest, FromOutsideListMountsShowsNoMount) {
  InPrivateMountNamespace([&] {
    UniqueFd ns = MustCreate();
    ASSERT_TRUE(ns);
    auto mounts = ListMounts(NamespaceRef::ByFile("/proc/self/fd/" + std::to_string(ns.Get())));
    ASSERT_TRUE(mounts) << mounts.error().Message();
    EXPECT_TRUE(mounts->empty()) << mounts->size() << " mounts, the first at " << mounts->front().point;
  });
}

// A namespace made on another CPU may draw a smaller sequence number than
// the caller's, and the kernel then refuses the pin (ELOOP);
// PinnedEmptyMountNamespace retries as OpenPinnedTreeNamespace does. Many
// pins in a row give the retry its chances on a busy machine.
TEST_P(EmptyNamespaceTest, PinnedItOutlivesItsFdAndListsNoMount) {
  InPrivateMountNamespace([&] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(testing::MountTmpfs(base));
    for (int i = 0; i < 20; ++i) {
      const std::string pin = base + "/ns" + std::to_string(i);
      auto pinned = PinnedEmptyMountNamespace(pin, options());
      ASSERT_TRUE(pinned) << i << ": " << pinned.error().Message();
      EXPECT_NE(pinned->strategy, NamespaceStrategy::kAuto);
      pinned->ns.Reset();
      auto mounts = ListMounts(NamespaceRef::ByFile(pin));
      ASSERT_TRUE(mounts) << mounts.error().Message();
      EXPECT_TRUE(mounts->empty());
    }
  });
}

TEST_P(EmptyNamespaceTest, ItIsOwnedByTheCallersUserNamespace) {
  InPrivateMountNamespace([&] {
    UniqueFd ns = MustCreate();
    ASSERT_TRUE(ns);
    EXPECT_EQ(OwnerOf(ns.Get()), OwnUserNamespace());
  });
}

// ---- UnshareEmptyMountNamespace: the calling thread moves ----------------------------

TEST_P(EmptyNamespaceTest, UnshareMovesTheCallerAndResetsItsCwd) {
  InChild([&] {
    ASSERT_EQ(::chdir("/tmp"), 0);
    auto old_ns = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(old_ns);
    auto before = sys::MountNamespaceInfo(old_ns->Get());
    ASSERT_TRUE(before);
    MustUnshare();
    ExpectInsideAnEmptyNamespace();
    // The old namespace is untouched.
    auto after = sys::MountNamespaceInfo(old_ns->Get());
    ASSERT_TRUE(after);
    EXPECT_EQ(after->nr_mounts, before->nr_mounts);
  });
}

TEST_P(EmptyNamespaceTest, UnshareLeavesTheOtherThreadsWhereTheyWere) {
  InChild([&] {
    auto own = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(own);
    const std::uint64_t before = NamespaceIdOf(own->Get());
    ASSERT_EQ(::chdir("/tmp"), 0);
    std::uint64_t in_thread = 0;
    std::thread mover([&] {
      auto r = UnshareEmptyMountNamespace(options());
      EXPECT_TRUE(r) << r.error().Message();
    });
    mover.join();
    auto mine = sys::Open(AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(mine);
    in_thread = NamespaceIdOf(mine->Get());
    EXPECT_EQ(in_thread, before);
    EXPECT_EQ(Cwd(), "/tmp");
  });
}

TEST_P(EmptyNamespaceTest, RepeatedUnsharesEachGiveANewEmptyNamespace) {
  InChild([&] {
    std::vector<std::uint64_t> roots;
    for (int i = 0; i < 3; ++i) {
      MustUnshare();
      const std::vector<std::uint64_t> ids = OwnListing();
      ASSERT_EQ(ids.size(), 1U);
      roots.push_back(ids[0]);
    }
    EXPECT_NE(roots[0], roots[1]);
    EXPECT_NE(roots[1], roots[2]);
  });
}

// What a runtime does next: a tree on "/", then into it.
TEST_P(EmptyNamespaceTest, ATmpfsStackedOnTheRootBecomesTheRootOnceEntered) {
  InChild([&] {
    MustUnshare();
    UniqueFd tmpfs = DetachedTmpfs();
    ASSERT_TRUE(tmpfs);
    auto moved = sys::MoveMount(tmpfs.Get(), "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH);
    ASSERT_TRUE(moved) << moved.error().Message();
    EXPECT_EQ(OwnListing().size(), 2U);
    // "/" still names the empty root below the stack...
    EXPECT_EQ(::mkdir("/new", 0755), -1);
    // ...until the thread goes into the tree.
    ASSERT_EQ(::fchdir(tmpfs.Get()), 0);
    ASSERT_EQ(::chroot("."), 0);
    EXPECT_EQ(::mkdir("/new", 0755), 0) << std::strerror(errno);
    EXPECT_EQ(Entries("/"), std::vector<std::string>{"new"});
  });
}

TEST_P(EmptyNamespaceTest, AfterUnshareUserTheNamespaceBelongsToTheNewUserNamespace) {
  InChild([&] {
    ASSERT_EQ(::setresgid(65534, 65534, 65534), 0);
    ASSERT_EQ(::setresuid(65534, 65534, 65534), 0);
    ASSERT_EQ(::unshare(CLONE_NEWUSER), 0) << std::strerror(errno);
    auto before = sys::Open(AT_FDCWD, "/proc/self/ns/user", O_RDONLY);
    ASSERT_TRUE(before);
    const ino_t user = OwnUserNamespace();
    MustUnshare();
    auto own = sys::PidfdOpen(::getpid(), 0);
    ASSERT_TRUE(own);
    auto ns = sys::PidfdMountNamespace(own->Get());
    ASSERT_TRUE(ns) << ns.error().Message();
    EXPECT_EQ(OwnerOf(ns->Get()), user);
    EXPECT_EQ(OwnListing().size(), 1U);
  });
}

TEST_P(EmptyNamespaceTest, WithoutCapSysAdminEveryCallIsRefusedWithEperm) {
  InChild([&] {
    ASSERT_EQ(::setresgid(65534, 65534, 65534), 0);
    ASSERT_EQ(::setresuid(65534, 65534, 65534), 0);
    auto own = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(own);
    const std::uint64_t before = NamespaceIdOf(own->Get());
    auto ns = EmptyMountNamespace(options());
    ASSERT_FALSE(ns);
    EXPECT_EQ(ns.error().code, EPERM) << ns.error().Message();
    auto r = UnshareEmptyMountNamespace(options());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EPERM) << r.error().Message();
    auto child = ForkIntoEmptyMountNamespace(0, options());
    if (child && child->pid == 0) ::_exit(0);
    ASSERT_FALSE(child);
    EXPECT_EQ(child.error().code, EPERM) << child.error().Message();
    auto now = sys::Open(AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(now);
    EXPECT_EQ(NamespaceIdOf(now->Get()), before);
  });
}

// A thread that dropped CAP_SYS_ADMIN for itself alone: the emulations' work
// is done on other threads, which still hold it, and must not do it for this one.
TEST_P(EmptyNamespaceTest, AThreadWithoutCapSysAdminIsRefusedThoughOthersHaveIt) {
  InChild([&] {
    // Started while privileged: a factory whose threads keep the capability.
    UniqueFd warm = MustCreate();
    ASSERT_TRUE(warm);
    std::thread dropper([&] {
      ASSERT_TRUE(sys::ClearCapabilitySets());
      auto ns = EmptyMountNamespace(options());
      ASSERT_FALSE(ns);
      EXPECT_EQ(ns.error().code, EPERM) << ns.error().Message();
    });
    dropper.join();
  });
}

// ---- ForkIntoEmptyMountNamespace: a child that starts in one -------------------------

// The child's verdict comes back as its exit status.
int WaitForChild(const MountNamespaceChild& child) {
  siginfo_t info{};
  EXPECT_EQ(::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.Get()), &info, WEXITED), 0) << std::strerror(errno);
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

// For the child of a fork (the parent may have threads): how many mounts a
// raw listmount(LSMT_ROOT) lists, with no allocation.
long RawListmountCount() {
  sys::MntIdReq request{};
  request.size = sys::kMntIdReqSizeVer0;
  request.mnt_id = sys::kListmountRoot;
  std::uint64_t ids[4];
  return ::syscall(SYS_listmount, &request, ids, 4, 0);
}

TEST_P(EmptyNamespaceTest, ForkStartsTheChildInAnEmptyNamespaceAndLeavesTheParent) {
  InPrivateMountNamespace([&] {
    auto own = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(own);
    const std::uint64_t before = NamespaceIdOf(own->Get());
    ASSERT_EQ(::chdir("/tmp"), 0);
    auto child = ForkIntoEmptyMountNamespace(0, options());
    if (child && child->pid == 0) {
      // Raw checks only (the parent may have threads): listmount, cwd, "/".
      const long n = RawListmountCount();
      char cwd[8];
      const bool at_root = ::getcwd(cwd, sizeof cwd) != nullptr && cwd[0] == '/' && cwd[1] == '\0';
      ::_exit(n == 1 && at_root && ::access("/proc", F_OK) != 0 ? 0 : 1);
    }
    ASSERT_TRUE(child) << child.error().Message();
    EXPECT_GT(child->pid, 0);
    EXPECT_NE(::fcntl(child->pidfd.Get(), F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_EQ(WaitForChild(*child), 0) << "the child was not alone at / in its namespace";
    auto now = sys::Open(AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(now);
    EXPECT_EQ(NamespaceIdOf(now->Get()), before);
    EXPECT_EQ(Cwd(), "/tmp");
  });
}

TEST_P(EmptyNamespaceTest, ForkWithNewUserAndPidNamespacesGivesPidOneInTheChildsOwnNamespaces) {
  InPrivateMountNamespace([&] {
    auto child = ForkIntoEmptyMountNamespace(CLONE_NEWUSER | CLONE_NEWPID, options());
    if (child && child->pid == 0) {
      const long n = RawListmountCount();
      // The mount namespace must belong to the child's new user namespace:
      // its owner is what NS_GET_USERNS of the pidfd's namespace says, which
      // the parent checks; here: pid 1 and one mount.
      ::_exit(::getpid() == 1 && n == 1 ? 0 : 1);
    }
    ASSERT_TRUE(child) << child.error().Message();
    auto ns = sys::PidfdMountNamespace(child->pidfd.Get());
    auto user = ::ioctl(child->pidfd.Get(), kPidfdGetUserNamespace, 0);
    if (ns && user >= 0) {
      struct stat st {};
      ASSERT_EQ(::fstat(user, &st), 0);
      EXPECT_EQ(OwnerOf(ns->Get()), st.st_ino) << "owned by the parent's user namespace";
      EXPECT_NE(st.st_ino, OwnUserNamespace());
    }
    if (user >= 0) ::close(user);
    EXPECT_EQ(WaitForChild(*child), 0) << "the child was not pid 1 alone in its namespace";
  });
}

TEST_P(EmptyNamespaceTest, ForkRefusesCloneFsAndFlagsItDoesNotKnow) {
  for (const std::uint64_t flags : {std::uint64_t{CLONE_FS}, std::uint64_t{CLONE_PTRACE}, std::uint64_t{CLONE_VM},
                                    std::uint64_t{1} << 40}) {
    auto child = ForkIntoEmptyMountNamespace(flags, options());
    if (child && child->pid == 0) ::_exit(0);
    ASSERT_FALSE(child) << std::hex << flags;
    EXPECT_EQ(child.error().code, EINVAL) << child.error().Message();
  }
}

// ---- leaks ----------------------------------------------------------------------------

int ThreadCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

bool WriteFile(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return written;
}

// Makes the calling (single-threaded) process root of a new user namespace
// that may hold at most `limit` mount namespaces at a time (the kernel's
// per-user-namespace count, /proc/sys/user/max_mnt_namespaces): more than
// that alive at once fails with ENOSPC, so a leak shows as an error.
void LimitMountNamespacesTo(int limit) {
  ASSERT_EQ(::unshare(CLONE_NEWUSER), 0) << std::strerror(errno);
  ASSERT_TRUE(WriteFile("/proc/self/setgroups", "deny"));
  ASSERT_TRUE(WriteFile("/proc/self/uid_map", "0 0 1"));
  ASSERT_TRUE(WriteFile("/proc/self/gid_map", "0 0 1"));
  ASSERT_TRUE(WriteFile("/proc/sys/user/max_mnt_namespaces", std::to_string(limit))) << std::strerror(errno);
}

TEST(EmptyMountNamespace, TenThousandLeaveNoFdNoThreadAndNoNamespaceBehind) {
  InChild([&] {
    // Every namespace must be gone by the next call: 10,000 of them in a user
    // namespace that allows 16 at once (the template, the caller's own, slack).
    LimitMountNamespacesTo(16);
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0);
    // The first call may start the factory threads; count after it.
    ASSERT_TRUE(EmptyMountNamespace());
    auto own = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
    ASSERT_TRUE(own);
    auto before = sys::MountNamespaceInfo(own->Get());
    ASSERT_TRUE(before);
    const int fds = testing::OpenFdCount();
    const int threads = ThreadCount();
    for (int i = 0; i < 10000; ++i) {
      auto ns = EmptyMountNamespace();
      ASSERT_TRUE(ns) << "call " << i << ": " << ns.error().Message();
    }
    EXPECT_EQ(testing::OpenFdCount(), fds);
    // A joined helper thread may still be listed for a moment while the
    // kernel finishes its exit.
    for (int i = 0; i < 100 && ThreadCount() > threads; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(ThreadCount(), threads);
    auto after = sys::MountNamespaceInfo(own->Get());
    ASSERT_TRUE(after);
    EXPECT_EQ(after->nr_mounts, before->nr_mounts);
  });
}

TEST(EmptyMountNamespace, NativeWhereTheKernelHasItAndEmulatedElsewhere) {
  EXPECT_EQ(ResolveStrategy(NamespaceOperation::kEmptyMountNamespace, NamespaceStrategy::kAuto),
            KernelFeatures().empty_mount_namespace ? NamespaceStrategy::kNative : NamespaceStrategy::kTemplate);
  if (KernelFeatures().empty_mount_namespace) return;
  auto ns = EmptyMountNamespace({.strategy = NamespaceStrategy::kNative});
  ASSERT_FALSE(ns);
  EXPECT_EQ(ns.error().code, EINVAL);
  EXPECT_NE(ns.error().Message().find("UNSHARE_EMPTY_MNTNS"), std::string::npos) << ns.error().Message();
}

}  // namespace
}  // namespace mntns
