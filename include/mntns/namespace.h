// A container mount namespace in one call: open_tree(OPEN_TREE_NAMESPACE) and
// fsmount(FSMOUNT_NAMESPACE) on every kernel.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "mntns/error.h"
#include "mntns/export.h"
#include "mntns/fd.h"

namespace mntns {

// How a namespace is built. Every strategy gives the same contract (below);
// they differ in cost and in the few details listed per strategy.
enum class NamespaceStrategy {
  // Chosen per call (see ResolveStrategy): kNative where the kernel has that
  // call's flag, else kTemplate, else kClassic. On 7.0, OpenTreeNamespace is
  // native and FsmountNamespace emulated. Where the native call still fails
  // with EINVAL because the kernel does not know the flag (the probe said it
  // did), the call is made again with the emulation.
  kAuto,
  // The kernel's own calls: open_tree(OPEN_TREE_NAMESPACE) (7.0),
  // fsmount(FSMOUNT_NAMESPACE) (7.1). EINVAL on older kernels (and where a
  // feature profile hides the flag, see features.h).
  kNative,
  // 6.8+ emulation without a fork: a factory thread keeps a template namespace
  // with a tiny mount table; each call copies it (unshare) and stacks the
  // detached tree on its root. Cost does not grow with the caller's table.
  // Differences from 7.x: below the tree lies an empty read-only tmpfs with
  // source "mntns-template" (where 7.x has its nullfs root): ListMounts() of
  // the namespace hides it, NS_MNT_GET_INFO counts it, and unmounting "/"
  // inside reveals it (also inside a user namespace, where 7.x says EINVAL).
  // On 7.x the caller's rootfs lies below that tmpfs too: hidden the same way,
  // counted the same way.
  kTemplate,
  // unshare(CLONE_NEWNS) + make-rprivate + pivot_root + detach of the old root,
  // on a short-lived thread. Cost grows with the caller's mount table (it is
  // copied, then detached). Differences from 7.x: the copied tree is made
  // private (pivot_root refuses shared mounts), so a shared source does not
  // stay in its peer group; on 7.x the caller's rootfs (which sits on 7.x's
  // nullfs root) stays below the tree, listed and counted.
  kClassic,
};

// "auto", "native", "template", "classic".
[[nodiscard]] MNTNS_EXPORT std::string_view StrategyName(NamespaceStrategy strategy);
// The inverse of StrategyName; EINVAL for anything else.
[[nodiscard]] MNTNS_EXPORT Result<NamespaceStrategy> ParseStrategy(std::string_view name);
// The calls a strategy serves; kAuto may pick a different strategy for each.
enum class NamespaceOperation {
  kOpenTreeNamespace,  // OpenTreeNamespace: open_tree(OPEN_TREE_NAMESPACE), 7.0
  kFsmountNamespace,   // FsmountNamespace: fsmount(FSMOUNT_NAMESPACE), 7.1
  // EmptyMountNamespace, UnshareEmptyMountNamespace, ForkIntoEmptyMountNamespace:
  // unshare(UNSHARE_EMPTY_MNTNS), clone3(CLONE_EMPTY_MNTNS), 7.1
  kEmptyMountNamespace,
};

// What kAuto means for `operation` on the running kernel (from
// KernelFeatures(), so a feature profile counts): kNative where the kernel has
// the operation's flag, else kTemplate where it has listmount and statmount
// (6.8), else kClassic. Other values are returned unchanged.
[[nodiscard]] MNTNS_EXPORT NamespaceStrategy ResolveStrategy(NamespaceOperation operation,
                                                             NamespaceStrategy strategy);

struct NamespaceOptions {
  NamespaceStrategy strategy = NamespaceStrategy::kAuto;
};

// Flags OpenTreeNamespace accepts (the kernel's open_tree flags). OPEN_TREE_NAMESPACE
// itself may be passed or not; OPEN_TREE_CLONE is refused (EINVAL).
//   AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT, AT_RECURSIVE, OPEN_TREE_CLOEXEC.

// Creates a new mount namespace that holds only a copy of the mount at
// `dirfd`/`path` (with every submount when `flags` has AT_RECURSIVE), like
// open_tree(dirfd, path, flags | OPEN_TREE_NAMESPACE) on 7.0+, and returns an
// nsfs fd for it (always close-on-exec). The namespace is owned by the
// caller's user namespace. Inside it, root and cwd are the copied tree and
// /proc/self/mountinfo lists only the tree.
// Kernel rules, kept by every strategy:
//  - EINVAL: OPEN_TREE_CLONE, or any flag not listed above.
//  - EPERM: no CAP_SYS_ADMIN over the caller's user namespace.
//  - ENOTDIR: the source is not a directory (as 7.1+).
//  - An unbindable source fails (EINVAL); a recursive copy silently drops
//    unbindable submounts.
//  - Mount-namespace files (binds of /proc/PID/ns/mnt) are not copied (the
//    file below them shows); other nsfs binds are. Emulations (kTemplate,
//    kClassic) clone them with the tree and drop them once it is attached;
//    where 6.x refuses that attach (ELOOP: a namespace file may only be
//    attached to a namespace older than the one it names, and the new one is
//    the newest), they clone the tree again from a private copy of the
//    caller's namespace with the files unmounted. That path costs
//    O(the caller's mounts), and its copies are private: a tree holding a
//    mount-namespace file loses its peer groups there (7.x keeps them).
//  - Covered mounts stay covered; propagation is kept (a shared source gives
//    copies in the same peer group: the namespace is not isolated by itself),
//    except with kClassic (see above).
// Minimum kernel: 7.0 for kNative, 6.8 for kTemplate (listmount, statmount),
// 5.12 for kClassic (mount_setattr; open_tree, move_mount, pivot_root), 6.8
// for kClassic with AT_RECURSIVE (listmount and statmount find the
// mount-namespace files it drops).
// Thread-safe. No fork, no mounts left in the caller's namespace on any path.
[[nodiscard]] MNTNS_EXPORT Result<UniqueFd> OpenTreeNamespace(int dirfd, const std::string& path, unsigned flags,
                                                 const NamespaceOptions& options = {});

// The same with a fresh filesystem as the namespace root: `fs_fd` is an
// fsopen() fd after FSCONFIG_CMD_CREATE; `flags` may hold FSMOUNT_CLOEXEC and
// FSMOUNT_NAMESPACE (anything else: EINVAL); `attr_flags` are fsmount's
// MOUNT_ATTR_* bits. Like fsmount(fs_fd, flags | FSMOUNT_NAMESPACE, attr_flags)
// on 7.1+: the root is private and the namespace holds one visible mount.
// Errors carry the fs_context log. Minimum kernel: 7.1 for kNative, 6.8 for
// kTemplate, 5.12 for kClassic.
[[nodiscard]] MNTNS_EXPORT Result<UniqueFd> FsmountNamespace(int fs_fd, unsigned flags, unsigned attr_flags,
                                                const NamespaceOptions& options = {});

// ---- Empty mount namespaces (7.1's UNSHARE_EMPTY_MNTNS / CLONE_EMPTY_MNTNS) ----
//
// What 7.1+ does (observed on 7.2, docs/empty-namespaces.md): the new
// namespace holds one mount, an empty nullfs directory (mode 0555, nothing
// can be created in it: ENOENT) that is its own parent, mounted at "/".
// Whoever is in it has root and cwd there (cwd is reset); listmount(LSMT_ROOT)
// from inside lists that one mount, statmount says mnt_point "/"; from
// outside the nullfs root is hidden like OPEN_TREE_NAMESPACE's (listmount
// ENOENT, NS_MNT_GET_INFO nr_mounts 0) and ListMounts() returns no mount.
// One mounts on it: move_mount(tree, "", AT_FDCWD, "/",
// MOVE_MOUNT_F_EMPTY_PATH) stacks a tree there; "/" keeps naming the root
// below until the process enters the namespace again (setns) or chroots into
// the tree (fchdir + chroot(".")). The namespace is owned by the caller's
// user namespace; EPERM without CAP_SYS_ADMIN over it. Cost does not depend
// on the caller's mount table.
// Emulations (6.x, or a feature profile without empty_mount_namespace):
//  - kTemplate: a fresh copy of the template namespace (a factory thread's
//    unshare; O(1) in the caller's mounts). The visible mount is the
//    template's empty root: a read-only tmpfs, fs type "tmpfs", source
//    "mntns-template", mode 0555, nosuid,nodev,noexec (creating in it fails
//    with EROFS where 7.x says ENOENT); its parent is the namespace's real
//    root below it, which 6.x's listmount does not show from inside (7.x: the
//    mount is its own parent). NS_MNT_GET_INFO counts 2 (7.x: 0). All of a
//    process's kTemplate namespaces share that tmpfs superblock, so it is
//    kept read-only: a process with CAP_SYS_ADMIN over the template's owner
//    could remount it read-write and reach every namespace of the process
//    through it, as it could setns() into them anyway. The namespace is owned
//    by the user namespace the process's factory started in (a process
//    cannot change user namespace once it has threads).
//  - kClassic: unshare(CLONE_NEWNS) + the same empty root + pivot_root +
//    detach of the copy, on a thread of its own: O(the caller's mounts). Its
//    namespace is owned by the calling thread's user namespace (it works
//    after unshare(CLONE_NEWUSER) in a single-threaded process).
// Minimum kernel: 7.1 for kNative, 5.12 for the emulations (mount_setattr,
// fsopen, pivot_root; kTemplate's factory also needs setns and unshare).

// A close-on-exec nsfs fd for a new empty mount namespace, without entering
// it (the calling thread stays where it is). Native: a short-lived thread
// does unshare(UNSHARE_EMPTY_MNTNS) and hands its namespace over. EPERM when
// the calling thread lacks CAP_SYS_ADMIN (checked on it, before any work).
// Thread-safe.
[[nodiscard]] MNTNS_EXPORT Result<UniqueFd> EmptyMountNamespace(const NamespaceOptions& options = {});

// Moves the calling thread into a new empty mount namespace, as
// unshare(UNSHARE_EMPTY_MNTNS) does (which implies CLONE_FS: the thread stops
// sharing root and cwd with the other threads). Root and cwd become the empty
// root. Emulated: kTemplate enters an EmptyMountNamespace() with setns, which
// also needs CAP_SYS_CHROOT; kClassic builds it in place (after
// unshare(CLONE_NEWUSER) that is the one that works: a template of the old
// user namespace cannot be entered) and, should a step fail, returns the
// thread to its namespace where it still can. On error the thread is where it was.
[[nodiscard]] MNTNS_EXPORT Result<void> UnshareEmptyMountNamespace(const NamespaceOptions& options = {});

// A child made by ForkIntoEmptyMountNamespace: in the parent its pid and a
// pidfd (close-on-exec); in the child pid 0 and no pidfd.
struct MountNamespaceChild {
  pid_t pid = 0;
  UniqueFd pidfd;
};

// For runtimes: a child process (SIGCHLD when it exits, as fork) that starts in
// a new empty mount namespace, as clone3(CLONE_EMPTY_MNTNS | CLONE_PIDFD |
// `clone_flags`) on 7.1+. `clone_flags` may hold CLONE_NEWUSER, CLONE_NEWPID,
// CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWNS
// (implied anyway); anything else is EINVAL (CLONE_FS too, as the kernel
// says). With CLONE_NEWUSER the namespace is owned by the child's new user
// namespace. The child returns from this call with pid 0 and, as after
// clone3, must make only async-signal-safe calls until it execs or _exits in a
// multi-threaded program. Emulated, the parent makes the namespace (kTemplate,
// kClassic as above) and the child enters it before it returns; with
// CLONE_NEWUSER the child builds it in place as kClassic does (O(the parent's
// mounts)). A child that cannot get there exits 127 and this call reports
// its error (operation, errno).
[[nodiscard]] MNTNS_EXPORT Result<MountNamespaceChild> ForkIntoEmptyMountNamespace(
    std::uint64_t clone_flags = 0, const NamespaceOptions& options = {});

// Sharing kTemplate's template namespace between processes.
struct TemplateSharingOptions {
  // The longest `idle` accepted.
  static constexpr std::chrono::seconds kMaximumIdle{86400};
  // Holds the keeper's record and lock. Made (mode 0700) when missing; must be
  // owned by the caller's euid and writable by nobody else.
  std::string directory = "/run/mntns";
  // The keeper exits once no ShareTemplateNamespace call has found it for this
  // long: 1 s to kMaximumIdle, else the call fails with EINVAL.
  std::chrono::seconds idle{10};
};

// kTemplate builds its template by copying the caller's whole mount table
// once per process (then detaching it): ~25 ms at 10,000 mounts, which a
// process that makes one namespace (like `mntns run`) pays every time. After
// this call, this process's kTemplate namespaces are copies of a template
// held by a keeper process instead, and so are those of every later process
// that calls it (same directory, same user namespace) while the keeper lives:
// the copy of the caller's table happens once per keeper, not per process.
// The keeper is started here when no live one is found. It is a fresh image
// of this program (fork, then exec of /proc/self/exe, with libmntns preloaded
// when it is a shared object, by the absolute path of its file, which must
// hold no space or colon): argv "mntns-template", an environment holding only its start
// parameters (and the caller's LD_LIBRARY_PATH, and the LD_PRELOAD of
// libmntns.so, for the loader), no memory of the caller.
// It takes over in a constructor of libmntns before main() (linked into the
// program, or preloaded where the program dlopen()ed libmntns.so) and never
// returns to the program; constructors of libraries that start before
// libmntns do run first. It is not the caller's child (double fork), starts a session of its
// own, sits in the template namespace (one empty read-only tmpfs), holds no
// fd but the directory's (and O_PATH fds of "/" in the places of fds 0-2),
// and exits after `options.idle` without use. A starter waits at most 60 s
// for it to come up (ETIMEDOUT, and the keeper is killed).
// Its record, <directory>/template-<user ns inode>, says "PID MNTNS_ID TOKEN",
// TOKEN being 128 random bits that only the record and the keeper's
// environment hold. A record is trusted only if it is a small regular file of
// the caller's euid that nobody else can read or write, and PID is a process
// of the caller's euid named "mntns-template" that has TOKEN in its
// environment and is in namespace MNTNS_ID; anything else in its place (a
// FIFO, a symlink, a stale record) is replaced without being waited on, but
// for a directory there, which fails the call.
// Call it before the process's first kTemplate namespace: a factory already
// running keeps its own template (the call then only keeps the keeper alive).
// Needs CAP_SYS_ADMIN and NS_GET_MNTNS_ID (6.12); refused (EPERM) in a
// set-user-ID or otherwise secure-execution process. Errors name the step and
// the path; nothing is left in the caller's mount table on any path. Blocks
// only on the directory's lock (held by other callers for one keeper start)
// and on the keeper's start, with the caller's signal mask untouched.
[[nodiscard]] MNTNS_EXPORT Result<void> ShareTemplateNamespace(const TemplateSharingOptions& options = {});

// Stops and joins the kTemplate factory threads and releases the template
// namespace (and a shared one not used yet), if they were started. The next
// kTemplate call starts them again.
// Optional: the threads hold no resources a process must release before exit.
// Safe while other threads create namespaces: those already queued are made
// first, later calls start the factory again.
MNTNS_EXPORT void StopNamespaceFactory();

}  // namespace mntns
