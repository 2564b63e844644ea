#include "sys/openat2.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sys/syscalls.h"

namespace mntns::sys {

Result<UniqueFd> Openat2(int dirfd, const char* path, int flags, std::uint64_t resolve, unsigned mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = mode;
  how.resolve = resolve;
  const long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "openat2", DescribeDirFd(dirfd, path));
  }
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace mntns::sys
