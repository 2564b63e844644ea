// StatmountByFd: statmount(STATMOUNT_BY_FD) on 7.x, an emulation on 6.8+.
// The reference semantics are Linux 7.2's, as probed (docs/statmount-by-fd.md).
#include "query/statmount_by_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <optional>

#include <fmt/format.h>

#include "mntns/fd.h"
#include "mntns/features.h"
#include "query/statmount.h"
#include "sys/files.h"
#include "sys/syscalls.h"

namespace mntns {
namespace internal {
namespace {

// Directories walked up ("..") from a directory fd to the root of its mount, at most.
constexpr int kMaximumWalkDepth = 4096;

constexpr unsigned long kStNoSymfollow = 0x2000;  // ST_NOSYMFOLLOW, 5.10; glibc 2.36 lacks it
constexpr std::uint32_t kSbSynchronous = 0x10;     // SB_SYNCHRONOUS == ST_SYNCHRONOUS

// Superblock magics of filesystems that exist only as kernel-internal mounts (kern_mount):
// pipes, sockets, namespace files, anon inodes (eventfd, epoll, signalfd, ...), pidfds,
// block devices, dma-bufs, secretmem, aio rings and dax. No caller can see those mounts,
// and Linux 7.2 answers EINVAL for an fd on any of them.
constexpr std::uint64_t kInternalMagics[] = {
    0x50495045,  // PIPEFS_MAGIC
    0x534F434B,  // SOCKFS_MAGIC
    0x6e736673,  // NSFS_MAGIC
    0x09041934,  // ANON_INODE_FS_MAGIC
    0x50494446,  // PID_FS_MAGIC (6.9+; pidfds were anon inodes before)
    0x62646576,  // BDEVFS_MAGIC
    0x444d4142,  // DMA_BUF_MAGIC
    0x5345434d,  // SECRETMEM_MAGIC
    0xa10a10a1,  // AIO_RING_MAGIC
    0x64646178,  // DAXFS_MAGIC
};

// Filesystem types whose superblock magic no other type shares (ext2/3/4, vfat/msdos,
// fuse/fuseblk and nfs/nfs4 do share theirs, so they are not derived). devtmpfs reports
// TMPFS_MAGIC and therefore shows as tmpfs.
struct KnownType {
  std::uint64_t magic;
  const char* name;
};
constexpr KnownType kKnownTypes[] = {
    {0x01021994, "tmpfs"},      {0x858458f6, "ramfs"},      {0x9fa0, "proc"},
    {0x62656572, "sysfs"},      {0x63677270, "cgroup2"},    {0x0027e0eb, "cgroup"},
    {0x9123683e, "btrfs"},      {0x58465342, "xfs"},        {0x794c7630, "overlay"},
    {0x73717368, "squashfs"},   {0xe0f5e1e2, "erofs"},      {0x1cd1, "devpts"},
    {0x19800202, "mqueue"},     {0x64626720, "debugfs"},    {0x74726163, "tracefs"},
    {0x73636673, "securityfs"}, {0xcafe4a11, "bpf"},        {0x62656570, "configfs"},
    {0x958458f6, "hugetlbfs"},  {0x42494e4d, "binfmt_misc"}, {0x0187, "autofs"},
    {0x9660, "iso9660"},        {0xf2f52010, "f2fs"},       {0xde5e81e4, "efivarfs"},
    {0x6165676c, "pstore"},     {0xf97cff8c, "selinuxfs"},
};

std::unexpected<Error> FdError(int code, int fd) {
  return MakeError(code, "statmount", fmt::format("fd {} (STATMOUNT_BY_FD)", fd));
}

// Where the emulation looks when statmount by id had no answer.
enum class Reach {
  kOutsideNamespace,  // not in the caller's namespace: detached, another namespace, internal
  kOutsideRoot,       // in the caller's namespace, outside its root (chroot), no CAP_SYS_ADMIN
};

// What statx says about the place an fd (or a directory reached from it) is at.
struct Place {
  std::uint64_t mount_id = 0;  // unique mount id
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  bool is_directory = false;
};

Result<Place> PlaceOf(int fd) {
  auto status = sys::Statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | sys::kStatxMntIdUnique);
  if (!status) {
    status.error().argument = fmt::format("fd {}", fd);
    return std::unexpected(status.error());
  }
  const struct statx& stx = *status;
  if ((stx.stx_mask & sys::kStatxMntIdUnique) == 0) {
    return MakeError(ENOSYS, "statx(STATX_MNT_ID_UNIQUE)", fmt::format("fd {}", fd));
  }
  return Place{.mount_id = stx.stx_mnt_id,
               .dev = makedev(stx.stx_dev_major, stx.stx_dev_minor),
               .ino = stx.stx_ino,
               .is_directory = S_ISDIR(stx.stx_mode)};
}

// The old (reusable, 32-bit) mount id that mountinfo shows; 0 if statx cannot say.
std::uint32_t OldMountIdOf(int fd) {
  auto stx = sys::Statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID);
  if (!stx) return 0;
  return (stx->stx_mask & STATX_MNT_ID) != 0 ? static_cast<std::uint32_t>(stx->stx_mnt_id) : 0;
}

// The mount a directory's mount is attached to, found the way path lookup finds it: ".."
// from the root of a mount crosses to the mount it sits on, and stays put on a mount that
// has no parent (a detached mount, the root of a detached tree, a namespace's root), which
// is then its own parent, as statmount reports it. nullopt where this cannot be known: a
// non-directory fd (".." needs a directory) or a directory the caller may not search.
struct ParentMount {
  UniqueFd directory;  // a directory on the parent mount
  Place place;         // place.mount_id == the child's id: the mount has no parent
};

std::optional<ParentMount> ParentOf(int fd, const Place& start) {
  if (!start.is_directory) return std::nullopt;
  UniqueFd current;
  int at = fd;
  Place here = start;
  for (int depth = 0; depth < kMaximumWalkDepth; ++depth) {
    auto opened = sys::Open(at, "..", O_PATH | O_DIRECTORY);
    if (!opened) return std::nullopt;
    UniqueFd up = std::move(*opened);
    auto above = PlaceOf(up.Get());
    if (!above) return std::nullopt;
    const bool stayed = above->mount_id == here.mount_id && above->dev == here.dev &&
                        above->ino == here.ino;
    if (above->mount_id != start.mount_id || stayed) {
      return ParentMount{.directory = std::move(up), .place = *above};
    }
    current = std::move(up);
    at = current.Get();
    here = *above;
  }
  return std::nullopt;
}

std::uint64_t AttrFromStatvfs(unsigned long flags) {
  std::uint64_t attr = 0;
  if (flags & ST_RDONLY) attr |= MOUNT_ATTR_RDONLY;
  if (flags & ST_NOSUID) attr |= MOUNT_ATTR_NOSUID;
  if (flags & ST_NODEV) attr |= MOUNT_ATTR_NODEV;
  if (flags & ST_NOEXEC) attr |= MOUNT_ATTR_NOEXEC;
  if (flags & ST_NODIRATIME) attr |= MOUNT_ATTR_NODIRATIME;
  if (flags & kStNoSymfollow) attr |= MOUNT_ATTR_NOSYMFOLLOW;
  // statmount reports the atime mode like mount_setattr takes it: one of three values.
  if (flags & ST_NOATIME) {
    attr |= MOUNT_ATTR_NOATIME;
  } else if ((flags & ST_RELATIME) == 0) {
    attr |= MOUNT_ATTR_STRICTATIME;
  }
  return attr;
}

// What an fd tells about its mount without any kernel mount-table lookup (Mount::derived
// documents which fields that fills).
Result<Mount> DeriveFromFd(int fd, FieldMask mask, Reach reach) {
  auto fs = sys::Fstatfs(fd);
  if (!fs) return FdError(fs.error().code, fd);
  const auto magic = static_cast<std::uint64_t>(fs->f_type);
  for (std::uint64_t internal_magic : kInternalMagics) {
    if (magic == internal_magic) return FdError(EINVAL, fd);
  }
  auto vfs = sys::Fstatvfs(fd);
  if (!vfs) return FdError(vfs.error().code, fd);
  auto self = PlaceOf(fd);
  if (!self) return FdError(self.error().code, fd);

  Mount mount;
  mount.derived = true;
  FieldMask known = field::kSbBasic | field::kMntBasic;
  mount.sb_dev_major = major(self->dev);
  mount.sb_dev_minor = minor(self->dev);
  mount.sb_magic = magic;
  mount.sb_flags = (vfs->f_flag & ST_SYNCHRONOUS) != 0 ? kSbSynchronous : 0;
  mount.id = self->mount_id;
  mount.old_id = OldMountIdOf(fd);
  mount.attr = AttrFromStatvfs(vfs->f_flag);
  for (const KnownType& type : kKnownTypes) {
    if (type.magic == magic) {
      mount.fs_type = type.name;
      known |= field::kFsType;
    }
  }

  if (auto parent = ParentOf(fd, *self)) {
    if (parent->place.mount_id == self->mount_id) {
      mount.parent_id = mount.id;
      mount.old_parent_id = mount.old_id;
    } else {
      mount.parent_id = parent->place.mount_id;
      mount.old_parent_id = OldMountIdOf(parent->directory.Get());
      // Linux 7.2 reports paths in a namespace that is not the caller's relative to the
      // first submount of that namespace's root (the submount with the smallest id), so
      // that submount itself has mnt_point "/" and its siblings none. Unique ids grow by
      // one per mount and open_tree copies a tree root first, so a child whose id follows
      // its parentless parent's is that first submount. Other paths cannot be known here.
      const bool first_submount_of_a_root = reach == Reach::kOutsideNamespace &&
                                            mount.id == mount.parent_id + 1;
      if (first_submount_of_a_root) {
        auto grandparent = ParentOf(parent->directory.Get(), parent->place);
        if (grandparent && grandparent->place.mount_id == parent->place.mount_id) {
          mount.point = "/";
          known |= field::kMntPoint;
        }
      }
    }
  }
  mount.mask = mask & known;
  return mount;
}

}  // namespace

