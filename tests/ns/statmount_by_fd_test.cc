// StatmountByFd against the statmount(STATMOUNT_BY_FD) table of Linux 7.2
// (shared/facts/kernel-7.2-behaviour.md, docs/statmount-by-fd.md). The same binary
// runs on the host (6.x: the emulation) and in the 7.x VM (the native call); where
// the two legitimately differ, a test branches on KernelFeatures().statmount_by_fd
// and says why.
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mntns/fd.h"
#include "mntns/features.h"
#include "mntns/query.h"
#include "query/statmount_by_fd.h"
#include "support/cli_runner.h"
#include "support/namespace.h"

namespace mntns {
namespace {

using testing::AsUnprivilegedUser;
using testing::InPrivateMountNamespace;
using testing::MountTmpfs;

constexpr std::uint64_t kTmpfsMagic = 0x01021994;
// What the 6.x emulation (and either kernel where 7.2 itself answers ENOENT) derives.
constexpr FieldMask kDerivedMask = field::kSbBasic | field::kMntBasic | field::kFsType;

bool Native() { return KernelFeatures().statmount_by_fd; }

UniqueFd OpenPath(const std::string& path, int flags = O_PATH) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  EXPECT_TRUE(fd.Valid()) << "open " << path << ": " << std::strerror(errno);
  return fd;
}

// The mount a path lives on, by id: the reference BY_FD must match for attached mounts.
Mount ById(const std::string& path) {
  auto mount = StatmountByPath(path);
  EXPECT_TRUE(mount) << mount.error().Message();
  return mount ? *mount : Mount{};
}

std::uint64_t CallerNamespaceId() { return ById("/").ns_id; }

void ExpectSameMount(const Mount& a, const Mount& b) {
  EXPECT_EQ(a.mask, b.mask) << FieldNames(a.mask).size() << " vs " << FieldNames(b.mask).size();
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.parent_id, b.parent_id);
  EXPECT_EQ(a.old_id, b.old_id);
  EXPECT_EQ(a.attr, b.attr);
  EXPECT_EQ(a.propagation, b.propagation);
  EXPECT_EQ(a.peer_group, b.peer_group);
  EXPECT_EQ(a.root, b.root);
  EXPECT_EQ(a.point, b.point);
  EXPECT_EQ(a.fs_type, b.fs_type);
  EXPECT_EQ(a.ns_id, b.ns_id);
  EXPECT_EQ(a.sb_source, b.sb_source);
  EXPECT_EQ(a.fs_option_array, b.fs_option_array);
  EXPECT_EQ(a.sb_dev_major, b.sb_dev_major);
  EXPECT_EQ(a.sb_dev_minor, b.sb_dev_minor);
  EXPECT_EQ(a.sb_magic, b.sb_magic);
  EXPECT_EQ(a.derived, b.derived);
}

// A derived result: the fields fstatfs/statx/fstatvfs give, for a parentless mount
// (a directory fd, so the parent is known: itself).
void ExpectDerivedParentless(const Mount& mount, const Mount& attached_before) {
  EXPECT_TRUE(mount.derived);
  EXPECT_EQ(mount.mask, kDerivedMask) << "derived: sb_basic, mnt_basic, fs_type only";
  EXPECT_EQ(mount.id, attached_before.id) << "a mount keeps its unique id when detached";
  EXPECT_EQ(mount.old_id, attached_before.old_id);
  EXPECT_EQ(mount.parent_id, mount.id) << "a detached mount is its own parent";
  EXPECT_EQ(mount.old_parent_id, mount.old_id);
  EXPECT_EQ(mount.attr, attached_before.attr);
  EXPECT_EQ(mount.fs_type, "tmpfs");
  EXPECT_EQ(mount.sb_magic, kTmpfsMagic);
  EXPECT_EQ(mount.sb_dev_major, attached_before.sb_dev_major);
  EXPECT_EQ(mount.sb_dev_minor, attached_before.sb_dev_minor);
  EXPECT_EQ(mount.propagation, 0U) << "unknown, not private";
}

// ---- attached mounts: the same answer as statmount by id ----------------------

TEST(StatmountByFd, AttachedMountViaOPathDirectoryHasEveryFieldOfStatmountById) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base, "size=64k"));
    UniqueFd fd = OpenPath(base);
    auto mount = StatmountByFd(fd.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    ExpectSameMount(*mount, ById(base));
    EXPECT_TRUE(mount->Has(field::kMntPoint | field::kMntNsId | field::kMntRoot | field::kSbSource));
    EXPECT_EQ(mount->point, base);
    EXPECT_EQ(mount->ns_id, CallerNamespaceId());
    EXPECT_FALSE(mount->derived);
  });
}

