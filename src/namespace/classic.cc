// The classic strategy: what `unshare --mount` + pivot_root have always done.
// The baseline the faster strategies are measured against, and the fallback
// for kernels without statmount (before 6.8). It needs mount_setattr (5.12)
// for the detached tree, which mount(2) cannot reach, so it has no mount(2)
// fallback for "/" either.
#include <sched.h>
#include <sys/mount.h>

#include <cerrno>

#include "namespace/internal.h"
#include "sys/namespaces.h"
#include "sys/syscalls.h"

namespace mntns::internal {
namespace {

Result<void> MakePrivate(int dirfd, const char* path, unsigned flags) {
  struct mount_attr attr {};
  attr.propagation = MS_PRIVATE;
  return sys::MountSetattr(dirfd, path, flags, attr);
}

// Runs on a short-lived thread of its own: unshare(CLONE_NEWNS) moves only
// this thread (it also unshares its fs_struct), so the caller's threads never
// see the new namespace.
Result<UniqueFd> Build(int tree_fd, bool recursive) {
  // Taken now: after pivot_root there is no /proc to find the namespace by.
  auto opener = ThreadNamespaceOpener::ForCallingThread();
  if (!opener) return std::unexpected(opener.error());
  // Copies every mount of the caller: the O(mounts) part.
  if (auto r = sys::Unshare(CLONE_NEWNS); !r) return std::unexpected(r.error());
  // Make-rprivate first, so nothing below propagates to the caller (attaching
  // under a shared "/" would mount the tree in every peer of it).
  if (auto r = MakePrivate(AT_FDCWD, "/", AT_RECURSIVE); !r) return std::unexpected(r.error());
  // pivot_root refuses a shared new root (EINVAL): the copy becomes private.
  if (auto r = sys::MountSetattr(tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE,
                                 mount_attr{.attr_set = 0, .attr_clr = 0, .propagation = MS_PRIVATE,
                                            .userns_fd = 0});
      !r) {
    return std::unexpected(r.error());
  }
  if (auto r = sys::MoveMount(tree_fd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH); !r) {
    return std::unexpected(r.error());
  }
  // Cloned once more, now inside the new namespace: a namespace whose root
  // tree has lower mount ids than the namespace itself (the first clone was
  // made before unshare) answers ENOENT to listmount from outside on 6.x.
  auto copy = sys::OpenTree(tree_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                                             (recursive ? AT_RECURSIVE : 0));
  if (!copy) return std::unexpected(copy.error());
  if (auto r = sys::Fchdir(tree_fd); !r) return std::unexpected(r.error());
  if (auto r = sys::Umount(".", MNT_DETACH); !r) return std::unexpected(r.error());
  if (auto r = sys::MoveMount(copy->Get(), "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH); !r) {
    return std::unexpected(r.error());
  }
  tree_fd = copy->Get();
  // pivot_root(".", ".") from the tree's root: the old root ends up on top of
  // the tree and the detach takes it with every copied mount (the other
  // O(mounts) part). In a user namespace the old root is locked; pivot_root
  // moves that lock to the tree, so the detach is allowed and the tree stays
  // locked, as on 7.x.
  if (auto r = sys::Fchdir(tree_fd); !r) return std::unexpected(r.error());
  if (auto r = sys::PivotRoot(".", "."); !r) return std::unexpected(r.error());
  if (auto r = sys::Umount(".", MNT_DETACH); !r) return std::unexpected(r.error());
  if (auto r = sys::Chdir("/"); !r) return std::unexpected(r.error());
  if (recursive) {
    if (auto r = DropMountNamespaceFiles(); !r) return std::unexpected(r.error());
  }
  return opener->Current();
}

}  // namespace

Result<UniqueFd> ClassicNamespace(UniqueFd tree, bool recursive) {
  Result<UniqueFd> result = MakeError(EINVAL, "classic namespace");
  auto thread = StartHelperThread([&] { result = Build(tree.Get(), recursive); });
  if (!thread) return std::unexpected(thread.error());
  thread->join();
  return result;
}

}  // namespace mntns::internal
