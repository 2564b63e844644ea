#include "sys/namespaces.h"
#include "sys/fault_injection.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns::sys {

Result<void> Setns(int ns_fd, int nstype) {
  if (InjectFault(Call::kSetns) || ::setns(ns_fd, nstype) != 0) {
    const int err = errno;
    return MakeError(err, "setns", fmt::format("fd {}", ns_fd));
  }
  return kOk;
}

Result<void> Unshare(int flags) {
  if (InjectFault(Call::kUnshare) || ::unshare(flags) != 0) {
    const int err = errno;
    return MakeError(err, "unshare", fmt::format("flags {:#x}", flags));
  }
  return kOk;
}

Result<void> PivotRoot(const char* new_root, const char* put_old) {
  if (InjectFault(Call::kPivotRoot) || ::syscall(SYS_pivot_root, new_root, put_old) != 0) {
    const int err = errno;
    return MakeError(err, "pivot_root", fmt::format("{} {}", QuotePath(new_root), QuotePath(put_old)));
  }
  return kOk;
}

Result<void> Umount(const char* path, int flags) {
  if (InjectFault(Call::kUmount2) || ::umount2(path, flags) != 0) {
    const int err = errno;
    return MakeError(err, "umount2", QuotePath(path));
  }
  return kOk;
}

Result<void> Fchdir(int fd) {
  if (InjectFault(Call::kFchdir) || ::fchdir(fd) != 0) {
    const int err = errno;
    return MakeError(err, "fchdir", fmt::format("fd {}", fd));
  }
  return kOk;
}

Result<void> Chdir(const char* path) {
  if (InjectFault(Call::kChdir) || ::chdir(path) != 0) {
    const int err = errno;
    return MakeError(err, "chdir", QuotePath(path));
  }
  return kOk;
}

Result<UniqueFd> PidfdOpen(pid_t pid, unsigned flags) {
  const long fd = InjectFault(Call::kPidfdOpen) ? -1 : ::syscall(SYS_pidfd_open, pid, flags);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, "pidfd_open", fmt::format("pid {}", pid));
  }
  // pidfds are always close-on-exec.
  return UniqueFd(static_cast<int>(fd));
}

namespace {

Result<UniqueFd> PidfdNamespace(int pidfd, unsigned long request, const char* operation) {
  const int fd = InjectFault(Call::kIoctl) ? -1 : ::ioctl(pidfd, request, 0);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, operation, fmt::format("fd {}", pidfd));
  }
  return UniqueFd(fd);
}

}  // namespace

Result<UniqueFd> PidfdMountNamespace(int pidfd) {
  return PidfdNamespace(pidfd, kPidfdGetMntNamespace, "ioctl(PIDFD_GET_MNT_NAMESPACE)");
}

Result<UniqueFd> PidfdUserNamespace(int pidfd) {
  return PidfdNamespace(pidfd, kPidfdGetUserNamespace, "ioctl(PIDFD_GET_USER_NAMESPACE)");
}

Result<int> NamespaceType(int ns_fd) {
  const int type = InjectFault(Call::kIoctl) ? -1 : ::ioctl(ns_fd, kNsGetNsType);
  if (type < 0) {
    const int err = errno;
    return MakeError(err, "ioctl(NS_GET_NSTYPE)", fmt::format("fd {}", ns_fd));
  }
  return type;
}

Result<UniqueFd> OpenMountNamespaceFile(const std::string& path) {
  auto fd = Open(AT_FDCWD, path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) return std::unexpected(fd.error());
  auto type = NamespaceType(fd->Get());
  if (!type) {
    // ENOTTY: not an nsfs file at all.
    const bool not_nsfs = type.error().code == ENOTTY;
    return MakeError(not_nsfs ? EINVAL : type.error().code, "ioctl(NS_GET_NSTYPE)",
                     QuotePath(path) + (not_nsfs ? " is not a namespace file" : ""));
  }
  if (*type != CLONE_NEWNS) return MakeError(EINVAL, "open namespace", QuotePath(path) + " is not a mount namespace");
  return fd;
}