TEST(StatmountByFd, AttachedMountViaRegularFile) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    UniqueFd fd = OpenPath(base + "/file", O_RDWR | O_CREAT);
    auto mount = StatmountByFd(fd.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    ExpectSameMount(*mount, ById(base));
  });
}

TEST(StatmountByFd, AttachedMountWorksUnprivileged) {
  // 7.x BY_FD needs no capability; the 6.x emulation's statmount by id allows any caller
  // to look at a reachable mount of its own namespace.
  UniqueFd fd;
  Mount expected;
  std::string base;
  AsUnprivilegedUser(
      [&] {
        base = testing::TempDir();
        ASSERT_TRUE(MountTmpfs(base));
        fd = OpenPath(base);
        expected = ById(base);
      },
      [&] {
        auto mount = StatmountByFd(fd.Get());
        ASSERT_TRUE(mount) << mount.error().Message();
        ExpectSameMount(*mount, expected);
        EXPECT_EQ(mount->point, base);
      });
}

TEST(StatmountByFd, NestedAttachedMountHasItsFullPath) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(MountTmpfs(base + "/a/b"));
    UniqueFd fd = OpenPath(base + "/a/b");
    auto mount = StatmountByFd(fd.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_EQ(mount->point, base + "/a/b");
    EXPECT_EQ(mount->parent_id, ById(base).id);
  });
}

TEST(StatmountByFd, ReturnsOnlyTheRequestedFields) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    UniqueFd fd = OpenPath(base);
    auto mount = StatmountByFd(fd.Get(), field::kMntRoot | field::kFsType);
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_EQ(mount->mask, field::kMntRoot | field::kFsType);
    EXPECT_EQ(mount->root, "/");
    EXPECT_EQ(mount->fs_type, "tmpfs");
    EXPECT_EQ(mount->id, 0U);
  });
}

TEST(StatmountByFd, EmulationAndNativeCallAgreeOnAnAttachedMount) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(testing::SetMountAttributes(base, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    UniqueFd fd = OpenPath(base);
    auto emulated = internal::EmulatedStatmountByFd(fd.Get(), field::kAll);
    ASSERT_TRUE(emulated) << emulated.error().Message();
    if (!Native()) {
      // 6.x: no native call to compare with; the emulation equals statmount by id.
      ExpectSameMount(*emulated, ById(base));
      return;
    }
    auto native = internal::NativeStatmountByFd(fd.Get(), field::kAll);
    ASSERT_TRUE(native) << native.error().Message();
    ExpectSameMount(*emulated, *native);
  });
}

// ---- outside the caller's root (kernel selftest statmount_by_fd) ----------------

// Builds base (tmpfs) with base/sub bound onto itself and base/chroot; returns an O_PATH
// fd on base/sub, which after chroot(base/chroot) lies outside the root.
UniqueFd MountOutsideFutureRoot(const std::string& base) {
  EXPECT_TRUE(MountTmpfs(base));
  EXPECT_TRUE(testing::BindMount(base + "/sub", base + "/sub"));
  EXPECT_TRUE(testing::MakeDirs(base + "/chroot"));
  return OpenPath(base + "/sub");
}

TEST(StatmountByFd, MountOutsideTheRootHasNoMountPointButItsRoot) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    UniqueFd fd = MountOutsideFutureRoot(base);
    const Mount attached = ById(base + "/sub");
    ASSERT_EQ(::chroot((base + "/chroot").c_str()), 0) << std::strerror(errno);
    auto mount = StatmountByFd(fd.Get(), field::kMntRoot | field::kMntPoint | field::kMntBasic);
    ASSERT_TRUE(mount) << mount.error().Message();
    // As root both kernels answer from the mount table and leave out the unreachable path.
    EXPECT_FALSE(mount->Has(field::kMntPoint)) << mount->point;
    ASSERT_TRUE(mount->Has(field::kMntRoot));
    EXPECT_EQ(mount->root, "/sub");
    EXPECT_EQ(mount->id, attached.id);
    EXPECT_FALSE(mount->derived);
  });
}

