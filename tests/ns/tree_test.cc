// tree.h: the new mount API one call at a time, and mount namespace fds.
// Everything that mounts runs in a private namespace of the test's own.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "mntns/fd.h"
#include "mntns/namespace.h"
#include "mntns/query.h"
#include "mntns/tree.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::InPrivateMountNamespace;
using testing::MakeDirs;
using testing::MountTmpfs;
using testing::SetPropagation;

// False for a closed fd too: fcntl's -1 has every bit set.
bool IsCloseOnExec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

UniqueFd OpenOwnNamespace() { return UniqueFd(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)); }

// ---- FsContext -------------------------------------------------------------------

TEST(FsContext, BadOptionErrorCarriesTheKernelLog) {
  auto fs = FsContext::Open("tmpfs");
  ASSERT_TRUE(fs) << fs.error().Message();
  auto set = fs->SetString("mode", "zzz");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, EINVAL);
  // The kernel's words for it ("e tmpfs: Bad value for 'mode'"), not just EINVAL.
  EXPECT_NE(set.error().kernel_log.find("mode"), std::string::npos) << set.error().Message();
}

// 6.18 ends each logged message in a newline, which the error text would show as \x0a.
TEST(FsContext, KernelLogLeavesOutTheMessagesNewlines) {
  auto fs = FsContext::Open("tmpfs");
  ASSERT_TRUE(fs) << fs.error().Message();
  auto set = fs->SetString("mode", "zzz");
  ASSERT_FALSE(set);
  ASSERT_FALSE(set.error().kernel_log.empty());
  EXPECT_EQ(set.error().kernel_log.find('\n'), std::string::npos) << set.error().Message();
}

TEST(FsContext, ErrorNamesTheCallTheFilesystemAndTheParameter) {
  auto fs = FsContext::Open("tmpfs");
  ASSERT_TRUE(fs) << fs.error().Message();
  auto set = fs->SetString("mode", "zzz");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().operation, "fsconfig");
  EXPECT_EQ(set.error().argument, "\"tmpfs\" mode=zzz");
}

TEST(FsContext, UnknownFilesystemTypeIsENODEV) {
  auto fs = FsContext::Open("mntns-no-such-fs");
  ASSERT_FALSE(fs);
  EXPECT_EQ(fs.error().code, ENODEV);
  EXPECT_EQ(fs.error().operation, "fsopen");
  EXPECT_NE(fs.error().argument.find("mntns-no-such-fs"), std::string::npos);
}

TEST(FsContext, ContextAndMountFdsAreCloseOnExec) {
  auto fs = FsContext::Open("tmpfs");
  ASSERT_TRUE(fs) << fs.error().Message();
  EXPECT_TRUE(IsCloseOnExec(fs->fd()));
  ASSERT_TRUE(fs->Create()) << "FSCONFIG_CMD_CREATE";
  auto mnt = fs->Mount();  // no FSMOUNT_CLOEXEC asked for
  ASSERT_TRUE(mnt) << mnt.error().Message();
  EXPECT_TRUE(IsCloseOnExec(mnt->Get()));
}