namespace {

// An nsfs ioctl that answers with a namespace fd (NS_GET_USERNS, NS_GET_PARENT).
Result<UniqueFd> RelatedNamespace(int ns_fd, unsigned long request, const char* operation) {
  const int fd = InjectFault(Call::kIoctl) ? -1 : ::ioctl(ns_fd, request);
  if (fd < 0) {
    const int err = errno;
    return MakeError(err, operation, fmt::format("fd {}", ns_fd));
  }
  // nsfs opens it close-on-exec (O_CLOEXEC in ns_get_path's open).
  return UniqueFd(fd);
}

}  // namespace

Result<UniqueFd> OwningUserNamespace(int ns_fd) {
  return RelatedNamespace(ns_fd, kNsGetUserns, "ioctl(NS_GET_USERNS)");
}

Result<UniqueFd> ParentNamespace(int ns_fd) { return RelatedNamespace(ns_fd, kNsGetParent, "ioctl(NS_GET_PARENT)"); }

Result<uid_t> UserNamespaceOwner(int userns_fd) {
  uid_t owner = 0;
  if (InjectFault(Call::kIoctl) || ::ioctl(userns_fd, kNsGetOwnerUid, &owner) != 0) {
    const int err = errno;
    return MakeError(err, "ioctl(NS_GET_OWNER_UID)", fmt::format("fd {}", userns_fd));
  }
  return owner;
}

Result<bool> IsDirectory(int fd) {
  struct stat st {};
  if (InjectFault(Call::kFstat) || ::fstat(fd, &st) != 0) {
    const int err = errno;
    return MakeError(err, "fstat", fmt::format("fd {}", fd));
  }
  return S_ISDIR(st.st_mode);
}

Result<bool> IsMountRoot(int fd) {
  struct statx stx {};
  if (InjectFault(Call::kStatx) || ::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, 0, &stx) != 0) {
    const int err = errno;
    return MakeError(err, "statx", fmt::format("fd {}", fd));
  }
  if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0) {
    return MakeError(ENOSYS, "statx(STATX_ATTR_MOUNT_ROOT)", fmt::format("fd {}", fd));
  }
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

pid_t ThreadId() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

Result<void> ClearCapabilitySets() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};  // version 3: two 32-bit halves, all empty
  if (InjectFault(Call::kCapset) || ::syscall(SYS_capset, &header, data) != 0) {
    const int err = errno;
    return MakeError(err, "capset", "all empty");
  }
  return kOk;
}

Result<bool> HasEffectiveCapability(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) {
    const int err = errno;
    return MakeError(err, "capget", "calling thread");
  }
  const auto index = static_cast<unsigned>(capability) / 32;
  if (index >= 2) return false;
  return (data[index].effective & (1U << (static_cast<unsigned>(capability) % 32))) != 0;
}

int EnterMountNamespaceInChild(int ns_fd) { return ::setns(ns_fd, CLONE_NEWNS) == 0 ? 0 : errno; }

int EnterUserNamespaceInChild(int ns_fd) { return ::setns(ns_fd, CLONE_NEWUSER) == 0 ? 0 : errno; }

int MakeEmptyRootInChild(const char* source) {
  if (::unshare(CLONE_NEWNS) != 0) return errno;
  return EmptyCurrentMountNamespaceInChild(source);
}