TEST(StatmountByFd, MountOutsideTheRootUnprivilegedRevealsNoMountPoint) {
  UniqueFd fd;
  Mount attached;
  AsUnprivilegedUser(
      [&] {
        const std::string base = testing::TempDir();
        fd = MountOutsideFutureRoot(base);
        attached = ById(base + "/sub");
        ASSERT_EQ(::chroot((base + "/chroot").c_str()), 0) << std::strerror(errno);
      },
      [&] {
        auto mount = StatmountByFd(fd.Get());
        ASSERT_TRUE(mount) << mount.error().Message();
        EXPECT_FALSE(mount->Has(field::kMntPoint)) << mount->point;
        EXPECT_EQ(mount->id, attached.id);
        if (Native()) {
          // 7.2 BY_FD skips statmount's "reachable from the root or CAP_SYS_ADMIN" check.
          EXPECT_FALSE(mount->derived);
          EXPECT_EQ(mount->root, "/sub");
          EXPECT_EQ(mount->ns_id, attached.ns_id);
        } else {
          // 6.x statmount by id refuses an unreachable mount without CAP_SYS_ADMIN
          // (EPERM), so the emulation can only derive from the fd.
          EXPECT_TRUE(mount->derived);
          EXPECT_EQ(mount->mask, kDerivedMask);
          EXPECT_EQ(mount->parent_id, attached.parent_id);
        }
      });
}

// ---- umount2(MNT_DETACH) --------------------------------------------------------

void ExpectLazilyDetached(const Mount& mount, const Mount& before) {
  EXPECT_FALSE(mount.Has(field::kMntPoint)) << "no mount point after a lazy detach";
  EXPECT_FALSE(mount.Has(field::kMntNsId)) << "no namespace after a lazy detach";
  if (Native()) {
    // 7.2 still reads the mount itself: everything but the point and namespace.
    EXPECT_FALSE(mount.derived);
    EXPECT_EQ(mount.mask, before.mask & ~(field::kMntPoint | field::kMntNsId));
    EXPECT_EQ(mount.id, before.id);
    EXPECT_EQ(mount.parent_id, mount.id) << "umount makes the mount its own parent";
    EXPECT_EQ(mount.root, before.root);
    EXPECT_EQ(mount.attr, before.attr);
    EXPECT_EQ(mount.propagation, static_cast<std::uint64_t>(MS_PRIVATE)) << "umount makes it private";
    EXPECT_EQ(mount.sb_source, before.sb_source);
    EXPECT_EQ(mount.fs_type, "tmpfs");
  } else {
    // 6.x has no call that reads a mount outside every namespace: derived fields only.
    ExpectDerivedParentless(mount, before);
  }
}

TEST(StatmountByFd, LazilyDetachedMountLosesMountPointAndNamespace) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    ASSERT_TRUE(testing::SetPropagation(base, MS_SHARED));
    ASSERT_TRUE(testing::MakeDirs(base + "/d"));
    ASSERT_TRUE(testing::BindMount(base + "/d", base + "/bind"));
    ASSERT_TRUE(testing::SetMountAttributes(base + "/bind", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID));
    UniqueFd fd = OpenPath(base + "/bind");
    const Mount before = ById(base + "/bind");
    ASSERT_EQ(before.root, "/d");
    ASSERT_EQ(::umount2((base + "/bind").c_str(), MNT_DETACH), 0) << std::strerror(errno);
    auto mount = StatmountByFd(fd.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    ExpectLazilyDetached(*mount, before);
    EXPECT_EQ(mount->attr & (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
  });
}

TEST(StatmountByFd, LazilyDetachedMountUnprivileged) {
  UniqueFd fd;
  Mount before;
  AsUnprivilegedUser(
      [&] {
        const std::string base = testing::TempDir();
        ASSERT_TRUE(MountTmpfs(base));
        fd = OpenPath(base);
        before = ById(base);
        ASSERT_EQ(::umount2(base.c_str(), MNT_DETACH), 0) << std::strerror(errno);
      },
      [&] {
        auto mount = StatmountByFd(fd.Get());
        ASSERT_TRUE(mount) << mount.error().Message();
        ExpectLazilyDetached(*mount, before);
      });
}

// ---- detached trees: open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE]) -----------------

// base (tmpfs) with submounts s1, s1/deep and s2, mounted in that order.
bool BuildTree(const std::string& base) {
  return MountTmpfs(base) && MountTmpfs(base + "/s1") && MountTmpfs(base + "/s1/deep") &&
         MountTmpfs(base + "/s2");
}

