// The raw-syscall layer for the polyfill (docs/polyfill.md): seccomp filters
// with a user-notification listener, the listener's ioctls, pidfd_getfd and
// the reads and writes of another process's memory. Like syscalls.h, each
// wrapper names the call and its key argument in its Error and captures errno
// in the first statement after the call; every fd is close-on-exec.
#pragma once

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "mntns/error.h"
#include "mntns/fd.h"

struct sock_fprog;

namespace mntns::sys {

// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER | `flags`)
// (5.0): installs `program` on the calling thread (every thread with
// SECCOMP_FILTER_FLAG_TSYNC, which needs SECCOMP_FILTER_FLAG_TSYNC_ESRCH
// beside NEW_LISTENER, 5.7) and returns the listener. EACCES without
// CAP_SYS_ADMIN unless no_new_privs is set.
[[nodiscard]] Result<UniqueFd> InstallSeccompListener(const sock_fprog& program, unsigned flags);

// ioctl(SECCOMP_IOCTL_NOTIF_RECV), retried on EINTR. ENOENT when the task
// left its call (a signal, death) before it could be received.
[[nodiscard]] Result<void> ReceiveNotification(int listener, seccomp_notif& notification);

// ioctl(SECCOMP_IOCTL_NOTIF_SEND). ENOENT when the task left the call.
[[nodiscard]] Result<void> SendNotificationResponse(int listener, const seccomp_notif_resp& response);

// ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID): the task is still in the call that
// notification `id` announced (so its pid and memory are still its own).
[[nodiscard]] bool NotificationStillValid(int listener, std::uint64_t id);

// ioctl(SECCOMP_IOCTL_NOTIF_ADDFD) with SECCOMP_ADDFD_FLAG_SEND (5.14): installs a
// copy of `fd` as the task's lowest free fd (with `newfd_flags`, O_CLOEXEC or 0)
// and, atomically, answers the call with that number. Returns the number.
[[nodiscard]] Result<int> AddFdAndRespond(int listener, std::uint64_t id, int fd, unsigned newfd_flags);

// pidfd_getfd(2) (5.6): a close-on-exec copy of fd `target_fd` of the process
// `pidfd` names (PTRACE_MODE_ATTACH_REALCREDS over it).
[[nodiscard]] Result<UniqueFd> PidfdGetFd(int pidfd, int target_fd);

// process_vm_readv(2) / process_vm_writev(2) of one range: how many bytes were
// copied (short at an unmapped page).
[[nodiscard]] Result<std::size_t> ReadProcessMemory(pid_t pid, std::uint64_t address, std::span<std::byte> into);
[[nodiscard]] Result<std::size_t> WriteProcessMemory(pid_t pid, std::uint64_t address,
                                                     std::span<const std::byte> from);

// ---- acting as the caller, on a supervisor thread -----------------------------

// chroot(".") after fchdir to the caller's root (the thread must not share
// its fs_struct: unshare(CLONE_FS) first). CAP_SYS_CHROOT.
[[nodiscard]] Result<void> ChrootToWorkingDirectory();

// setfsuid(2)/setfsgid(2) of the calling thread only (glibc does not broadcast
// them): path lookups then check permissions as `fsuid`/`fsgid`, and leaving
// fsuid 0 drops the thread's filesystem capabilities (CAP_DAC_OVERRIDE, ...).
void SetThreadFilesystemIds(uid_t fsuid, gid_t fsgid);

// setgroups(2) of the calling thread only (the raw call: glibc's broadcasts
// to every thread). Skipped where the thread's groups are `groups` already
// (an unprivileged thread may not call it, CAP_SETGID); EPERM where they
// differ and it may not.
[[nodiscard]] Result<void> SetThreadGroups(std::span<const gid_t> groups);

// The kernel's CAP_FS_SET: the capabilities that a change of fsuid to or
// from 0 raises or drops, and that path lookups and file permission checks
// consult (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
// CAP_FSETID, CAP_LINUX_IMMUTABLE, CAP_MKNOD, CAP_MAC_OVERRIDE). Bit N: capability N.
inline constexpr std::uint64_t kFilesystemCapabilities =
    (1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_DAC_READ_SEARCH) | (1ULL << CAP_FOWNER) |
    (1ULL << CAP_FSETID) | (1ULL << CAP_LINUX_IMMUTABLE) | (1ULL << CAP_MKNOD) | (1ULL << CAP_MAC_OVERRIDE);

// capget/capset of the calling thread only: its effective set (bit N:
// capability N). Setting keeps the permitted and inheritable sets and leaves
// out what the permitted set lacks (no thread can raise that).
[[nodiscard]] Result<std::uint64_t> ThreadEffectiveCapabilities();
[[nodiscard]] Result<void> SetThreadEffectiveCapabilities(std::uint64_t effective);

// What the permission checks of a thread look at, taken from one thread and
// given to another (a thread starts with its creator's, which may be a
// caller's the supervisor took on).
struct ThreadCredentials {
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;
  std::uint64_t effective = 0;  // capabilities
};
[[nodiscard]] Result<ThreadCredentials> CallingThreadCredentials();
// Groups, then fs ids, then the effective set (a change of fsuid moves the
// filesystem capabilities, so they come last).
[[nodiscard]] Result<void> AdoptThreadCredentials(const ThreadCredentials& credentials);

}  // namespace mntns::sys
