// The raw-syscall layer: the only code in mntns that calls the kernel's mount
// API directly. Each wrapper returns a Result whose Error names the syscall and
// its key arguments; errno is captured in the first statement after the call.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "mntns/error.h"
#include "mntns/fd.h"
#include "sys/uapi.h"

namespace mntns::sys {

// Renders an fd argument for error text: "fd 3" or "AT_FDCWD".
[[nodiscard]] std::string DescribeDirFd(int dirfd, const char* path);

// For error text when attaching a mount failed with `code`: ENOSPC there means
// the namespace would exceed fs.mount-max (the kernel's only reason), which the
// bare errno does not say. " (... fs.mount-max = N ...)" or "".
[[nodiscard]] std::string MountLimitNote(int code);

[[nodiscard]] Result<UniqueFd> Open(int dirfd, const char* path, int flags, mode_t mode = 0);

// memfd_create(2), close-on-exec and sealable: an anonymous file (`name`
// shows in /proc/PID/fd).
[[nodiscard]] Result<UniqueFd> MemoryFile(const char* name);
// fcntl(F_ADD_SEALS): F_SEAL_* bits that nobody can undo, for a MemoryFile.
[[nodiscard]] Result<void> SealFile(int fd, unsigned seals);
// fcntl(F_GET_SEALS): the seals of `fd`, EINVAL for a file that takes none.
[[nodiscard]] Result<unsigned> FileSeals(int fd);

// Fills each closed fd among 0, 1 and 2 with an O_PATH fd of "/" (there even
// where a root has no /dev/null), close-on-exec: the next open() would take a
// closed one, and an nsfs fd or a lock file would then receive what is
// printed; any read or write of the placeholder fails with EBADF, as on the
// closed fd, and an exec'd program still finds it closed. For main() and the
// exec'd template keeper; async-signal-safe.
void ReserveStandardFds();

// statmount(2). Fills `buffer` (a struct Statmount followed by strings). On
// EOVERFLOW the caller grows the buffer and retries.
[[nodiscard]] Result<void> Statmount(const MntIdReq& request, std::span<std::byte> buffer,
                                     unsigned flags);

// listmount(2): up to ids.size() mount ids after request.param, in ascending
// order (or descending with kListmountReverse). Returns how many were written.
[[nodiscard]] Result<std::size_t> Listmount(const MntIdReq& request, std::span<std::uint64_t> ids,
                                            unsigned flags);

// statx(2) asking for STATX_MNT_ID_UNIQUE (6.8+): the unique id of the mount
// `path` (relative to dirfd, flags AT_*) lives on.
[[nodiscard]] Result<std::uint64_t> UniqueMountIdOf(int dirfd, const char* path, int flags);

[[nodiscard]] Result<UniqueFd> OpenTree(int dirfd, const char* path, unsigned flags);
[[nodiscard]] Result<UniqueFd> FsOpen(const char* fs_name, unsigned flags);
[[nodiscard]] Result<UniqueFd> FsMount(int fs_fd, unsigned flags, unsigned attr_flags);
[[nodiscard]] Result<void> MoveMount(int from_dirfd, const char* from_path, int to_dirfd,
                                     const char* to_path, unsigned flags);
[[nodiscard]] Result<void> MountSetattr(int dirfd, const char* path, unsigned flags,
                                        const struct mount_attr& attr);

// fsconfig(2); on failure the Error carries the fs_context log read from fs_fd.
[[nodiscard]] Result<void> FsConfigString(int fs_fd, const char* key, const char* value);
[[nodiscard]] Result<void> FsConfigFlag(int fs_fd, const char* key);
// FSCONFIG_SET_FD: the context takes its own reference to `fd`.
[[nodiscard]] Result<void> FsConfigFd(int fs_fd, const char* key, int fd);
[[nodiscard]] Result<void> FsConfigCreate(int fs_fd);

// Drains the fs_context message log of an fsopen()/fspick() fd ("e ...", "w ...").
[[nodiscard]] std::string ReadFsContextLog(int fs_fd);

// ioctl(NS_GET_MNTNS_ID) on a mount namespace fd (6.12+).
[[nodiscard]] Result<std::uint64_t> MountNamespaceId(int ns_fd);

// ioctl(NS_MNT_GET_INFO) on a mount namespace fd (6.12+).
[[nodiscard]] Result<MntNsInfo> MountNamespaceInfo(int ns_fd);

}  // namespace mntns::sys