UniqueFd CloneTree(const std::string& path, bool recursive) {
  auto tree = ::open_tree(AT_FDCWD, path.c_str(),
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  EXPECT_GE(tree, 0) << "open_tree " << path << ": " << std::strerror(errno);
  return UniqueFd(tree);
}

void ExpectDetachedTreeRoot(const Mount& mount, const Mount& source) {
  EXPECT_FALSE(mount.Has(field::kMntPoint)) << "a detached tree's root has no mount point";
  if (Native()) {
    // 7.2: the root of an anonymous namespace; its id is reported.
    EXPECT_FALSE(mount.derived);
    ASSERT_TRUE(mount.Has(field::kMntNsId));
    EXPECT_NE(mount.ns_id, 0U);
    EXPECT_NE(mount.ns_id, source.ns_id) << "the clone lives in an anonymous namespace";
    EXPECT_EQ(mount.parent_id, mount.id);
    EXPECT_EQ(mount.root, "/");
    EXPECT_EQ(mount.sb_source, source.sb_source);
  } else {
    // 6.x cannot name an anonymous namespace (no id for it before 7.0) nor read its
    // mounts: derived fields, no MNT_NS_ID.
    EXPECT_TRUE(mount.derived);
    EXPECT_EQ(mount.mask, kDerivedMask);
    EXPECT_EQ(mount.parent_id, mount.id);
    EXPECT_EQ(mount.fs_type, "tmpfs");
    EXPECT_EQ(mount.sb_dev_minor, source.sb_dev_minor) << "the clone shares the superblock";
  }
  EXPECT_NE(mount.id, source.id) << "a clone is a new mount";
}

TEST(StatmountByFd, RootOfDetachedTreeWithSubmountsHasNoMountPoint) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildTree(base));
    UniqueFd tree = CloneTree(base, /*recursive=*/true);
    auto mount = StatmountByFd(tree.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    ExpectDetachedTreeRoot(*mount, ById(base));
  });
}

TEST(StatmountByFd, RootOfDetachedTreeUnprivileged) {
  UniqueFd tree;
  Mount source;
  AsUnprivilegedUser(
      [&] {
        const std::string base = testing::TempDir();
        ASSERT_TRUE(BuildTree(base));
        tree = CloneTree(base, true);
        source = ById(base);
      },
      [&] {
        auto mount = StatmountByFd(tree.Get());
        ASSERT_TRUE(mount) << mount.error().Message();
        ExpectDetachedTreeRoot(*mount, source);
      });
}

TEST(StatmountByFd, FirstSubmountOfDetachedTreeHasMountPointSlash) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildTree(base));
    UniqueFd tree = CloneTree(base, true);
    UniqueFd s1(::openat(tree.Get(), "s1", O_PATH | O_CLOEXEC));
    ASSERT_TRUE(s1.Valid()) << std::strerror(errno);
    auto root = StatmountByFd(tree.Get());
    auto mount = StatmountByFd(s1.Get());
    ASSERT_TRUE(root && mount);
    EXPECT_EQ(mount->parent_id, root->id);
    if (!Native() && mount->id != root->id + 1) {
      // 6.x knows the first submount only by its id following the root's; another mount
      // created in between (a concurrent test) hides it, and the point stays unknown.
      EXPECT_FALSE(mount->Has(field::kMntPoint));
      return;
    }
    // 7.2 resolves paths in an anonymous namespace relative to its first submount.
    ASSERT_TRUE(mount->Has(field::kMntPoint));
    EXPECT_EQ(mount->point, "/");
    EXPECT_EQ(mount->derived, !Native());
  });
}

TEST(StatmountByFd, OtherSubmountsOfDetachedTree) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildTree(base));
    UniqueFd tree = CloneTree(base, true);
    UniqueFd s2(::openat(tree.Get(), "s2", O_PATH | O_CLOEXEC));
    UniqueFd deep(::openat(tree.Get(), "s1/deep", O_PATH | O_CLOEXEC));
    ASSERT_TRUE(s2.Valid() && deep.Valid()) << std::strerror(errno);
    auto sibling = StatmountByFd(s2.Get());
    auto nested = StatmountByFd(deep.Get());
    ASSERT_TRUE(sibling) << sibling.error().Message();
    ASSERT_TRUE(nested) << nested.error().Message();
    // On both kernels: a second submount of the root is unreachable from the first one.
    EXPECT_FALSE(sibling->Has(field::kMntPoint)) << sibling->point;
    if (Native()) {
      EXPECT_EQ(nested->point, "/deep") << "relative to the first submount s1";
    } else {
      // 6.x cannot know the path from s1 to its mount: left out.
      EXPECT_FALSE(nested->Has(field::kMntPoint)) << nested->point;
      EXPECT_TRUE(nested->derived);
    }
  });
}

