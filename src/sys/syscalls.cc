#include "sys/syscalls.h"
#include "sys/fault_injection.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace mntns::sys {

std::string DescribeDirFd(int dirfd, const char* path) {
  std::string text = path != nullptr ? QuotePath(path) : std::string("NULL");
  if (dirfd == AT_FDCWD || (path != nullptr && path[0] == '/')) return text;
  return fmt::format("{} (dirfd {})", text, dirfd);
}

std::string MountLimitNote(int code) {
  if (code != ENOSPC) return {};
  std::string limit = "?";
  const UniqueFd file(::open("/proc/sys/fs/mount-max", O_RDONLY | O_CLOEXEC));
  char text[32] = {};
  if (file.Get() >= 0 && ::read(file.Get(), text, sizeof text - 1) > 0) {
    limit = std::string(text, std::strcspn(text, "\n"));
  }
  return fmt::format(" (a mount namespace holds at most fs.mount-max = {} mounts)", limit);
}

Result<UniqueFd> MemoryFile(const char* name) {
  const int fd = InjectFault(Call::kMemfdCreate) ? -1 : ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "memfd_create", QuotePath(name));
  }
  return UniqueFd(fd);
}

Result<void> SealFile(int fd, unsigned seals) {
  if (InjectFault(Call::kFcntl) || ::fcntl(fd, F_ADD_SEALS, seals) != 0) {
    const int err = errno;
    return MakeError(err, "fcntl(F_ADD_SEALS)", fmt::format("fd {}", fd));
  }
  return kOk;
}

Result<unsigned> FileSeals(int fd) {
  const int seals = InjectFault(Call::kFcntl) ? -1 : ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    const int err = errno;
    return MakeError(err, "fcntl(F_GET_SEALS)", fmt::format("fd {}", fd));
  }
  return static_cast<unsigned>(seals);
}

void ReserveStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    const int reserved = ::open("/", O_PATH | O_CLOEXEC);
    if (reserved >= 0 && reserved != fd) ::close(reserved);
  }
}

Result<UniqueFd> Open(int dirfd, const char* path, int flags, mode_t mode) {
  const int fd = InjectFault(Call::kOpen) ? -1 : ::openat(dirfd, path, flags | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "open", DescribeDirFd(dirfd, path));
  }
  return UniqueFd(fd);
}

Result<void> Statmount(const MntIdReq& request, std::span<std::byte> buffer, unsigned flags) {
  const long rc = InjectFault(Call::kStatmount) ? -1 : ::syscall(SYS_statmount, &request, buffer.data(), buffer.size(), flags);
  if (rc < 0) {
    const int err = errno;
    return MakeError(err, "statmount",
                     request.mnt_id != 0 ? fmt::format("mnt_id={}", request.mnt_id)
                                         : fmt::format("fd {}", request.mnt_ns_fd_or_mnt_fd));
  }
  return kOk;
}

Result<std::size_t> Listmount(const MntIdReq& request, std::span<std::uint64_t> ids,
                              unsigned flags) {
  const long rc = InjectFault(Call::kListmount) ? -1 : ::syscall(SYS_listmount, &request, ids.data(), ids.size(), flags);
  if (rc < 0) {
    const int err = errno;
    return MakeError(err, "listmount",
                     fmt::format("mnt_id={} in {}", request.mnt_id,
                                 request.mnt_ns_id != 0 ? fmt::format("mnt_ns_id={}", request.mnt_ns_id)
                                                        : std::string("the caller's namespace")));
  }
  return static_cast<std::size_t>(rc);
}

Result<std::uint64_t> UniqueMountIdOf(int dirfd, const char* path, int flags) {
  struct statx stx {};
  if (InjectFault(Call::kStatx) || ::statx(dirfd, path, flags, kStatxMntIdUnique, &stx) != 0) {
    const int err = errno;
    return MakeError(err, "statx", DescribeDirFd(dirfd, path));
  }
  if ((stx.stx_mask & kStatxMntIdUnique) == 0) {
    // Kernels before 6.8 silently answer the old, reusable id instead.
    return MakeError(ENOSYS, "statx(STATX_MNT_ID_UNIQUE)", DescribeDirFd(dirfd, path));
  }
  return stx.stx_mnt_id;
}

Result<UniqueFd> OpenTree(int dirfd, const char* path, unsigned flags) {
  const int fd = InjectFault(Call::kOpenTree) ? -1 : ::open_tree(dirfd, path, flags);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "open_tree", DescribeDirFd(dirfd, path));
  }
  return UniqueFd(fd);
}