TEST(FsContext, MountedFilesystemHasTheParametersThatWereSet) {
  InPrivateMountNamespace([] {
    const std::string target = testing::TempDir() + "/fresh";
    ASSERT_TRUE(MakeDirs(target));
    auto fs = FsContext::Open("tmpfs");
    ASSERT_TRUE(fs) << fs.error().Message();
    ASSERT_TRUE(fs->SetString("source", "mntns-tree-test"));
    ASSERT_TRUE(fs->SetString("size", "16k"));
    ASSERT_TRUE(fs->Create());
    auto mnt = fs->Mount(0, MOUNT_ATTR_NODEV);
    ASSERT_TRUE(mnt) << mnt.error().Message();
    auto moved = MoveMount(mnt->Get(), "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    ASSERT_TRUE(moved) << moved.error().Message();
    auto mount = StatmountByPath(target);
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_EQ(mount->point, target);
    EXPECT_EQ(mount->fs_type, "tmpfs");
    EXPECT_EQ(mount->sb_source, "mntns-tree-test");
    EXPECT_TRUE(mount->fs_options.starts_with("size=16k")) << mount->fs_options;
    EXPECT_NE(mount->attr & MOUNT_ATTR_NODEV, 0U);
  });
}

TEST(FsContext, FdServesFsmountNamespace) {
  InPrivateMountNamespace([] {
    auto fs = FsContext::Open("tmpfs");
    ASSERT_TRUE(fs) << fs.error().Message();
    ASSERT_TRUE(fs->SetString("source", "mntns-tree-root"));
    ASSERT_TRUE(fs->Create());
    auto ns = FsmountNamespace(fs->fd(), FSMOUNT_CLOEXEC, 0);
    ASSERT_TRUE(ns) << ns.error().Message();
    auto id = MountNamespaceId(ns->Get());
    ASSERT_TRUE(id) << id.error().Message();
    auto mounts = ListMounts(NamespaceRef::ById(*id), {.mask = field::kMntPoint | field::kSbSource});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    ASSERT_EQ(mounts->size(), 1U);
    EXPECT_EQ(mounts->front().point, "/");
    EXPECT_EQ(mounts->front().sb_source, "mntns-tree-root");
  });
}

// overlayfs' "lowerdir+" takes an fd since 6.13 (fsparam_file_or_string).
TEST(FsContext, SetFdGivesAnOpenDirectory) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(MakeDirs(base + "/top") && MakeDirs(base + "/bottom") && MakeDirs(base + "/merged"));
    ASSERT_TRUE(std::ofstream(base + "/top/from-top") << "x");
    ASSERT_TRUE(std::ofstream(base + "/bottom/from-bottom") << "x");
    auto fs = FsContext::Open("overlay");
    if (!fs && fs.error().code == ENODEV) GTEST_SKIP() << "no overlayfs in this kernel";
    ASSERT_TRUE(fs) << fs.error().Message();
    for (const char* layer : {"/top", "/bottom"}) {
      const UniqueFd dir(::open((base + layer).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      ASSERT_TRUE(dir);
      auto set = fs->SetFd("lowerdir+", dir.Get());
      if (!set && set.error().code == EINVAL && set.error().kernel_log.find("Bad value") != std::string::npos) {
        GTEST_SKIP() << "lowerdir+ takes no fd before 6.13: " << set.error().Message();
      }
      ASSERT_TRUE(set) << set.error().Message();
    }
    auto created = fs->Create();
    ASSERT_TRUE(created) << created.error().Message();
    auto mnt = fs->Mount();
    ASSERT_TRUE(mnt) << mnt.error().Message();
    ASSERT_TRUE(MoveMount(mnt->Get(), "", AT_FDCWD, base + "/merged", MOVE_MOUNT_F_EMPTY_PATH));
    EXPECT_TRUE(Exists(base + "/merged/from-top"));
    EXPECT_TRUE(Exists(base + "/merged/from-bottom"));
  });
}

// ---- OpenTree, MoveMount, MountSetattr -----------------------------------------------

TEST(OpenTree, CloneIsCloseOnExecWithoutTheFlag) {
  auto tree = OpenTree(AT_FDCWD, "/proc", OPEN_TREE_CLONE);
  ASSERT_TRUE(tree) << tree.error().Message();
  EXPECT_TRUE(IsCloseOnExec(tree->Get()));
}

TEST(OpenTree, ErrorNamesTheCallAndThePath) {
  auto tree = OpenTree(AT_FDCWD, "/no/such/mntns/path", OPEN_TREE_CLONE);
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().code, ENOENT);
  EXPECT_EQ(tree.error().Message(), "open_tree \"/no/such/mntns/path\": No such file or directory (ENOENT)");
}

