#include "sys/seccomp.h"

#include <linux/capability.h>
#include <linux/filter.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace mntns::sys {

Result<UniqueFd> InstallSeccompListener(const sock_fprog& program, unsigned flags) {
  const long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags | SECCOMP_FILTER_FLAG_NEW_LISTENER,
                            &program);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "seccomp", fmt::format("SECCOMP_SET_MODE_FILTER, flags {:#x}", flags));
  }
  return UniqueFd(static_cast<int>(fd));
}

Result<void> ReceiveNotification(int listener, seccomp_notif& notification) {
  for (;;) {
    // The kernel refuses (EINVAL) a buffer that is not zeroed.
    std::memset(&notification, 0, sizeof notification);
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &notification) == 0) return {};
    const int err = errno;
    if (err == EINTR) continue;
    return MakeError(err, "ioctl", fmt::format("fd {}, SECCOMP_IOCTL_NOTIF_RECV", listener));
  }
}

Result<void> SendNotificationResponse(int listener, const seccomp_notif_resp& response) {
  auto copy = response;
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &copy) != 0) {
    const int err = errno;
    return MakeError(err, "ioctl", fmt::format("fd {}, SECCOMP_IOCTL_NOTIF_SEND", listener));
  }
  return {};
}

bool NotificationStillValid(int listener, std::uint64_t id) {
  return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

Result<int> AddFdAndRespond(int listener, std::uint64_t id, int fd, unsigned newfd_flags) {
  seccomp_notif_addfd addfd{};
  addfd.id = id;
  addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
  addfd.srcfd = static_cast<std::uint32_t>(fd);
  addfd.newfd_flags = newfd_flags;
  const int number = ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  if (number < 0) {
    const int err = errno;
    return MakeError(err, "ioctl", fmt::format("fd {}, SECCOMP_IOCTL_NOTIF_ADDFD of fd {}", listener, fd));
  }
  return number;
}

Result<UniqueFd> PidfdGetFd(int pidfd, int target_fd) {
  const long fd = ::syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "pidfd_getfd", fmt::format("fd {} of pidfd {}", target_fd, pidfd));
  }
  // pidfd_getfd always sets FD_CLOEXEC on the copy.
  return UniqueFd(static_cast<int>(fd));
}

Result<std::size_t> ReadProcessMemory(pid_t pid, std::uint64_t address, std::span<std::byte> into) {
  iovec local{into.data(), into.size()};
  iovec remote{reinterpret_cast<void*>(address), into.size()};
  const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n < 0) {
    const int err = errno;
    return MakeError(err, "process_vm_readv", fmt::format("pid {}, {} bytes at {:#x}", pid, into.size(), address));
  }
  return static_cast<std::size_t>(n);
}

Result<std::size_t> WriteProcessMemory(pid_t pid, std::uint64_t address, std::span<const std::byte> from) {
  iovec local{const_cast<std::byte*>(from.data()), from.size()};
  iovec remote{reinterpret_cast<void*>(address), from.size()};
  const ssize_t n = ::process_vm_writev(pid, &local, 1, &remote, 1, 0);
  if (n < 0) {
    const int err = errno;
    return MakeError(err, "process_vm_writev", fmt::format("pid {}, {} bytes at {:#x}", pid, from.size(), address));
  }
  return static_cast<std::size_t>(n);
}

Result<void> ChrootToWorkingDirectory() {
  if (::chroot(".") != 0) {
    const int err = errno;
    return MakeError(err, "chroot", "\".\" (the caller's root)");
  }
  return kOk;
}

Result<void> SetThreadGroups(std::span<const gid_t> groups) {
  std::vector<gid_t> own(static_cast<std::size_t>(std::max(0L, ::syscall(SYS_getgroups, 0, nullptr))));
  const long count = ::syscall(SYS_getgroups, own.size(), own.data());
  if (count >= 0) {
    own.resize(static_cast<std::size_t>(count));
    std::vector<gid_t> wanted(groups.begin(), groups.end());
    std::sort(own.begin(), own.end());
    std::sort(wanted.begin(), wanted.end());
    if (own == wanted) return {};
  }
  if (::syscall(SYS_setgroups, groups.size(), groups.data()) != 0) {
    const int err = errno;
    return MakeError(err, "setgroups", fmt::format("{} groups", groups.size()));
  }
  return {};
}

void SetThreadFilesystemIds(uid_t fsuid, gid_t fsgid) {
  // Group first: setfsgid needs the capability that setfsuid may drop.
  ::syscall(SYS_setfsgid, fsgid);
  ::syscall(SYS_setfsuid, fsuid);
}

namespace {

struct CapabilitySets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};  // pid 0: the calling thread
  std::array<__user_cap_data_struct, 2> data{};  // version 3: two 32-bit halves
};

Result<CapabilitySets> ThreadCapabilitySets() {
  CapabilitySets sets;
  if (::syscall(SYS_capget, &sets.header, sets.data.data()) != 0) {
    const int err = errno;
    return MakeError(err, "capget", "calling thread");
  }
  return sets;
}

}  // namespace

Result<std::uint64_t> ThreadEffectiveCapabilities() {
  auto sets = ThreadCapabilitySets();
  if (!sets) return std::unexpected(sets.error());
  return std::uint64_t{sets->data[0].effective} | (std::uint64_t{sets->data[1].effective} << 32);
}

Result<void> SetThreadEffectiveCapabilities(std::uint64_t effective) {
  auto sets = ThreadCapabilitySets();
  if (!sets) return std::unexpected(sets.error());
  const std::uint32_t low = static_cast<std::uint32_t>(effective) & sets->data[0].permitted;
  const std::uint32_t high = static_cast<std::uint32_t>(effective >> 32) & sets->data[1].permitted;
  // No capset where nothing changes: an LSM or a seccomp policy may refuse
  // capset to a thread that never needed it (every factory worker calls this).
  if (sets->data[0].effective == low && sets->data[1].effective == high) return {};
  sets->data[0].effective = low;
  sets->data[1].effective = high;
  if (::syscall(SYS_capset, &sets->header, sets->data.data()) != 0) {
    const int err = errno;
    return MakeError(err, "capset", fmt::format("effective {:#x}", effective));
  }
  return {};
}

Result<ThreadCredentials> CallingThreadCredentials() {
  ThreadCredentials credentials;
  // setfsuid/setfsgid with an invalid id change nothing and return the current one.
  credentials.fsuid = static_cast<uid_t>(::syscall(SYS_setfsuid, -1));
  credentials.fsgid = static_cast<gid_t>(::syscall(SYS_setfsgid, -1));
  const long count = ::syscall(SYS_getgroups, 0, nullptr);
  if (count >= 0) credentials.groups.resize(static_cast<std::size_t>(count));
  if (count < 0 || ::syscall(SYS_getgroups, credentials.groups.size(), credentials.groups.data()) != count) {
    const int err = errno;
    return MakeError(err, "getgroups", "calling thread");
  }
  auto effective = ThreadEffectiveCapabilities();
  if (!effective) return std::unexpected(effective.error());
  credentials.effective = *effective;
  return credentials;
}

Result<void> AdoptThreadCredentials(const ThreadCredentials& credentials) {
  if (auto r = SetThreadGroups(credentials.groups); !r) return r;
  SetThreadFilesystemIds(credentials.fsuid, credentials.fsgid);
  return SetThreadEffectiveCapabilities(credentials.effective);
}

}  // namespace mntns::sys