Result<UniqueFd> FsOpen(const char* fs_name, unsigned flags) {
  const int fd = InjectFault(Call::kFsopen) ? -1 : ::fsopen(fs_name, flags | FSOPEN_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "fsopen", QuotePath(fs_name));
  }
  return UniqueFd(fd);
}

Result<UniqueFd> FsMount(int fs_fd, unsigned flags, unsigned attr_flags) {
  const int fd = InjectFault(Call::kFsmount) ? -1 : ::fsmount(fs_fd, flags | FSMOUNT_CLOEXEC, attr_flags);
  if (fd < 0) {
    const int err = errno;
    auto error = MakeError(err, "fsmount", fmt::format("fd {}", fs_fd));
    error.error().kernel_log = ReadFsContextLog(fs_fd);
    return error;
  }
  return UniqueFd(fd);
}

Result<void> MoveMount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                       unsigned flags) {
  if (InjectFault(Call::kMoveMount) || ::move_mount(from_dirfd, from_path, to_dirfd, to_path, flags) != 0) {
    const int err = errno;
    return MakeError(err, "move_mount",
                     fmt::format("{} -> {}{}", DescribeDirFd(from_dirfd, from_path),
                                 DescribeDirFd(to_dirfd, to_path), MountLimitNote(err)));
  }
  return kOk;
}

Result<void> MountSetattr(int dirfd, const char* path, unsigned flags,
                          const struct mount_attr& attr) {
  auto attr_copy = attr;
  if (InjectFault(Call::kMountSetattr) || ::mount_setattr(dirfd, path, flags, &attr_copy, sizeof attr_copy) != 0) {
    const int err = errno;
    return MakeError(err, "mount_setattr", DescribeDirFd(dirfd, path));
  }
  return kOk;
}

namespace {

Result<void> FsConfig(int fs_fd, unsigned cmd, const char* key, const char* value, int aux,
                      const std::string& argument) {
  if (InjectFault(Call::kFsconfig) || ::fsconfig(fs_fd, cmd, key, value, aux) != 0) {
    const int err = errno;
    auto error = MakeError(err, "fsconfig", argument);
    error.error().kernel_log = ReadFsContextLog(fs_fd);
    return error;
  }
  return kOk;
}

}  // namespace

Result<void> FsConfigString(int fs_fd, const char* key, const char* value) {
  return FsConfig(fs_fd, FSCONFIG_SET_STRING, key, value, 0, fmt::format("{}={}", key, value));
}

Result<void> FsConfigFlag(int fs_fd, const char* key) {
  return FsConfig(fs_fd, FSCONFIG_SET_FLAG, key, nullptr, 0, key);
}

Result<void> FsConfigFd(int fs_fd, const char* key, int fd) {
  return FsConfig(fs_fd, FSCONFIG_SET_FD, key, nullptr, fd, fmt::format("{}=fd {}", key, fd));
}

Result<void> FsConfigCreate(int fs_fd) {
  return FsConfig(fs_fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0, "FSCONFIG_CMD_CREATE");
}

std::string ReadFsContextLog(int fs_fd) {
  // The kernel keeps up to 8 messages per context; each read() returns one,
  // ending in a newline on 6.18 (which would land inside the error text).
  std::string log;
  char message[1024];
  for (int i = 0; i < 8; ++i) {
    const ssize_t n = ::read(fs_fd, message, sizeof message);
    if (n <= 0) break;
    auto length = static_cast<std::size_t>(n);
    while (length > 0 && message[length - 1] == '\n') --length;
    if (!log.empty()) log += "; ";
    log.append(message, length);
  }
  return log;
}

Result<std::uint64_t> MountNamespaceId(int ns_fd) {
  std::uint64_t id = 0;
  if (InjectFault(Call::kIoctl) || ::ioctl(ns_fd, kNsGetMntnsId, &id) != 0) {
    const int err = errno;
    return MakeError(err, "ioctl(NS_GET_MNTNS_ID)", fmt::format("fd {}", ns_fd));
  }
  return id;
}

Result<MntNsInfo> MountNamespaceInfo(int ns_fd) {
  MntNsInfo info{.size = kMntNsInfoSizeVer0, .nr_mounts = 0, .mnt_ns_id = 0};
  if (InjectFault(Call::kIoctl) || ::ioctl(ns_fd, kNsMntGetInfo, &info) != 0) {
    const int err = errno;
    return MakeError(err, "ioctl(NS_MNT_GET_INFO)", fmt::format("fd {}", ns_fd));
  }
  return info;
}

}  // namespace mntns::sys
