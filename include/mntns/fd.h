// UniqueFd: the one owner of a file descriptor.
#pragma once

#include <utility>

#include "mntns/error.h"
#include "mntns/export.h"

namespace mntns {

// Move-only owner of a file descriptor. Every fd the library creates is held by
// a UniqueFd from the line that creates it, so no error path can leak one.
// The destructor closes the fd exactly once and never retries close() on EINTR:
// on Linux the fd is released even when close() reports EINTR, and a retry could
// close an fd another thread has just been given.
class MNTNS_EXPORT UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  ~UniqueFd() noexcept { Reset(); }

  // The fd, still owned; -1 when empty.
  [[nodiscard]] int Get() const noexcept { return fd_; }
  [[nodiscard]] bool Valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return Valid(); }

  // Gives up ownership; the caller must close the returned fd.
  [[nodiscard]] int Release() noexcept { return std::exchange(fd_, -1); }

  // Closes the owned fd (if any) and takes ownership of `fd`.
  void Reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// Fills each closed fd among 0, 1 and 2 with an O_PATH fd of "/"
// (close-on-exec), so that the next fd the program or mntns opens cannot land
// there: an nsfs fd or a lock file on fd 1 would receive what is printed. Any
// read or write of a placeholder fails with EBADF, as on the closed fd, and
// an exec'd program still finds it closed. For the start of main().
// Async-signal-safe.
MNTNS_EXPORT void ReserveStandardFds() noexcept;

// ioctl(TIOCGWINSZ): the width in columns of the terminal on `fd` (0 when the
// terminal's size was never set, as on a fresh pseudo-terminal); ENOTTY when
// `fd` is no terminal. For programs that fit tables to a terminal (mntns ls).
[[nodiscard]] MNTNS_EXPORT Result<unsigned> TerminalColumns(int fd);

}  // namespace mntns