TEST(OpenTree, ReadOnlyCloneAttachedByMoveMountIsReadOnlyThereOnly) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base + "/source"));
    ASSERT_TRUE(std::ofstream(base + "/source/file") << "x");
    ASSERT_TRUE(MakeDirs(base + "/copy"));
    auto tree = OpenTree(AT_FDCWD, base + "/source", OPEN_TREE_CLONE);
    ASSERT_TRUE(tree) << tree.error().Message();
    // On the detached clone, before it is attached anywhere.
    auto set = MountSetattr(tree->Get(), "", AT_EMPTY_PATH, {.attr_set = MOUNT_ATTR_RDONLY});
    ASSERT_TRUE(set) << set.error().Message();
    auto moved = MoveMount(tree->Get(), "", AT_FDCWD, base + "/copy", MOVE_MOUNT_F_EMPTY_PATH);
    ASSERT_TRUE(moved) << moved.error().Message();

    EXPECT_TRUE(Exists(base + "/copy/file"));
    struct statvfs copy {};
    struct statvfs source {};
    ASSERT_EQ(::statvfs((base + "/copy").c_str(), &copy), 0);
    ASSERT_EQ(::statvfs((base + "/source").c_str(), &source), 0);
    EXPECT_NE(copy.f_flag & ST_RDONLY, 0U);
    EXPECT_EQ(source.f_flag & ST_RDONLY, 0U);
    auto mount = StatmountByPath(base + "/copy", {.mask = field::kMntBasic});
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_NE(mount->attr & MOUNT_ATTR_RDONLY, 0U);
  });
}

TEST(MountSetattr, ClearsWhatAttrClrNames) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(MountSetattr(AT_FDCWD, base, 0, {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC}));
    auto cleared = MountSetattr(AT_FDCWD, base, 0, {.attr_clr = MOUNT_ATTR_RDONLY});
    ASSERT_TRUE(cleared) << cleared.error().Message();
    auto mount = StatmountByPath(base, {.mask = field::kMntBasic});
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_EQ(mount->attr & MOUNT_ATTR_RDONLY, 0U);
    EXPECT_NE(mount->attr & MOUNT_ATTR_NOEXEC, 0U);
  });
}

TEST(MountSetattr, PropagationMakesTheMountShared) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    auto shared = MountSetattr(AT_FDCWD, base, 0, {.propagation = MS_SHARED});
    ASSERT_TRUE(shared) << shared.error().Message();
    auto mount = StatmountByPath(base, {.mask = field::kMntBasic});
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_NE(mount->propagation & MS_SHARED, 0U);
    EXPECT_NE(mount->peer_group, 0U);
  });
}

TEST(MountSetattr, RecursiveReachesEverySubmount) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(MountTmpfs(base + "/sub"));
    auto set = MountSetattr(AT_FDCWD, base, AT_RECURSIVE, {.attr_set = MOUNT_ATTR_NOSUID});
    ASSERT_TRUE(set) << set.error().Message();
    auto sub = StatmountByPath(base + "/sub", {.mask = field::kMntBasic});
    ASSERT_TRUE(sub) << sub.error().Message();
    EXPECT_NE(sub->attr & MOUNT_ATTR_NOSUID, 0U);
  });
}

TEST(MountSetattr, ErrorNamesTheCallAndThePath) {
  auto set = MountSetattr(AT_FDCWD, "/no/such/mntns/path", 0, {.attr_set = MOUNT_ATTR_RDONLY});
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, ENOENT);
  EXPECT_EQ(set.error().operation, "mount_setattr");
  EXPECT_EQ(set.error().argument, "\"/no/such/mntns/path\"");
}

TEST(MoveMount, ErrorNamesBothEnds) {
  auto tree = OpenTree(AT_FDCWD, "/proc", OPEN_TREE_CLONE);
  ASSERT_TRUE(tree) << tree.error().Message();
  auto moved = MoveMount(tree->Get(), "", AT_FDCWD, "/no/such/mntns/path", MOVE_MOUNT_F_EMPTY_PATH);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, ENOENT);
  EXPECT_EQ(moved.error().operation, "move_mount");
  EXPECT_NE(moved.error().argument.find("-> \"/no/such/mntns/path\""), std::string::npos) << moved.error().argument;
}

// ---- mount namespace fds -----------------------------------------------------------

