// Mount-namespace files (nsfs binds of /proc/PID/ns/mnt) in copied trees:
// finding them, dropping them, and cloning a tree without them.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>

#include <cerrno>

#include "namespace/internal.h"
#include "query/statmount.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns::internal {
namespace {

constexpr std::uint64_t kNsfsMagic = 0x6e736673;  // NSFS_MAGIC
constexpr std::size_t kListmountBatch = 512;

// The mount points of the mount-namespace files in the calling thread's
// namespace, in listmount order; with `first_only`, stops at the first one.
Result<std::vector<std::string>> FindMountNamespaceFiles(bool first_only) {
  sys::MntIdReq request{.size = sys::kMntIdReqSizeVer1,
                        .mnt_ns_fd_or_mnt_fd = 0,
                        .mnt_id = sys::kListmountRoot,
                        .param = 0,
                        .mnt_ns_id = 0};
  std::vector<std::uint64_t> ids(kListmountBatch);
  std::vector<std::string> found;
  StatmountReader reader;
  for (;;) {
    auto count = sys::Listmount(request, ids, 0);
    if (!count) return std::unexpected(count.error());
    for (std::size_t i = 0; i < *count; ++i) {
      auto basic = reader.ById(ids[i], 0, field::kSbBasic);
      if (!basic) {
        if (basic.error().code == ENOENT) continue;
        return std::unexpected(basic.error());
      }
      if (basic->sb_magic != kNsfsMagic) continue;
      auto mount = reader.ById(ids[i], 0, field::kMntRoot | field::kMntPoint);
      if (!mount) return std::unexpected(mount.error());
      if (!mount->root.starts_with("mnt:[")) continue;
      found.push_back(mount->point);
      if (first_only) return found;
    }
    if (*count < ids.size()) break;
    request.param = ids[*count - 1];
  }
  return found;
}

}  // namespace

Result<bool> HasMountNamespaceFiles() {
  auto found = FindMountNamespaceFiles(true);
  if (!found) return std::unexpected(found.error());
  return !found->empty();
}

Result<void> DropMountNamespaceFiles() {
  // OPEN_TREE_CLONE|AT_RECURSIVE copies binds of mount-namespace files
  // (CL_COPY_MNT_NS_FILE) while OPEN_TREE_NAMESPACE skips them: a namespace
  // that holds a reference to another namespace can build reference loops.
  auto doomed = FindMountNamespaceFiles(false);
  if (!doomed) return std::unexpected(doomed.error());
  // Deepest first, so a file under another one's mount point stays reachable.
  for (auto it = doomed->rbegin(); it != doomed->rend(); ++it) {
    // NOFOLLOW: a symlink put where the file was must not send the umount elsewhere.
    auto unmounted = sys::Umount(it->c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    if (!unmounted) return unmounted;
  }
  return kOk;
}

Result<UniqueFd> CloneTreeWithoutNamespaceFiles(int source_fd) {
  Result<UniqueFd> result = MakeError(EINVAL, "clone without mount-namespace files");
  auto thread = StartHelperThread([&] {
    const auto run = [&]() -> Result<UniqueFd> {
      // unshare(CLONE_NEWNS) moves the thread's cwd to the copy of the mount
      // it was on: that is how the source is found again inside the copy.
      if (auto r = sys::Unshare(CLONE_FS); !r) return std::unexpected(r.error());
      if (auto r = sys::Fchdir(source_fd); !r) return std::unexpected(r.error());
      if (auto r = sys::Unshare(CLONE_NEWNS); !r) return std::unexpected(r.error());
      // Unmounting a file whose parent is shared would unmount it in every
      // peer, the caller's namespace among them: the copy goes private first.
      mount_attr attr{};
      attr.propagation = MS_PRIVATE;
      if (auto r = sys::MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, attr); !r) return std::unexpected(r.error());
      if (auto r = DropMountNamespaceFiles(); !r) return std::unexpected(r.error());
      return sys::OpenTree(AT_FDCWD, ".", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    };
    result = run();
  });
  if (!thread) return std::unexpected(thread.error());
  thread->join();
  return result;
}

}  // namespace mntns::internal