namespace {

// Makes the detached mount `root` the namespace's root (closing it): moved
// onto "/", pivot_root onto it, the old root detached. Raw calls only.
int PivotOntoEmptyRoot(int root) {
  int err = 0;
  // As in the template build: pivot_root(".", ".") from the new root stacks
  // the old root on it, and the detach takes the old root with the whole copy.
  if (::move_mount(root, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) != 0 || ::fchdir(root) != 0 ||
      ::syscall(SYS_pivot_root, ".", ".") != 0 || ::umount2(".", MNT_DETACH) != 0 || ::chdir("/") != 0) {
    err = errno;
  }
  ::close(root);
  return err;
}

// A fresh sysfs's permanently empty directories (sysfs_create_mount_point).
constexpr const char* kEmptyDirectories[] = {"kernel/debug", "kernel/security", "fs/cgroup"};

// A clone of the first of them that is one (mkdir there fails with ENOENT,
// where a sysfs directory says EPERM), or -1. Raw calls only.
int CloneEmptyDirectory(int empty_dirs) {
  for (const char* path : kEmptyDirectories) {
    const int clone = ::open_tree(empty_dirs, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (clone < 0) continue;
    if (::mkdirat(clone, "x", 0) != 0 && errno == ENOENT) return clone;
    ::close(clone);
  }
  return -1;
}

}  // namespace

Result<UniqueFd> EmptyDirectorySource(const char* source) {
  UniqueFd fs(::fsopen("sysfs", FSOPEN_CLOEXEC));
  if (!fs) {
    const int err = errno;
    return MakeError(err, "fsopen", "sysfs");
  }
  if (::fsconfig(fs.Get(), FSCONFIG_SET_STRING, "source", source, 0) != 0 ||
      ::fsconfig(fs.Get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    const int err = errno;
    return MakeError(err, "fsconfig", "sysfs");
  }
  // Not read-only: the directories are immutable and have no operation
  // that creates, so changing them fails with EPERM, as in 7.2's immutable
  // nullfs root (a read-only mount would say EROFS first).
  UniqueFd mount(::fsmount(fs.Get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (!mount) {
    const int err = errno;
    return MakeError(err, "fsmount", "sysfs");
  }
  return mount;
}

int EmptyCurrentMountNamespaceInChild(const char* source, int empty_dirs) {
  mount_attr attr{};
  attr.propagation = MS_PRIVATE;
  if (::mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) != 0) return errno;
  if (empty_dirs >= 0) {
    if (const int root = CloneEmptyDirectory(empty_dirs); root >= 0) return PivotOntoEmptyRoot(root);
  }
  const int fs = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0) return errno;
  int err = 0;
  if (::fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) != 0 ||
      ::fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0555", 0) != 0 ||
      ::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    err = errno;
  }
  const int root =
      err != 0 ? -1
               : ::fsmount(fs, FSMOUNT_CLOEXEC,
                           MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (err == 0 && root < 0) err = errno;
  ::close(fs);
  if (err != 0) return err;
  return PivotOntoEmptyRoot(root);
}


Result<void> SetCapabilitySets(std::uint64_t set) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int half = 0; half < 2; ++half) {
    const auto bits = static_cast<std::uint32_t>(set >> (32 * half));
    data[half] = {bits, bits, bits};
  }
  if (::syscall(SYS_capset, &header, data) != 0) {
    const int err = errno;
    return MakeError(err, "capset", fmt::format("{:#x}", set));
  }
  return kOk;
}

Result<void> ChmodFd(int fd, mode_t mode) {
  if (::syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) != 0) {
    const int err = errno;
    return MakeError(err, "fchmodat2", fmt::format("fd {} {:#o}", fd, mode));
  }
  return kOk;
}

Result<void> SetHostname(std::string_view name) {
  if (InjectFault(Call::kSethostname) || ::sethostname(name.data(), name.size()) != 0) {
    const int err = errno;
    return MakeError(err, "sethostname", QuotePath(name));
  }
  return kOk;
}

Result<void> BringUpInterface(const char* name) {
  UniqueFd socket(InjectFault(Call::kSocket) ? -1 : ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket) {
    const int err = errno;
    return MakeError(err, "socket", fmt::format("AF_INET for {}", name));
  }
  ifreq request{};
  std::strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  if (InjectFault(Call::kIoctl) || ::ioctl(socket.Get(), SIOCGIFFLAGS, &request) != 0) {
    const int err = errno;
    return MakeError(err, "ioctl(SIOCGIFFLAGS)", name);
  }
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (InjectFault(Call::kIoctl) || ::ioctl(socket.Get(), SIOCSIFFLAGS, &request) != 0) {
    const int err = errno;
    return MakeError(err, "ioctl(SIOCSIFFLAGS)", fmt::format("{} up", name));
  }
  return kOk;
}

void ResetAllSignalActions() {
  // The kernel's struct sigaction (not glibc's): handler, flags, restorer,
  // mask; SIG_DFL needs no restorer.
  struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    std::uint64_t mask;
  } action{SIG_DFL, 0, nullptr, 0};
  constexpr int kKernelSignals = 64;  // _NSIG
  for (int sig = 1; sig <= kKernelSignals; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::syscall(SYS_rt_sigaction, sig, &action, nullptr, sizeof action.mask);
  }
}

}  // namespace mntns::sys