TEST(MountNamespaceId, EqualsTheNamespaceIdStatmountReports) {
  InPrivateMountNamespace([] {
    auto ns = OpenTreeNamespace(AT_FDCWD, "/proc", OPEN_TREE_CLOEXEC);
    ASSERT_TRUE(ns) << ns.error().Message();
    auto id = MountNamespaceId(ns->Get());
    ASSERT_TRUE(id) << id.error().Message();
    auto mounts = ListMounts(NamespaceRef::ByFile("/proc/self/fd/" + std::to_string(ns->Get())),
                             {.mask = field::kMntNsId | field::kMntBasic});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    ASSERT_FALSE(mounts->empty());
    EXPECT_EQ(mounts->front().ns_id, *id);
    // And it is not the caller's.
    auto own = MountNamespaceId(OpenOwnNamespace().Get());
    ASSERT_TRUE(own) << own.error().Message();
    EXPECT_NE(*own, *id);
  });
}

TEST(MountNamespaceId, AFileThatIsNoNamespaceIsRefused) {
  const UniqueFd root(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(root);
  auto id = MountNamespaceId(root.Get());
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().code, ENOTTY);
  EXPECT_EQ(id.error().operation, "ioctl(NS_GET_MNTNS_ID)");
}

TEST(CountMountsInNamespace, CountsEveryMountOfTheNamespace) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base + "/one"));
    ASSERT_TRUE(MountTmpfs(base + "/two"));
    auto before = CountMountsInNamespace(OpenOwnNamespace().Get());
    ASSERT_TRUE(before) << before.error().Message();
    auto mounts = ListMounts({}, {.mask = field::kMntBasic});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    // 7.x's nullfs root below the rootfs is counted, never listed.
    EXPECT_EQ(*before, mounts->size() + (testing::CallerListsARootfs() ? 1 : 0));
    ASSERT_TRUE(MountTmpfs(base + "/three"));
    auto after = CountMountsInNamespace(OpenOwnNamespace().Get());
    ASSERT_TRUE(after) << after.error().Message();
    EXPECT_EQ(*after, *before + 1);
  });
}

TEST(EnterMountNamespace, AForkedChildSeesTheNamespacesTree) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base + "/tree"));
    ASSERT_TRUE(std::ofstream(base + "/tree/only-in-the-tree") << "x");
    auto ns = OpenTreeNamespace(AT_FDCWD, base + "/tree", OPEN_TREE_CLOEXEC);
    ASSERT_TRUE(ns) << ns.error().Message();
    // The test child may have factory threads: setns wants a single-threaded caller.
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const bool entered = EnterMountNamespace(ns->Get()).has_value();
      ::_exit(entered && Exists("/only-in-the-tree") ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  });
}

TEST(UnshareMountNamespace, MountsAfterItStayInTheNewNamespace) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MakeDirs(base + "/later"));
    auto before = MountNamespaceId(OpenOwnNamespace().Get());
    ASSERT_TRUE(before) << before.error().Message();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto unshared = UnshareMountNamespace();
      auto privatized = unshared ? MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, {.propagation = MS_PRIVATE})
                                 : Result<void>(std::unexpected(unshared.error()));
      const bool mounted = privatized && testing::MountTmpfs(base + "/later");
      auto after = MountNamespaceId(OpenOwnNamespace().Get());
      ::_exit(mounted && after && *after != *before ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    auto later = StatmountByPath(base + "/later", {.mask = field::kMntPoint});
    ASSERT_TRUE(later) << later.error().Message();
    EXPECT_NE(later->point, base + "/later") << "the child's tmpfs reached this namespace";
  });
}

// ---- PinNamespace / OpenPinnedTreeNamespace ------------------------------------------

