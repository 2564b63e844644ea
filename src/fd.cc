#include "mntns/fd.h"

#include <unistd.h>

#include "sys/process.h"
#include "sys/syscalls.h"

namespace mntns {

void UniqueFd::Reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) {
    // Never retry: Linux releases the fd even when close() fails with EINTR.
    (void)::close(fd_);
  }
  fd_ = fd;
}

void ReserveStandardFds() noexcept { sys::ReserveStandardFds(); }

Result<unsigned> TerminalColumns(int fd) { return sys::TerminalColumns(fd); }

}  // namespace mntns
