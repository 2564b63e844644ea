// The raw-syscall layer for process calls: fork and clone3, pipes and socket
// pairs, waiting, signalfd, prctl, flock, setresuid, setresgid and setsid.
// Like syscalls.h, each wrapper names the call and its key argument in its
// Error and captures errno in the first statement after the call; every fd
// is close-on-exec and owned by a UniqueFd from the start.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mntns/error.h"
#include "mntns/fd.h"

struct sock_fprog;

namespace mntns::sys {

// fork(2) through glibc (atfork handlers run, the child's malloc works).
// `purpose` names the child in the Error: `fork the sandbox: ...`.
[[nodiscard]] Result<pid_t> Fork(const char* purpose);

// A process made by ForkWithPidfd: in the parent its pid and a pidfd for it;
// in the child pid 0 and no pidfd.
struct ForkedProcess {
  pid_t pid = 0;
  UniqueFd pidfd;
};

// clone3(CLONE_PIDFD) with SIGCHLD as exit signal (5.3): a fork(2) that also
// hands the parent a pidfd of the child, so nothing can reuse the pid under it.
// Bypasses glibc: no atfork handler runs, and in a multi-threaded caller the
// child may hold copies of locks other threads had at the fork. The child must
// make only raw system calls (no malloc, no locks, no stdio) until it execs or
// _exits, and must not return into code that assumes otherwise.
[[nodiscard]] Result<ForkedProcess> ForkWithPidfd(const char* purpose);

// The same with more clone3 flags (CLONE_NEW*, CLONE_EMPTY_MNTNS on 7.1+), under
// the same rules for the child.
[[nodiscard]] Result<ForkedProcess> CloneWithPidfd(std::uint64_t flags, const char* purpose);

// pipe2(2), close-on-exec always (`flags` may add O_NONBLOCK, O_DIRECT).
// {read end, write end}.
[[nodiscard]] Result<std::pair<UniqueFd, UniqueFd>> Pipe(int flags, const char* purpose);

// socketpair(2) of `domain` (AF_UNIX), close-on-exec always.
[[nodiscard]] Result<std::pair<UniqueFd, UniqueFd>> SocketPair(int domain, int type, const char* purpose);

// What waitpid(2) reported: the pid (0 with WNOHANG when no child changed
// state) and its wait status.
struct ChildStatus {
  pid_t pid = 0;
  int status = 0;
};

// waitpid(2), retried on EINTR. ECHILD when there is no such child.
[[nodiscard]] Result<ChildStatus> WaitPid(pid_t pid, int options);

// waitid(2), retried on EINTR; `type` P_PID, P_PIDFD (5.4), P_ALL.
// With WNOHANG and no child to report, si_pid is 0.
[[nodiscard]] Result<siginfo_t> WaitId(idtype_t type, id_t id, int options);

// signalfd(2) for `set` (close-on-exec); the signals must be blocked.
[[nodiscard]] Result<UniqueFd> SignalFd(const sigset_t& set);

// pidfd_send_signal(2) (5.1): a signal that cannot reach a recycled pid.
[[nodiscard]] Result<void> PidfdSendSignal(int pidfd, int sig);

// ---- prctl(2), one wrapper per option mntns uses ------------------------------

// PR_SET_NO_NEW_PRIVS: execve never grants privileges (setuid, file caps).
[[nodiscard]] Result<void> SetNoNewPrivileges();

// PR_CAPBSET_DROP of one capability (EINVAL past the last one the kernel has).
[[nodiscard]] Result<void> DropBoundingCapability(int capability);

// PR_CAPBSET_READ: whether `capability` is in the bounding set (false past
// the last one the kernel has, where the kernel says EINVAL).
[[nodiscard]] Result<bool> InBoundingSet(int capability);

// PR_SET_SECUREBITS to `bits` (SECBIT_*).
[[nodiscard]] Result<void> SetSecureBits(unsigned long bits);

// PR_CAP_AMBIENT_RAISE of one capability (it must be permitted and inheritable).
[[nodiscard]] Result<void> RaiseAmbientCapability(int capability);

// PR_CAP_AMBIENT_CLEAR_ALL.
[[nodiscard]] Result<void> ClearAmbientCapabilities();

// PR_SET_SECCOMP with SECCOMP_MODE_FILTER; `what` names the filter in the Error.
[[nodiscard]] Result<void> SetSeccompFilter(const sock_fprog& program, const char* what);

// PR_SET_PDEATHSIG: `sig` when the *thread* that forked this process exits
// (not the whole parent process), or the parent does.
[[nodiscard]] Result<void> SetParentDeathSignal(int sig);

// PR_SET_NAME: the calling thread's name (comm), at most 15 bytes kept.
[[nodiscard]] Result<void> SetThreadName(const char* name);

// PR_GET_NAME: the calling thread's name (comm).
[[nodiscard]] Result<std::string> ThreadName();

// /proc status files ("Key:\tvalue" lines: PID/status, PID/task/TID/status).
// The file `path` below `dirfd`, whole (a task with many groups has more
// than a page; E2BIG above a MiB).
[[nodiscard]] Result<std::string> ReadProcStatus(int dirfd, const char* path);
// Field `key` of such a text: what follows its colon and blanks, up to the
// end of its line; nullopt where it has no such line.
[[nodiscard]] std::optional<std::string_view> ProcStatusField(std::string_view status, std::string_view key);
// The blank-separated numbers a field starts with, in `base` ("CapEff" is
// one in hex, "Uid" four decimals, "Groups" any number of them).
[[nodiscard]] std::vector<unsigned long long> ProcStatusNumbers(std::string_view field, int base = 10);

// Waits (at most a second) until the calling process has one thread, as
// /proc's "self/status" below `proc_dir` counts them. A joined thread is not
// yet gone: the kernel wakes its joiner before it leaves the thread group,
// and until then unshare(CLONE_NEWUSER) and setns into a user namespace fail
// EINVAL (seen on a 1-CPU VM after the namespace helpers' threads). Returns
// early, without an error, where /proc cannot be read: the call that needs a
// single thread reports for itself.
void AwaitSingleThread(int proc_dir);

// setresgid(2) and setresuid(2): the real, effective and saved ids all become
// `id` (through glibc: for every thread of the process). EINVAL for an id the
// user namespace does not map, EPERM without CAP_SETGID/CAP_SETUID there.
[[nodiscard]] Result<void> SetAllGroupIds(gid_t id);
[[nodiscard]] Result<void> SetAllUserIds(uid_t id);

// setsid(2): a new session and process group led by the caller, without a
// controlling terminal. EPERM for a process group leader.
[[nodiscard]] Result<void> NewSession();

// flock(2), retried on EINTR.
[[nodiscard]] Result<void> Flock(int fd, int operation);

// ioctl(TIOCGWINSZ): the width in columns of the terminal on `fd` (0 when the
// terminal's size was never set, as on a fresh pseudo-terminal). ENOTTY when
// `fd` is no terminal. (glibc 2.36 has no tcgetwinsize.)
[[nodiscard]] Result<unsigned> TerminalColumns(int fd);

}  // namespace mntns::sys
