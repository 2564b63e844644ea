// The polyfill's parts (private to the library): the filter and the supervisor.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "mntns/error.h"
#include "mntns/fd.h"
#include "mntns/polyfill.h"

namespace mntns::internal {

// The BPF program: SECCOMP_RET_USER_NOTIF for exactly the calls in `calls`
// with their 7.x flag bit set, SECCOMP_RET_ALLOW for everything else
// (other architectures' calls included: x86_64 only is trapped).
[[nodiscard]] std::vector<sock_filter> PolyfillFilter(const PolyfillCalls& calls);

// Answers the notifications of `listener` until it hangs up (no task uses the
// filter any more) or `stop_fd` (a pidfd, or -1) becomes readable. Each
// notification is answered; none is left waiting when this returns, except
// that a notification that arrives after `stop_fd` fired waits for the
// listener's close (which answers it ENOSYS).
[[nodiscard]] Result<void> ServeNotifications(int listener, int stop_fd);

}  // namespace mntns::internal
