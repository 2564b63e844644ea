#include "sys/files.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "sys/fault_injection.h"
#include "sys/syscalls.h"

namespace mntns::sys {

Result<struct statx> Statx(int dirfd, const char* path, int flags, unsigned mask) {
  struct statx stx {};
  if (InjectFault(Call::kStatx) || ::statx(dirfd, path, flags, mask, &stx) != 0) {
    const int err = errno;
    return MakeError(err, "statx", DescribeDirFd(dirfd, path));
  }
  return stx;
}

Result<struct stat> Fstat(int fd) {
  struct stat st {};
  if (InjectFault(Call::kFstat) || ::fstat(fd, &st) != 0) {
    const int err = errno;
    return MakeError(err, "fstat", fmt::format("fd {}", fd));
  }
  return st;
}

Result<void> MakeDirectory(int dirfd, const char* path, mode_t mode) {
  if (InjectFault(Call::kMkdir) || ::mkdirat(dirfd, path, mode) != 0) {
    const int err = errno;
    return MakeError(err, "mkdir", DescribeDirFd(dirfd, path));
  }
  return kOk;
}

Result<UniqueFd> CreateFile(int dirfd, const char* path, int flags, mode_t mode) {
  const int fd = InjectFault(Call::kOpen) ? -1 : ::openat(dirfd, path, flags | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "open(O_CREAT)", DescribeDirFd(dirfd, path));
  }
  return UniqueFd(fd);
}

Result<void> Symlink(const char* target, int dirfd, const char* path) {
  if (InjectFault(Call::kSymlink) || ::symlinkat(target, dirfd, path) != 0) {
    const int err = errno;
    return MakeError(err, "symlink", DescribeDirFd(dirfd, path));
  }
  return kOk;
}

Result<void> Chmod(int fd, mode_t mode) {
  if (InjectFault(Call::kChmod) || ::fchmod(fd, mode) != 0) {
    const int err = errno;
    return MakeError(err, "chmod", fmt::format("{:#o} fd {}", mode, fd));
  }
  return kOk;
}

Result<void> Rename(int dirfd, const char* from, const char* to) {
  if (InjectFault(Call::kRename) || ::renameat(dirfd, from, dirfd, to) != 0) {
    const int err = errno;
    return MakeError(err, "rename", fmt::format("{} to {}", DescribeDirFd(dirfd, from), to));
  }
  return kOk;
}

Result<void> TouchNow(int dirfd, const char* path) {
  if (InjectFault(Call::kUtimensat) || ::utimensat(dirfd, path, nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    return MakeError(err, "utimensat", DescribeDirFd(dirfd, path));
  }
  return kOk;
}

Result<void> Chroot(const char* path) {
  if (InjectFault(Call::kChroot) || ::chroot(path) != 0) {
    const int err = errno;
    return MakeError(err, "chroot", QuotePath(path));
  }
  return kOk;
}

Result<void> RandomBytes(std::span<unsigned char> bytes, const char* purpose) {
  ssize_t got;
  while ((got = InjectFault(Call::kGetrandom) ? -1 : ::getrandom(bytes.data(), bytes.size(), 0)) < 0 &&
         errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(bytes.size())) {
    const int err = got < 0 ? errno : EIO;
    return MakeError(err, "getrandom", purpose);
  }
  return kOk;
}

Result<int> Poll(std::span<pollfd> fds, int timeout_ms, const char* purpose) {
  int n;
  while ((n = InjectFault(Call::kPoll) ? -1 : ::poll(fds.data(), fds.size(), timeout_ms)) < 0 && errno == EINTR) {
  }
  if (n < 0) {
    const int err = errno;
    return MakeError(err, "poll", purpose);
  }
  return n;
}

int MarkCloseOnExecFromInChild(unsigned first) {
  if (InjectFault(Call::kCloseRange)) return errno;
  return ::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0 ? 0 : errno;
}

}  // namespace mntns::sys
