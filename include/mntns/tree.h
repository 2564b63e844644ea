// The new mount API, one call at a time: open_tree, fsopen/fsconfig/fsmount,
// move_mount, mount_setattr, and the nsfs fds of mount namespaces (their id,
// pinning one to a file, entering one).
//
// Flags and attribute bits are the kernel's own: include <sys/mount.h> (glibc
// 2.36+) for OPEN_TREE_*, MOVE_MOUNT_*, FSMOUNT_CLOEXEC, MOUNT_ATTR_* and
// MS_PRIVATE & co., <fcntl.h> for AT_*. This header adds the two 7.x flags
// that older system headers lack.
//
// Every call returns an Error that names the syscall and its key argument
// (`open_tree "/srv": No such file or directory (ENOENT)`) and keeps the raw
// errno; the fs_context calls add the kernel's log for that context. Every fd
// returned is owned by a UniqueFd and close-on-exec, whatever `flags` said.
// None of these calls changes a mount table unless its contract says so, and
// then only the calling thread's namespace (or the one `to_dirfd` is in).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "mntns/error.h"
#include "mntns/export.h"
#include "mntns/fd.h"
#include "mntns/namespace.h"

// Spelled as in Linux 7.2's include/uapi/linux/mount.h, so a later definition
// by the system headers is an identical redefinition.
#ifndef OPEN_TREE_NAMESPACE
#define OPEN_TREE_NAMESPACE (1 << 1)  // 7.0: clone the tree into a new mount namespace
#endif
#ifndef FSMOUNT_NAMESPACE
#define FSMOUNT_NAMESPACE 0x00000002  // 7.1: create the mount in a new mount namespace
#endif

namespace mntns {

// ---- detached trees and attaching them -----------------------------------------

// open_tree(2): an fd of the mount at `dirfd`/`path` (AT_FDCWD and any path,
// or a dir fd; "" with AT_EMPTY_PATH for the fd itself). With OPEN_TREE_CLONE
// the fd holds a detached copy of it (with AT_RECURSIVE, of every submount
// too), private to the caller until MoveMount attaches it and dissolved when
// the fd is closed unattached; without it, an O_PATH-like fd of the mount
// itself. With OPEN_TREE_NAMESPACE (7.0) the kernel's own call is made, as
// is: OpenTreeNamespace in namespace.h is the one that works on every kernel.
// `flags`: OPEN_TREE_CLONE, OPEN_TREE_NAMESPACE, AT_EMPTY_PATH,
// AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT, AT_RECURSIVE; OPEN_TREE_CLOEXEC is
// always added. A clone needs CAP_SYS_ADMIN over the caller's mount
// namespace (EPERM); an unbindable source fails with EINVAL.
// Minimum kernel: 5.2.
[[nodiscard]] MNTNS_EXPORT Result<UniqueFd> OpenTree(int dirfd, const std::string& path, unsigned flags);

// move_mount(2): attaches the detached tree `from_dirfd` (with
// MOVE_MOUNT_F_EMPTY_PATH and from_path "") on `to_dirfd`/`to_path`, or
// moves an attached mount there. `flags`: the MOVE_MOUNT_* bits
// (MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH, MOVE_MOUNT_*_SYMLINKS,
// MOVE_MOUNT_*_AUTOMOUNTS, MOVE_MOUNT_SET_GROUP 5.15, MOVE_MOUNT_BENEATH 6.5).
// After success a detached tree belongs to the target's namespace; its fd
// stays valid and may be closed. ENOSPC means the target namespace would hold
// more than fs.mount-max mounts (the Error says so). Needs CAP_SYS_ADMIN over
// the target's mount namespace.
// Minimum kernel: 5.2.
[[nodiscard]] MNTNS_EXPORT Result<void> MoveMount(int from_dirfd, const std::string& from_path, int to_dirfd,
                                                  const std::string& to_path, unsigned flags);

// umount2(2) of the mount on `path` (`flags`: MNT_DETACH, MNT_FORCE,
// MNT_EXPIRE, UMOUNT_NOFOLLOW); EBUSY while it is in use (without
// MNT_DETACH), EINVAL where `path` is no mount point. Needs CAP_SYS_ADMIN over
// the mount namespace.
[[nodiscard]] MNTNS_EXPORT Result<void> Unmount(const std::string& path, int flags);

// What mount_setattr(2) changes: struct mount_attr, without its size.
struct MountAttributes {
  std::uint64_t attr_set = 0;     // MOUNT_ATTR_* bits to set
  std::uint64_t attr_clr = 0;     // MOUNT_ATTR_* bits to clear (MOUNT_ATTR__ATIME for an atime mode)
  std::uint64_t propagation = 0;  // 0 (unchanged), MS_PRIVATE, MS_SHARED, MS_SLAVE or MS_UNBINDABLE
  int userns_fd = -1;             // with MOUNT_ATTR_IDMAP in attr_set: the user namespace to map by
};

// mount_setattr(2): changes the per-mount attributes and the propagation of
// the mount at `dirfd`/`path` (with AT_RECURSIVE of every mount below it too,
// all or none). `flags`: AT_EMPTY_PATH, AT_RECURSIVE, AT_SYMLINK_NOFOLLOW,
// AT_NO_AUTOMOUNT. Works on attached mounts and on detached trees (an
// OpenTree clone or an FsMount fd, with AT_EMPTY_PATH and path "").
// EINVAL for an unknown bit, more than one propagation type, an atime mode
// without MOUNT_ATTR__ATIME in attr_clr, or MOUNT_ATTR_IDMAP on a mount that
// has been attached (only a detached clone can be idmapped); EPERM to clear a
// locked flag (one a less privileged namespace inherited read-only, nosuid, ...).
// Minimum kernel: 5.12.
[[nodiscard]] MNTNS_EXPORT Result<void> MountSetattr(int dirfd, const std::string& path, unsigned flags,
                                                     const MountAttributes& attributes);

// ---- fresh filesystems ---------------------------------------------------------

// fsmount(2): a detached mount of the superblock that the fs_context `fs_fd`
// created (FSCONFIG_CMD_CREATE done). `flags`: FSMOUNT_CLOEXEC (always
// added); FSMOUNT_NAMESPACE (7.1) makes the kernel's own call as is, see
// FsmountNamespace in namespace.h for every kernel. `attr_flags`: the
// MOUNT_ATTR_* bits of the new mount (MOUNT_ATTR_IDMAP not allowed: EINVAL).
// The Error carries the context's kernel log. Needs CAP_SYS_ADMIN.
// Minimum kernel: 5.2.
[[nodiscard]] MNTNS_EXPORT Result<UniqueFd> FsMount(int fs_fd, unsigned flags, unsigned attr_flags);

// A filesystem context: fsopen(2), then the parameters one by one
// (fsconfig(2)), then Create() and Mount(). Owns the context fd; move-only.
// Every failing call returns an Error whose kernel_log holds what the
// filesystem logged on the context for that failure ("e tmpfs: Bad value for
// 'mode'"), read and emptied from the context, so a later failure does not
// repeat it. The parameters are the filesystem's own (see its documentation
// and fs_parameter_spec); the kernel validates each as it is set.
// A context's calls must not run concurrently. fsopen needs CAP_SYS_ADMIN
// over the user namespace owning the caller's mount namespace (EPERM), and a
// filesystem type without FS_USERNS_MOUNT (most) refuses to be created in
// any but the initial user namespace.
// Minimum kernel: 5.2.
class MNTNS_EXPORT FsContext {
 public:
  // fsopen(fs_type, FSOPEN_CLOEXEC). ENODEV for a filesystem type the kernel
  // does not know (not even as a module it could load).
  [[nodiscard]] static Result<FsContext> Open(const std::string& fs_type);

