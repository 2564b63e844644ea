// The polyfill's parts (private to the library): the filter and the supervisor.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mntns/error.h"
#include "mntns/fd.h"
#include "mntns/polyfill.h"
#include "mntns/query.h"
#include "sys/uapi.h"

namespace mntns::internal {

// The task whose lookup a supervisor thread does: procfs's "self" and
// "thread-self" are its. Its process and thread ids in each pid namespace it
// is in, the outermost first (/proc/TID/status NStgid, NSpid): a procfs
// names it by the ids of the pid namespace it was mounted for.
struct PathOwner {
  std::vector<pid_t> tgids;
  std::vector<pid_t> tids;
  unsigned long long start_time = 0;  // the thread's, in clock ticks after boot (/proc/TID/stat)
};

// The start time (clock ticks after boot, field 22 of stat) of the task
// whose procfs directory is `task` from `dirfd` ("/proc/TID", "PID/task/TID").
[[nodiscard]] std::optional<unsigned long long> TaskStartTime(int dirfd, const std::string& task);

// What open_tree(dirfd, path, flags | OPEN_TREE_NAMESPACE) names, an O_PATH
// fd, looked up as `owner`'s own lookup would go, by a thread that stands
// where the owner stands and has its credentials (`flags`: AT_EMPTY_PATH,
// AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT count). What this thread cannot
// have is the owner's identity: procfs answers "self" and "thread-self"
// with the reader, and /proc/self/fd/N (or /dev/fd/N) would be this
// process's fd N. So a lookup that fails, meets a procfs magic link or ends
// on procfs is walked one component at a time, each step a lookup of the
// kernel's (permissions, mounts, ".."), with "self" and "thread-self" of a
// procfs root read as the owner's pid and the magic links of procfs's pid
// directories followed by the kernel.
[[nodiscard]] Result<UniqueFd> FindAsCaller(int dirfd, const std::string& path, unsigned flags,
                                            const PathOwner& owner);

// The BPF program: SECCOMP_RET_USER_NOTIF for exactly the calls in `calls`
// with their 7.x flag bit set, SECCOMP_RET_TRACE for unshare with
// UNSHARE_EMPTY_MNTNS and for every clone3 where calls.empty_mount_namespace,
// SECCOMP_RET_ALLOW for everything else (i386 and x32 calls included: only
// native x86_64 calls are trapped).
[[nodiscard]] std::vector<sock_filter> PolyfillFilter(const PolyfillCalls& calls);

// The filter the tracer has a task install once its mount namespace was
// emptied: SECCOMP_RET_TRACE for every native x86_64 statmount (whose
// request is in memory, out of BPF's reach), so that the tracer can answer
// for the empty root as 7.2 does (EmptyRootStatmount); ALLOW for the rest.
// Only tasks in namespaces the polyfill emptied carry it.
[[nodiscard]] std::vector<sock_filter> EmptyRootStatmountFilter();

// Answers the notifications of `listener` until it hangs up (no task uses the
// filter any more) or `stop_fd` (a pidfd, or -1) becomes readable. Each
// notification is answered; none is left waiting when this returns, except
// that a notification that arrives after `stop_fd` fired waits for the
// listener's close (which answers it ENOSYS).
[[nodiscard]] Result<void> ServeNotifications(int listener, int stop_fd);

// struct statmount as the kernel lays it out, from a Mount: the 512-byte
// header, then (after one NUL, as the kernel's string area starts where the
// request `requested` asks for a string field, or a string is set) the
// strings in the kernel's order (do_statmount: fs_type, mnt_root, mnt_point,
// mnt_opts, opt_array, opt_sec_array, fs_subtype, sb_source, uid map, gid map).
[[nodiscard]] std::vector<std::byte> EncodeStatmount(const Mount& mount, FieldMask requested = 0);

// `bytes` (EncodeStatmount's) as statmount writes them into a buffer of
// `bufsize` bytes: EOVERFLOW where the strings do not fit whole; without
// strings the header is cut at bufsize (its `size` says so).
[[nodiscard]] Result<std::vector<std::byte>> FitStatmount(std::vector<std::byte> bytes, std::uint64_t bufsize);

// The struct mnt_id_req task `tid` passed at `address`, read as the kernel's
// copy_mnt_id_req reads it: E2BIG above a page or for a nonzero byte past
// the struct 7.2 knows, EINVAL below MNT_ID_REQ_SIZE_VER0, EFAULT where the
// memory cannot be read (the missing tail of a short request is zero).
[[nodiscard]] Result<sys::MntIdReq> ReadMntIdReq(pid_t tid, std::uint64_t address);

// 7.2's statmount answer (mask `mask`, into `bufsize` bytes) for mount
// `mount_id` of namespace `ns_id` (0: the calling thread's) where that mount
// is one of the emulation's empty roots (IsTemplateRoot: the sysfs directory
// or the tmpfs, source kTemplateRootSource): the nullfs root 7.2 has there,
// its own parent, with the root's own ids and device; without MNT_POINT
// unless `point_visible`.
// nullopt for any other mount, or where the kernel says no: the kernel's own
// answer is then the right one.
[[nodiscard]] std::optional<Result<std::vector<std::byte>>> EmptyRootStatmount(std::uint64_t mount_id,
                                                                               std::uint64_t ns_id,
                                                                               std::uint64_t mask,
                                                                               std::uint64_t bufsize,
                                                                               bool point_visible);

// The PTRACE_O_* options the tracer seizes the command with.
[[nodiscard]] unsigned TracerOptions();

// As the ptracer of `command` (seized by the calling thread with
// TracerOptions()) and of every task it starts: answers the
// SECCOMP_RET_TRACE stops (tracer.cc), passes every signal on, and returns
// the command's wait status when it exits. `signal_fd` (or -1): a signalfd
// of SIGCHLD and the signals to forward to the command, which the calling
// thread has blocked.
[[nodiscard]] Result<int> TraceUntilExit(pid_t command, int signal_fd);

// As the ptracer of the tasks `seized` (seized while they ran, with
// TracerOptions()) and of every task they start: as TraceUntilExit, until no
// tracee is left. Signals are not forwarded (`signal_fd`: a signalfd of
// SIGCHLD alone). When `commit_fd` becomes readable `commit(commit_fd)` runs
// (once, on this thread, between stops) and returns the tasks it seized
// meanwhile; where it returns nullopt the run ends at once (ECANCELED).
using CommitFunction = std::function<std::optional<std::vector<pid_t>>(int commit_fd)>;
[[nodiscard]] Result<void> TraceUntilNoneIsLeft(std::span<const pid_t> seized, int signal_fd, int commit_fd,
                                                const CommitFunction& commit);

// For InstallPolyfill: starts the supervisor as a process of its own (a
// grandchild, so that the caller's wait() never sees it; in a session of its
// own, so that a terminal's signals for the caller's process group miss it),
// with the caller's credentials and namespaces. With `trace` it first seizes
// every thread of the calling process, to trace it and everything it starts
// until none of them is left. Returns once that is done: the filter's
// listener sent on the returned socket (sys::SendFileDescriptor) is then
// served until it hangs up; closing the socket without it makes the
// supervisor let go and exit. A pid namespace that the calling thread's next
// child would start (unshare(CLONE_NEWPID), no fork yet) is kept for it.
// Errors: the first failed PTRACE_SEIZE (EPERM: another tracer, or ptrace
// refused; ESRCH: /proc is another pid namespace's), fork's, setns's where
// the pending pid namespace cannot be left.
[[nodiscard]] Result<UniqueFd> StartSupervisorProcess(bool trace);

// Without tracing: waits for `command` (pidfd `pidfd`), forwarding what
// `signal_fd` (or -1) reads to it; its wait status.
[[nodiscard]] Result<int> WaitForwarding(pid_t command, int pidfd, int signal_fd);

}  // namespace mntns::internal
