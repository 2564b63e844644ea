#include "sys/openat2.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sys/syscalls.h"

namespace mntns::sys {

namespace {
// With RESOLVE_IN_ROOT or RESOLVE_BENEATH the kernel answers EAGAIN when a ".."
// step raced with any rename or mount anywhere on the system (it cannot then
// prove the step stayed inside), and openat2(2) says to try again. On a host
// that mounts all the time ~1% of such lookups race (measured with one thread
// mounting and unmounting); 64 in a row do not.
constexpr int kTriesAfterRaces = 64;
}  // namespace

Result<UniqueFd> Openat2(int dirfd, const char* path, int flags, std::uint64_t resolve, unsigned mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = mode;
  how.resolve = resolve;
  for (int tries = 1;; ++tries) {
    const long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    const int err = errno;
    if (err != EAGAIN || tries == kTriesAfterRaces) return MakeError(err, "openat2", DescribeDirFd(dirfd, path));
  }
}

}  // namespace mntns::sys
