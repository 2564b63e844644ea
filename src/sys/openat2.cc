#include "sys/openat2.h"
#include "sys/fault_injection.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
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
// mounting and unmounting), but a lookup preempted mid-walk on a loaded
// machine races far more often: 64 tries in a row once all failed under
// make test. 1,024 tries, yielding the CPU every 64, cost nothing when there
// is no race.
constexpr int kTriesAfterRaces = 1024;
constexpr int kTriesBeforeYielding = 64;
}  // namespace

Result<UniqueFd> Openat2(int dirfd, const char* path, int flags, std::uint64_t resolve, unsigned mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = mode;
  how.resolve = resolve;
  for (int tries = 1;; ++tries) {
    const long fd = InjectFault(Call::kOpenat2) ? -1 : ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    const int err = errno;
    if (err != EAGAIN || tries == kTriesAfterRaces) return MakeError(err, "openat2", DescribeDirFd(dirfd, path));
    if (tries % kTriesBeforeYielding == 0) ::sched_yield();
  }
}

}  // namespace mntns::sys
