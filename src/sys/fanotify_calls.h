// fanotify(7) calls, for mount events (6.15+): each wrapper names the call and
// its key arguments in its Error. (Not sys/fanotify.h: src/ is on the include
// path, and that name is glibc's.)
#pragma once

#include <cstdint>

#include "mntns/error.h"
#include "mntns/fd.h"

namespace mntns::sys {

// fanotify_init(flags | FAN_CLOEXEC, event_f_flags).
[[nodiscard]] Result<UniqueFd> FanotifyInit(unsigned flags, unsigned event_f_flags);

// fanotify_mark(fd, flags, mask, dirfd, NULL): `dirfd` names the object
// (for FAN_MARK_MNTNS an nsfs fd of a mount namespace).
[[nodiscard]] Result<void> FanotifyMarkFd(int fanotify_fd, unsigned flags, std::uint64_t mask, int dirfd);

}  // namespace mntns::sys