Result<Mount> NativeStatmountByFd(int fd, FieldMask mask) {
  // The kernel takes the fd as __u32: -1 becomes 0xffffffff and fails with EBADF, as a
  // closed fd does.
  const sys::MntIdReq request{.size = sys::kMntIdReqSizeVer1,
                              .mnt_ns_fd_or_mnt_fd = static_cast<std::uint32_t>(fd),
                              .mnt_id = 0,
                              .param = mask,
                              .mnt_ns_id = 0};
  StatmountReader reader;
  auto mount = reader.Call(request, sys::kStatmountByFd);
  if (mount || mount.error().code != ENOENT) return mount;
  // 7.2 resolves paths through the mount's namespace and needs a submount of its root for
  // that; a detached tree of one mount (open_tree without AT_RECURSIVE, an fsmount() fd
  // before move_mount) has none, so the whole call fails although the fd still knows its
  // filesystem and mount flags.
  return DeriveFromFd(fd, mask, Reach::kOutsideNamespace);
}

Result<Mount> EmulatedStatmountByFd(int fd, FieldMask mask) {
  // statx takes AT_FDCWD (-100) as "the cwd"; the kernel's BY_FD takes it as a bad fd.
  if (fd < 0) return FdError(EBADF, fd);
  auto id = sys::UniqueMountIdOf(fd, "", AT_EMPTY_PATH);
  if (!id) return FdError(id.error().code, fd);
  StatmountReader reader;
  auto mount = reader.ById(*id, 0, mask);
  if (mount) return mount;
  switch (mount.error().code) {
    case ENOENT:
      // statmount by id looks only in the caller's namespace.
      return DeriveFromFd(fd, mask, Reach::kOutsideNamespace);
    case EPERM:
      // By id, a mount outside the caller's root needs CAP_SYS_ADMIN; 7.x BY_FD answers
      // anyone who holds an fd on it (without MNT_POINT).
      return DeriveFromFd(fd, mask, Reach::kOutsideRoot);
    default:
      return FdError(mount.error().code, fd);
  }
}

}  // namespace internal

Result<Mount> StatmountByFd(int fd, FieldMask mask) {
  if (KernelFeatures().statmount_by_fd) return internal::NativeStatmountByFd(fd, mask);
  return internal::EmulatedStatmountByFd(fd, mask);
}

}  // namespace mntns
