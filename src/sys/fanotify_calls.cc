#include "sys/fanotify_calls.h"

#include <fcntl.h>
#include <sys/fanotify.h>

#include <cerrno>

#include <fmt/format.h>

namespace mntns::sys {

Result<UniqueFd> FanotifyInit(unsigned flags, unsigned event_f_flags) {
  const int fd = ::fanotify_init(flags | FAN_CLOEXEC, event_f_flags);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "fanotify_init", fmt::format("flags=0x{:x}", flags | FAN_CLOEXEC));
  }
  return UniqueFd(fd);
}

Result<void> FanotifyMarkFd(int fanotify_fd, unsigned flags, std::uint64_t mask, int dirfd) {
  if (::fanotify_mark(fanotify_fd, flags, mask, dirfd, nullptr) != 0) {
    const int err = errno;
    return MakeError(err, "fanotify_mark", fmt::format("flags=0x{:x} mask=0x{:x} dirfd={}", flags, mask, dirfd));
  }
  return kOk;
}

}  // namespace mntns::sys