TEST(OpenPinnedTreeNamespace, NamespaceOutlivesItsFdAndIsReleasedByUmount) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(MountTmpfs(base + "/tree", "size=16k"));
    ASSERT_TRUE(MountTmpfs(base + "/tree/sub"));
    const std::string pin = base + "/ns";
    {
      auto pinned = OpenPinnedTreeNamespace(AT_FDCWD, base + "/tree", AT_RECURSIVE, pin);
      ASSERT_TRUE(pinned) << pinned.error().Message();
      EXPECT_NE(pinned->strategy, NamespaceStrategy::kAuto);
      EXPECT_TRUE(IsCloseOnExec(pinned->ns.Get()));
    }  // the fd is closed here
    auto mounts = ListMounts(NamespaceRef::ByFile(pin), {.mask = field::kMntPoint | field::kMntBasic});
    ASSERT_TRUE(mounts) << mounts.error().Message();
    ASSERT_EQ(mounts->size(), 2U);
    EXPECT_EQ((*mounts)[0].point, "/");
    EXPECT_EQ((*mounts)[1].point, "/sub");
    ASSERT_EQ(::umount2(pin.c_str(), MNT_DETACH), 0);
    EXPECT_FALSE(ListMounts(NamespaceRef::ByFile(pin)));
  });
}

TEST(PinNamespace, TheCallersOwnNamespaceIsRefusedWithELOOP) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    // Not newer than the namespace the bind would land in: the kernel's loop rule.
    auto pinned = PinNamespace(OpenOwnNamespace().Get(), base + "/ns");
    ASSERT_FALSE(pinned);
    EXPECT_EQ(pinned.error().code, ELOOP);
    EXPECT_NE(pinned.error().argument.find("onto \"" + base + "/ns\""), std::string::npos)
        << pinned.error().Message();
    EXPECT_FALSE(Exists(base + "/ns")) << "the file it created stays behind";
  });
}

TEST(PinNamespace, AFileOnASharedMountIsRefusedWithTheReason) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(SetPropagation(base, MS_SHARED));
    auto ns = OpenTreeNamespace(AT_FDCWD, "/proc", OPEN_TREE_CLOEXEC);
    ASSERT_TRUE(ns) << ns.error().Message();
    auto pinned = PinNamespace(ns->Get(), base + "/ns");
    ASSERT_FALSE(pinned);
    EXPECT_EQ(pinned.error().code, EINVAL);
    EXPECT_EQ(pinned.error().operation, "PinNamespace");
    EXPECT_NE(pinned.error().argument.find("is shared"), std::string::npos) << pinned.error().Message();
    EXPECT_FALSE(Exists(base + "/ns"));
  });
}

TEST(PinNamespace, AFileThatAlreadyPinsANamespaceIsRefused) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    const std::string pin = base + "/ns";
    auto first = OpenPinnedTreeNamespace(AT_FDCWD, "/proc", 0, pin);
    ASSERT_TRUE(first) << first.error().Message();
    auto second = PinNamespace(first->ns.Get(), pin);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, EBUSY);
    // Nothing was stacked: one umount releases the pin.
    ASSERT_EQ(::umount2(pin.c_str(), MNT_DETACH), 0);
    EXPECT_NE(::umount2(pin.c_str(), MNT_DETACH), 0);
  });
}

TEST(PinNamespace, ADirectoryIsRefused) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(MakeDirs(base + "/dir"));
    auto ns = OpenTreeNamespace(AT_FDCWD, "/proc", OPEN_TREE_CLOEXEC);
    ASSERT_TRUE(ns) << ns.error().Message();
    auto pinned = PinNamespace(ns->Get(), base + "/dir");
    ASSERT_FALSE(pinned);
    EXPECT_EQ(pinned.error().code, EISDIR);
  });
}

TEST(PinNamespace, AMissingDirectoryIsNamedWithTheFile) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    auto ns = OpenTreeNamespace(AT_FDCWD, "/proc", OPEN_TREE_CLOEXEC);
    ASSERT_TRUE(ns) << ns.error().Message();
    auto pinned = PinNamespace(ns->Get(), base + "/nodir/f");
    ASSERT_FALSE(pinned);
    EXPECT_EQ(pinned.error().Message(), "PinNamespace \"" + base + "/nodir/f\": its directory \"" + base +
                                            "/nodir\": No such file or directory (ENOENT)");
  });
}

}  // namespace
}  // namespace mntns
