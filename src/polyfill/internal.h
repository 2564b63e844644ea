// The polyfill's parts (private to the library): the filter and the supervisor.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <vector>

#include "mntns/error.h"
#include "mntns/fd.h"
#include "mntns/polyfill.h"

namespace mntns::internal {

// The BPF program: SECCOMP_RET_USER_NOTIF for exactly the calls in `calls`
// with their 7.x flag bit set, SECCOMP_RET_TRACE for unshare with
// UNSHARE_EMPTY_MNTNS and for every clone3 where calls.empty_mount_namespace,
// SECCOMP_RET_ALLOW for everything else (i386 and x32 calls included: only
// native x86_64 calls are trapped).
[[nodiscard]] std::vector<sock_filter> PolyfillFilter(const PolyfillCalls& calls);

// Answers the notifications of `listener` until it hangs up (no task uses the
// filter any more) or `stop_fd` (a pidfd, or -1) becomes readable. Each
// notification is answered; none is left waiting when this returns, except
// that a notification that arrives after `stop_fd` fired waits for the
// listener's close (which answers it ENOSYS).
[[nodiscard]] Result<void> ServeNotifications(int listener, int stop_fd);

// The PTRACE_O_* options the tracer seizes the command with.
[[nodiscard]] unsigned TracerOptions();

// As the ptracer of `command` (seized by the calling thread with
// TracerOptions()) and of every task it starts: answers the
// SECCOMP_RET_TRACE stops (tracer.cc), passes every signal on, and returns
// the command's wait status when it exits. `signal_fd` (or -1): a signalfd
// of SIGCHLD and the signals to forward to the command, which the calling
// thread has blocked.
[[nodiscard]] Result<int> TraceUntilExit(pid_t command, int signal_fd);

// Without tracing: waits for `command` (pidfd `pidfd`), forwarding what
// `signal_fd` (or -1) reads to it; its wait status.
[[nodiscard]] Result<int> WaitForwarding(pid_t command, int pidfd, int signal_fd);

}  // namespace mntns::internal
