// The raw-syscall layer for namespace and process-root calls: setns, unshare,
// pivot_root, umount2, chdir, pidfd, capset and sethostname (no legacy mount(2): every
// strategy needs mount_setattr, 5.12). Like syscalls.h, each wrapper names the call
// and its key argument in its Error and captures errno in the first statement
// after the call.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include <sys/types.h>

#include <string>

#include "mntns/error.h"
#include "mntns/fd.h"

namespace mntns::sys {

// setns(2); `nstype` is a CLONE_NEW* flag or 0.
[[nodiscard]] Result<void> Setns(int ns_fd, int nstype);

// unshare(2) of the calling thread.
[[nodiscard]] Result<void> Unshare(int flags);

// pivot_root(2); only ever used as pivot_root(".", ".") after fchdir().
[[nodiscard]] Result<void> PivotRoot(const char* new_root, const char* put_old);

// umount2(2).
[[nodiscard]] Result<void> Umount(const char* path, int flags);

[[nodiscard]] Result<void> Fchdir(int fd);
[[nodiscard]] Result<void> Chdir(const char* path);

// pidfd_open(2) (5.3; PIDFD_THREAD for a thread id needs 6.9).
[[nodiscard]] Result<UniqueFd> PidfdOpen(pid_t pid, unsigned flags);

// ioctl(PIDFD_GET_MNT_NAMESPACE) (6.11): a close-on-exec nsfs fd for the mount
// namespace the pidfd's task is in now.
[[nodiscard]] Result<UniqueFd> PidfdMountNamespace(int pidfd);
// ioctl(PIDFD_GET_USER_NAMESPACE) (6.11): the same for its user namespace.
[[nodiscard]] Result<UniqueFd> PidfdUserNamespace(int pidfd);

// ioctl(NS_GET_NSTYPE): the CLONE_NEW* type of an nsfs fd.
[[nodiscard]] Result<int> NamespaceType(int ns_fd);

// `path` opened and checked to be a mount namespace's nsfs file (a /proc
// PID/ns/mnt or a pinned bind). O_NONBLOCK|O_NOCTTY: a FIFO or a terminal
// given as the file neither hangs the open nor becomes our terminal. EINVAL
// naming the path for a file that is no namespace or another kind.
[[nodiscard]] Result<UniqueFd> OpenMountNamespaceFile(const std::string& path);

// ioctl(NS_GET_USERNS) (4.9): a close-on-exec fd for the user namespace that
// owns the namespace `ns_fd`. EPERM when that one is outside the caller's.
[[nodiscard]] Result<UniqueFd> OwningUserNamespace(int ns_fd);

// ioctl(NS_GET_PARENT) (4.9) on a user (or pid) namespace fd: a
// close-on-exec fd for its parent. EPERM where that one is outside the
// caller's user namespace (or the namespace is the initial one).
[[nodiscard]] Result<UniqueFd> ParentNamespace(int ns_fd);

// ioctl(NS_GET_OWNER_UID) (4.11) on a user namespace fd: the uid (in the
// caller's user namespace) of the process that created it.
[[nodiscard]] Result<uid_t> UserNamespaceOwner(int userns_fd);

// fstat(2) reduced to "is it a directory".
[[nodiscard]] Result<bool> IsDirectory(int fd);

// statx(2) reduced to "is it the root of a mount" (STATX_ATTR_MOUNT_ROOT, 5.8+).
[[nodiscard]] Result<bool> IsMountRoot(int fd);

// capset(2) emptying the calling thread's effective, permitted and
// inheritable capability sets (glibc has no wrapper).
[[nodiscard]] Result<void> ClearCapabilitySets();
// capset: effective, permitted and inheritable all set to `set` (bit N: capability N).
[[nodiscard]] Result<void> SetCapabilitySets(std::uint64_t set);
// fchmodat2(fd, "", mode, AT_EMPTY_PATH) (6.6): chmod through an O_PATH fd.
[[nodiscard]] Result<void> ChmodFd(int fd, mode_t mode);

// capget(2) of the calling thread: whether `capability` is in its effective
// set (which is what the kernel checks against the thread's user namespace).
[[nodiscard]] Result<bool> HasEffectiveCapability(int capability);

// For a child made by clone3 before it execs (async-signal-safe, no
// allocation): each returns 0 or the errno of the first call that failed.
// setns(ns_fd, CLONE_NEWNS).
[[nodiscard]] int EnterMountNamespaceInChild(int ns_fd);
// setns(ns_fd, CLONE_NEWUSER) (a single-threaded process only).
[[nodiscard]] int EnterUserNamespaceInChild(int ns_fd);
// What the template strategy's template is, made in place: unshare(CLONE_NEWNS)
// (a copy of the caller's table), "/" made private recursively, an empty
// read-only tmpfs with source `source` moved onto "/", pivot_root onto it and
// the old root detached with everything below it.
[[nodiscard]] int MakeEmptyRootInChild(const char* source);
// The same without the unshare: the namespace the caller is in (a copy it
// was given) becomes empty. pivot_root moves the root and cwd of every task
// of that namespace that stood at its root onto the empty one. With
// `empty_dirs` (an fd of EmptyDirectorySource(), or -1) the empty root is a
// clone of one of its permanently empty directories instead of the tmpfs,
// where one clones: creating anything in it fails with ENOENT, as in 7.2's
// nullfs root (the tmpfs says EROFS).
[[nodiscard]] int EmptyCurrentMountNamespaceInChild(const char* source, int empty_dirs = -1);

// A detached sysfs mount (nosuid, nodev, noexec) with sb_source `source` (a
// new mount of the calling network namespace's one sysfs superblock, not a
// new filesystem), whose mount-point directories (kernel/debug,
// kernel/security, fs/cgroup) are permanently empty: their lookups fail with
// ENOENT, so mkdir and O_CREAT in them do, and they can be mounted on. A
// mount made by fsmount() can be cloned from any mount namespace (6.15+), so
// one made here serves children in others. Needs CAP_SYS_ADMIN over the
// owner of the network namespace.
[[nodiscard]] Result<UniqueFd> EmptyDirectorySource(const char* source);

// rt_sigaction(2) setting every signal but SIGKILL and SIGSTOP to SIG_DFL,
// glibc's internal ones (32 and 33, which its sigaction() refuses) included:
// exec keeps ignored dispositions. Async-signal-safe (for a child before exec).
void ResetAllSignalActions();

// Sets IFF_UP on the network interface `name` (ioctl SIOCGIFFLAGS/SIOCSIFFLAGS
// on an AF_INET socket): a new network namespace's "lo" starts down.
[[nodiscard]] Result<void> BringUpInterface(const char* name);

// sethostname(2) in the caller's UTS namespace.
[[nodiscard]] Result<void> SetHostname(std::string_view name);

// The calling thread's id (gettid).
[[nodiscard]] pid_t ThreadId();

}  // namespace mntns::sys