  FsContext(FsContext&&) noexcept = default;
  FsContext& operator=(FsContext&&) noexcept = default;

  // FSCONFIG_SET_FLAG: a parameter without a value ("ro", "noswap").
  [[nodiscard]] Result<void> SetFlag(const std::string& key);
  // FSCONFIG_SET_STRING: "source", "size=16k" as ("size", "16k"), ...
  [[nodiscard]] Result<void> SetString(const std::string& key, const std::string& value);
  // FSCONFIG_SET_FD: a parameter given as an open fd (the context takes its
  // own reference; `fd` stays the caller's), e.g. an O_PATH fd of a directory
  // for overlayfs' "lowerdir+" (6.13+; before, it takes only SetString).
  // (FSCONFIG_SET_PATH has no call here: the filesystems a mount namespace is
  // built from take no path-typed values; overlayfs' layers are strings or
  // fds, and the generic "source" must be a string.)
  [[nodiscard]] Result<void> SetFd(const std::string& key, int fd);
  // FSCONFIG_CMD_CREATE: creates (or, where the filesystem shares them, finds)
  // the superblock. Once only; the parameters cannot change after it.
  [[nodiscard]] Result<void> Create();
  // FsMount(fd(), flags, attr_flags), after Create().
  [[nodiscard]] Result<UniqueFd> Mount(unsigned flags = 0, unsigned attr_flags = 0);

  // The context fd, still owned: for FsmountNamespace (namespace.h) and calls
  // this class does not make. Valid until the FsContext is destroyed.
  [[nodiscard]] int fd() const noexcept { return fd_.Get(); }
  // The filesystem type given to Open (error text names it).
  [[nodiscard]] const std::string& fs_type() const noexcept { return fs_type_; }

 private:
  FsContext(UniqueFd fd, std::string fs_type) noexcept;