// ---- where 7.2 itself answers ENOENT: derived on both kernels --------------------

TEST(StatmountByFd, SingleMountDetachedTreeIsDerivedOnBothKernels) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(BuildTree(base));
    ASSERT_TRUE(testing::SetMountAttributes(base, MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME));
    UniqueFd tree = CloneTree(base, /*recursive=*/false);
    auto mount = StatmountByFd(tree.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    Mount expected = ById(base);
    EXPECT_TRUE(mount->derived);
    EXPECT_EQ(mount->mask, kDerivedMask);
    EXPECT_NE(mount->id, expected.id);
    EXPECT_EQ(mount->parent_id, mount->id);
    EXPECT_EQ(mount->attr, expected.attr) << "noexec,noatime copied with the mount";
    EXPECT_EQ(mount->attr, static_cast<std::uint64_t>(MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOATIME));
    EXPECT_EQ(mount->fs_type, "tmpfs");
    EXPECT_EQ(mount->sb_magic, kTmpfsMagic);
    EXPECT_FALSE(mount->Has(field::kMntPoint | field::kMntNsId));
  });
}

TEST(StatmountByFd, LeafClonedRecursivelyIsDerivedOnBothKernels) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base));
    UniqueFd tree = CloneTree(base, /*recursive=*/true);
    auto mount = StatmountByFd(tree.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    Mount expected = ById(base);
    expected.id = mount->id;
    expected.old_id = mount->old_id;
    ExpectDerivedParentless(*mount, expected);
  });
}

// A fresh tmpfs from fsopen/fsconfig/fsmount, not attached anywhere.
UniqueFd FsmountTmpfs() {
  UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  EXPECT_TRUE(fs.Valid()) << std::strerror(errno);
  EXPECT_EQ(::fsconfig(fs.Get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0), 0) << std::strerror(errno);
  UniqueFd mnt(::fsmount(fs.Get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV));
  EXPECT_TRUE(mnt.Valid()) << std::strerror(errno);
  return mnt;
}

TEST(StatmountByFd, FsmountFdBeforeMoveMountIsDerivedOnBothKernels) {
  InPrivateMountNamespace([] {
    UniqueFd mnt = FsmountTmpfs();
    auto mount = StatmountByFd(mnt.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_TRUE(mount->derived);
    EXPECT_EQ(mount->mask, kDerivedMask);
    EXPECT_NE(mount->id, 0U);
    EXPECT_EQ(mount->parent_id, mount->id);
    EXPECT_EQ(mount->attr, static_cast<std::uint64_t>(MOUNT_ATTR_NODEV));
    EXPECT_EQ(mount->fs_type, "tmpfs");
    EXPECT_EQ(mount->sb_flags, 0U);
  });
}

TEST(StatmountByFd, DerivedResultHasOnlyTheRequestedFields) {
  InPrivateMountNamespace([] {
    UniqueFd mnt = FsmountTmpfs();
    auto mount = StatmountByFd(mnt.Get(), field::kFsType | field::kMntRoot);
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_EQ(mount->mask, field::kFsType) << "mnt_root cannot be derived";
    EXPECT_EQ(mount->fs_type, "tmpfs");
  });
}

TEST(StatmountByFd, FsmountFdAfterMoveMountIsAnAttachedMount) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    UniqueFd mnt = FsmountTmpfs();
    ASSERT_EQ(::move_mount(mnt.Get(), "", AT_FDCWD, base.c_str(), MOVE_MOUNT_F_EMPTY_PATH), 0)
        << std::strerror(errno);
    auto mount = StatmountByFd(mnt.Get());
    ASSERT_TRUE(mount) << mount.error().Message();
    ExpectSameMount(*mount, ById(base));
    EXPECT_EQ(mount->point, base);
  });
}

// ---- errors ---------------------------------------------------------------------

TEST(StatmountByFd, NegativeFdIsEbadf) {
  for (int fd : {-1, AT_FDCWD}) {
    auto mount = StatmountByFd(fd);
    ASSERT_FALSE(mount) << fd;
    EXPECT_EQ(mount.error().code, EBADF) << fd;
  }
}

TEST(StatmountByFd, ClosedFdIsEbadf) {
  int fd = ::open("/", O_PATH | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::close(fd), 0);
  auto mount = StatmountByFd(fd);
  ASSERT_FALSE(mount);
  EXPECT_EQ(mount.error().code, EBADF);
  EXPECT_NE(mount.error().Message().find("fd " + std::to_string(fd)), std::string::npos)
      << mount.error().Message();
}

