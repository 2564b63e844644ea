#include "sys/files.h"

#include <fcntl.h>
#include <limits.h>
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

Result<struct stat> Fstatat(int dirfd, const char* path, int flags) {
  struct stat st {};
  if (InjectFault(Call::kFstatat) || ::fstatat(dirfd, path, &st, flags) != 0) {
    const int err = errno;
    return MakeError(err, "fstatat", DescribeDirFd(dirfd, path));
  }
  return st;
}

Result<struct statfs> Statfs(const char* path) {
  struct statfs fs {};
  if (InjectFault(Call::kStatfs) || ::statfs(path, &fs) != 0) {
    const int err = errno;
    return MakeError(err, "statfs", QuotePath(path));
  }
  return fs;
}

Result<struct statfs> Fstatfs(int fd) {
  struct statfs fs {};
  if (InjectFault(Call::kFstatfs) || ::fstatfs(fd, &fs) != 0) {
    const int err = errno;
    return MakeError(err, "fstatfs", fmt::format("fd {}", fd));
  }
  return fs;
}

Result<struct statvfs> Fstatvfs(int fd) {
  struct statvfs vfs {};
  if (InjectFault(Call::kFstatvfs) || ::fstatvfs(fd, &vfs) != 0) {
    const int err = errno;
    return MakeError(err, "fstatvfs", fmt::format("fd {}", fd));
  }
  return vfs;
}

Result<std::size_t> Read(int fd, std::span<char> into, std::string_view what) {
  ssize_t n;
  while ((n = InjectFault(Call::kRead) ? -1 : ::read(fd, into.data(), into.size())) < 0 && errno == EINTR) {
  }
  if (n < 0) {
    const int err = errno;
    return MakeError(err, "read", std::string(what));
  }
  return static_cast<std::size_t>(n);
}

Result<std::size_t> ReadAt(int fd, std::span<char> into, off_t offset, std::string_view what) {
  ssize_t n;
  while ((n = InjectFault(Call::kPread) ? -1 : ::pread(fd, into.data(), into.size(), offset)) < 0 && errno == EINTR) {
  }
  if (n < 0) {
    const int err = errno;
    return MakeError(err, "pread", std::string(what));
  }
  return static_cast<std::size_t>(n);
}

Result<void> WriteAll(int fd, std::string_view data, std::string_view what) {
  for (std::size_t written = 0; written < data.size();) {
    const ssize_t n = InjectFault(Call::kWrite) ? -1 : ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      return MakeError(err, "write", std::string(what));
    }
    written += static_cast<std::size_t>(n);
  }
  return kOk;
}

Result<std::string> ReadLink(int dirfd, const char* path) {
  char text[PATH_MAX];
  const ssize_t n = InjectFault(Call::kReadlink) ? -1 : ::readlinkat(dirfd, path, text, sizeof text);
  if (n < 0 || static_cast<std::size_t>(n) >= sizeof text) {
    const int err = n < 0 ? errno : ENAMETOOLONG;
    return MakeError(err, "readlink", DescribeDirFd(dirfd, path));
  }
  return std::string(text, static_cast<std::size_t>(n));
}

Result<UniqueFd> DuplicateFd(int fd, int lowest) {
  const int copy = InjectFault(Call::kFcntl) ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, lowest);
  if (copy < 0) {
    const int err = errno;
    return MakeError(err, "fcntl(F_DUPFD_CLOEXEC)", fmt::format("fd {}", fd));
  }
  return UniqueFd(copy);
}

Result<void> SetCloseOnExec(int fd, bool close_on_exec) {
  if (InjectFault(Call::kFcntl) || ::fcntl(fd, F_SETFD, close_on_exec ? FD_CLOEXEC : 0) != 0) {
    const int err = errno;
    return MakeError(err, "fcntl(F_SETFD)", fmt::format("fd {}{}", fd, close_on_exec ? " FD_CLOEXEC" : " 0"));
  }
  return kOk;
}

Result<void> LockWholeFile(int fd, short type) {
  struct flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  if (InjectFault(Call::kFcntl) || ::fcntl(fd, F_SETLK, &range) != 0) {
    const int err = errno;
    return MakeError(err, "fcntl(F_SETLK)", fmt::format("fd {}", fd));
  }
  return kOk;
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

Result<void> Unlink(int dirfd, const char* path) {
  if (InjectFault(Call::kUnlink) || ::unlinkat(dirfd, path, 0) != 0) {
    const int err = errno;
    return MakeError(err, "unlinkat", DescribeDirFd(dirfd, path));
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