  UniqueFd fd_;
  std::string fs_type_;
};

// ---- mount namespace fds ---------------------------------------------------------
// `ns_fd` below is an nsfs fd of a mount namespace: from OpenTreeNamespace,
// FsmountNamespace, open("/proc/PID/ns/mnt") or a pinned file.

// ioctl(NS_GET_MNTNS_ID): the namespace's 64-bit id, the one statmount
// reports as mnt_ns_id (Mount::ns_id) and NamespaceRef::ById takes. Unique
// for the life of the system (never reused, unlike the nsfs inode number).
// EINVAL/ENOTTY for an fd that is not a mount namespace.
// Minimum kernel: 6.12 (older ones answer ENOTTY).
[[nodiscard]] MNTNS_EXPORT Result<std::uint64_t> MountNamespaceId(int ns_fd);

// ioctl(NS_MNT_GET_INFO): how many mounts the namespace holds now, every one
// counted (also those ListMounts hides, such as the template strategy's
// tmpfs below the root). Needs no setns and no capability over it.
// Minimum kernel: 6.12.
[[nodiscard]] MNTNS_EXPORT Result<std::uint32_t> CountMountsInNamespace(int ns_fd);

// Binds the namespace `ns_fd` onto the file `path`, as `unshare --mount=FILE`
// does, so that it outlives every process and fd (nsenter --mount=FILE,
// NamespaceRef::ByFile, `mntns ls --ns-file`); `umount FILE` releases it.
// The file is created (mode 0644, symlinks not followed) when missing, and
// removed again when the bind then fails. The bind lands in the calling
// thread's mount namespace, where `path` is.
// Errors (operation "PinNamespace" where no syscall failed, else the
// syscall's; the argument names `path`):
//  - EINVAL: the mount `path` is on is shared; the kernel never propagates a
//    namespace file (it could build loops), so the bind would fail anyway.
//  - EISDIR: `path` is a directory. EBUSY: it already pins a namespace (a
//    second bind would stack on it and hide it).
//  - errno of statmount/open for `path`'s directory or `path` itself.
//  - ELOOP: the kernel attaches a mount-namespace file only in a namespace
//    older than the one it names (smaller sequence number: mnt_ns_loop), and
//    the calling thread's is not. Linux 6.18 hands sequence numbers out in
//    per-CPU batches, so a namespace made just now on another CPU may well be
//    "older" than the caller's. OpenPinnedTreeNamespace handles that.
// Minimum kernel: 5.2 (open_tree, move_mount).
[[nodiscard]] MNTNS_EXPORT Result<void> PinNamespace(int ns_fd, const std::string& path);

// A namespace of OpenPinnedTreeNamespace.
struct PinnedNamespace {
  UniqueFd ns;                 // nsfs fd of the namespace, close-on-exec
  NamespaceStrategy strategy;  // the strategy that made it: resolved, never kAuto
};

// OpenTreeNamespace(dirfd, path, flags, options), then PinNamespace of it on
// `pin_path` (what `mntns new --pin` does). Where the pin fails with ELOOP
// (see PinNamespace: the new namespace drew a sequence number below the
// caller's), the namespace is made again, with kClassic, with the calling
// thread bound to each CPU it may run on in turn (the classic strategy's
// helper thread inherits that affinity), and pinned again, until a pin
// succeeds or fails otherwise: one of those CPUs, the one the caller's
// namespace was made on, gives a newer sequence number. The calling thread's
// affinity is restored after each try. `strategy` then says kClassic.
// Errors: OpenTreeNamespace's and PinNamespace's (ELOOP once every allowed
// CPU was tried, or when the affinity cannot be read).
// Minimum kernel: as OpenTreeNamespace and PinNamespace.
[[nodiscard]] MNTNS_EXPORT Result<PinnedNamespace> OpenPinnedTreeNamespace(int dirfd, const std::string& path,
                                                                           unsigned flags,
                                                                           const std::string& pin_path,
                                                                           const NamespaceOptions& options = {});

// EmptyMountNamespace(options) pinned on `pin_path` the same way (what
// `mntns new --empty --pin` does), with the same ELOOP retry on each CPU.
[[nodiscard]] MNTNS_EXPORT Result<PinnedNamespace> PinnedEmptyMountNamespace(const std::string& pin_path,
                                                                             const NamespaceOptions& options = {});

// setns(ns_fd, CLONE_NEWNS): moves the calling thread into the namespace,
// root and cwd set to its root. EINVAL in a thread that shares its fs_struct
// (any thread of a multi-threaded process that did not unshare CLONE_FS: a
// forked child or a single-threaded process can), or when `ns_fd` is not a
// mount namespace; EPERM without CAP_SYS_ADMIN over it and CAP_SYS_CHROOT.
// Minimum kernel: 3.8.
[[nodiscard]] MNTNS_EXPORT Result<void> EnterMountNamespace(int ns_fd);

// unshare(CLONE_NEWNS): the calling thread gets a new mount namespace, a copy
// of the one it was in (every mount, propagation kept: make "/" private with
// MountSetattr(AT_FDCWD, "/", AT_RECURSIVE, {.propagation = MS_PRIVATE})
// before mounting in it if nothing may reach the old one). Only the calling
// thread moves: the kernel unshares its fs_struct too, so the process's other
// threads keep their namespace, root and cwd. Costs O(mounts copied).
// EPERM without CAP_SYS_ADMIN.
// Minimum kernel: 2.6.16.
[[nodiscard]] MNTNS_EXPORT Result<void> UnshareMountNamespace();

}  // namespace mntns