TEST(StatmountByFd, FdsOnKernelInternalMountsAreEinval) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd pipe_read(pipe_fds[0]);
  UniqueFd pipe_write(pipe_fds[1]);
  UniqueFd nsfs(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  UniqueFd event(::eventfd(0, EFD_CLOEXEC));
  for (const auto& [name, fd] : {std::pair<const char*, int>{"pipe", pipe_read.Get()},
                                 {"nsfs", nsfs.Get()},
                                 {"socket", socket.Get()},
                                 {"eventfd", event.Get()}}) {
    ASSERT_GE(fd, 0) << name;
    auto mount = StatmountByFd(fd);
    ASSERT_FALSE(mount) << name;
    EXPECT_EQ(mount.error().code, EINVAL) << name;
  }
}

TEST(StatmountByFd, MemfdIsEinvalOnlyOn7x) {
  UniqueFd memfd(::memfd_create("mntns-test", MFD_CLOEXEC));
  ASSERT_TRUE(memfd.Valid()) << std::strerror(errno);
  auto mount = StatmountByFd(memfd.Get());
  if (Native()) {
    // 7.2 knows the shm mount is kernel-internal.
    ASSERT_FALSE(mount);
    EXPECT_EQ(mount.error().code, EINVAL);
  } else {
    // The kernel's internal shm mount is a tmpfs; on 6.x nothing tells it from a
    // detached tmpfs, so the emulation derives what fstatfs says.
    ASSERT_TRUE(mount) << mount.error().Message();
    EXPECT_TRUE(mount->derived);
    EXPECT_EQ(mount->fs_type, "tmpfs");
  }
}

// ---- mntns stat --fd ------------------------------------------------------------

TEST(CliStatFd, JsonOfAnInheritedFdMatchesStatOfItsPath) {
  InPrivateMountNamespace([] {
    const std::string base = testing::TempDir();
    ASSERT_TRUE(MountTmpfs(base, "size=32k"));
    UniqueFd fd = OpenPath(base);
    auto by_fd = testing::RunCli({"stat", "--fd", std::to_string(fd.Get()), "--json"}, fd.Get());
    auto by_path = testing::RunCli({"stat", base, "--json"});
    ASSERT_EQ(by_fd.exit_status, 0) << by_fd.err;
    ASSERT_EQ(by_path.exit_status, 0) << by_path.err;
    EXPECT_EQ(nlohmann::json::parse(by_fd.out), nlohmann::json::parse(by_path.out));
    EXPECT_FALSE(nlohmann::json::parse(by_fd.out).contains("derived"));
  });
}

TEST(CliStatFd, DetachedMountShowsDetachedAndDerived) {
  InPrivateMountNamespace([] {
    UniqueFd mnt = FsmountTmpfs();
    const std::string fd = std::to_string(mnt.Get());
    auto json_run = testing::RunCli({"stat", "--fd", fd, "--json"}, mnt.Get());
    ASSERT_EQ(json_run.exit_status, 0) << json_run.err;
    const auto json = nlohmann::json::parse(json_run.out);
    EXPECT_EQ(json["detached"], true);
    EXPECT_EQ(json["derived"], true);
    EXPECT_TRUE(json["target"].is_null());
    EXPECT_TRUE(json["propagation"].is_null()) << "unknown for a derived mount";
    EXPECT_EQ(json["fstype"], "tmpfs");
    EXPECT_EQ(json["vfs_options"], "rw,nodev,relatime");
    auto text = testing::RunCli({"stat", "--fd", fd}, mnt.Get());
    ASSERT_EQ(text.exit_status, 0) << text.err;
    EXPECT_NE(text.out.find("target:                (detached)"), std::string::npos) << text.out;
  });
}

TEST(CliStatFd, FdExcludesPathAndId) {
  EXPECT_EQ(testing::RunCli({"stat", "--fd", "0", "/"}).exit_status, 2);
  EXPECT_EQ(testing::RunCli({"stat", "--fd", "0", "--id", "2147483650"}).exit_status, 2);
}

TEST(CliStatFd, ClosedFdFailsWithEbadf) {
  auto result = testing::RunCli({"stat", "--fd", "97"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("EBADF"), std::string::npos) << result.err;
}

TEST(CliStatFd, HelpExplainsHowToPassAnFd) {
  auto result = testing::RunCli({"stat", "--help"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_NE(result.out.find("3</proc"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace mntns
