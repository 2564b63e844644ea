// The raw-syscall layer for the file calls of the namespace, keeper, query
// and sandbox code: read, write, pread, statx, fstat, fstatat, statfs,
// fstatvfs, mkdir, symlink, readlink, chmod, rename, utimensat, chroot,
// getrandom, poll, close_range and the fcntl commands on fds (F_SETFD,
// F_SETLK, F_DUPFD_CLOEXEC). Like syscalls.h, each wrapper names the call and its key argument in its Error (callers that know more,
// such as "inside the sandbox", replace the argument) and captures errno in
// the first statement after the call; every fd is close-on-exec and owned by
// a UniqueFd from the start.
#pragma once

#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "mntns/error.h"
#include "mntns/fd.h"

namespace mntns::sys {

// statx(2) of `path` relative to `dirfd` (AT_EMPTY_PATH with "" for the fd
// itself), asking for `mask`; the caller checks stx_mask for what it needs.
[[nodiscard]] Result<struct statx> Statx(int dirfd, const char* path, int flags, unsigned mask);

// fstat(2).
[[nodiscard]] Result<struct stat> Fstat(int fd);

// fstatat(2) of `path` relative to `dirfd` (flags AT_SYMLINK_NOFOLLOW, ...).
[[nodiscard]] Result<struct stat> Fstatat(int dirfd, const char* path, int flags);

// statfs(2) and fstatfs(2).
[[nodiscard]] Result<struct statfs> Statfs(const char* path);
[[nodiscard]] Result<struct statfs> Fstatfs(int fd);

// fstatvfs(3) (an fstatfs(2) whose f_flag has the mount's ST_* flags).
[[nodiscard]] Result<struct statvfs> Fstatvfs(int fd);

// read(2) of at most into.size() bytes, retried on EINTR: how many were read,
// 0 at the end of the file (or a closed pipe). `what` names the file in the
// Error: `read the sandbox setup channel: ...`.
[[nodiscard]] Result<std::size_t> Read(int fd, std::span<char> into, std::string_view what);

// pread(2) at `offset`, retried on EINTR, as Read.
[[nodiscard]] Result<std::size_t> ReadAt(int fd, std::span<char> into, off_t offset, std::string_view what);

// write(2) of all of `data`: retried on EINTR and after a short write (a
// write that takes nothing is EIO). `what` names the file in the Error.
[[nodiscard]] Result<void> WriteAll(int fd, std::string_view data, std::string_view what);

// readlinkat(2): the text of the link `path` (relative to dirfd); a text of
// PATH_MAX bytes or more is ENAMETOOLONG. EINVAL when it is no symlink.
[[nodiscard]] Result<std::string> ReadLink(int dirfd, const char* path);

// fcntl(F_DUPFD_CLOEXEC): a close-on-exec copy of `fd` numbered `lowest` or above.
[[nodiscard]] Result<UniqueFd> DuplicateFd(int fd, int lowest);

// fcntl(F_SETFD): close-on-exec on or off. Off only for an fd meant to cross an exec.
[[nodiscard]] Result<void> SetCloseOnExec(int fd, bool close_on_exec);

// fcntl(F_SETLK) of the whole file: a process-owned record lock of `type`
// (F_RDLCK, F_WRLCK), without waiting (EAGAIN or EACCES when another process
// holds a conflicting one). Closing any fd of the file drops it.
[[nodiscard]] Result<void> LockWholeFile(int fd, short type);

// mkdirat(2). EEXIST is an error like any other: callers that accept an
// existing directory test for it.
[[nodiscard]] Result<void> MakeDirectory(int dirfd, const char* path, mode_t mode);

// openat(2) with O_CREAT added (and close-on-exec): "open(O_CREAT)" in the Error.
[[nodiscard]] Result<UniqueFd> CreateFile(int dirfd, const char* path, int flags, mode_t mode);

// symlinkat(2): a link at `path` (relative to dirfd) whose text is `target`.
[[nodiscard]] Result<void> Symlink(const char* target, int dirfd, const char* path);

// fchmod(2) of an fd open for reading or writing (not O_PATH: see ChmodFd).
[[nodiscard]] Result<void> Chmod(int fd, mode_t mode);

// renameat(2) within one directory fd.
[[nodiscard]] Result<void> Rename(int dirfd, const char* from, const char* to);

// unlinkat(2) of a file (not a directory) within one directory fd.
[[nodiscard]] Result<void> Unlink(int dirfd, const char* path);

// utimensat(dirfd, path, NULL, AT_SYMLINK_NOFOLLOW): access and modification
// time set to now.
[[nodiscard]] Result<void> TouchNow(int dirfd, const char* path);

// chroot(2).
[[nodiscard]] Result<void> Chroot(const char* path);

// getrandom(2) filling all of `bytes` (retried on EINTR; a short read is EIO).
// `purpose` names them in the Error.
[[nodiscard]] Result<void> RandomBytes(std::span<unsigned char> bytes, const char* purpose);

// poll(2), retried on EINTR with the same timeout: how many fds are ready
// (0 when the timeout passed). `purpose` names what is awaited in the Error.
[[nodiscard]] Result<int> Poll(std::span<pollfd> fds, int timeout_ms, const char* purpose);

// For a child made by fork/clone3 before it execs (async-signal-safe, no
// allocation): close_range(first, ~0U, CLOSE_RANGE_CLOEXEC), 0 or its errno.
[[nodiscard]] int MarkCloseOnExecFromInChild(unsigned first);

}  // namespace mntns::sys
