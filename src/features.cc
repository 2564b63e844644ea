#include "mntns/features.h"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>

#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

// Every probe below is a call the kernel must reject; which errno it picks
// tells whether it knows the feature. Unknown syscalls answer ENOSYS; unknown
// flags are checked before fds are looked up and answer EINVAL.

int ErrnoOfSyscall(long rc) { return rc < 0 ? errno : 0; }

bool ProbeSyscallExists(long number) {
  // NULL request pointer: EFAULT if the syscall exists, ENOSYS if not.
  return ErrnoOfSyscall(::syscall(number, nullptr, nullptr, 0, 0)) != ENOSYS;
}

bool ProbeStatmountByFd() {
  sys::MntIdReq request{.size = sys::kMntIdReqSizeVer1,
                        .mnt_ns_fd_or_mnt_fd = static_cast<std::uint32_t>(-1),
                        .mnt_id = 0,
                        .param = sys::kStatmountMntBasic,
                        .mnt_ns_id = 0};
  alignas(8) std::byte buffer[sizeof(sys::RawStatmount)];
  auto result = sys::Statmount(request, buffer, sys::kStatmountByFd);
  // 7.x looks the fd up and answers EBADF; 6.x rejects the unknown flag with EINVAL.
  return !result && result.error().code == EBADF;
}

bool ProbeListmountByNsFd(int ns_fd) {
  if (ns_fd < 0) return false;
  sys::MntIdReq request{.size = sys::kMntIdReqSizeVer1,
                        .mnt_ns_fd_or_mnt_fd = static_cast<std::uint32_t>(ns_fd),
                        .mnt_id = sys::kListmountRoot,
                        .param = 0,
                        .mnt_ns_id = 0};
  std::uint64_t id = 0;
  // Before 6.18 the word was `spare` and had to be zero (EINVAL).
  return sys::Listmount(request, std::span(&id, 1), 0).has_value();
}

bool ProbeOpenTreeNamespace() {
  const int fd = ::open_tree(-1, "", OPEN_TREE_NAMESPACE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
  const int err = fd < 0 ? errno : 0;
  UniqueFd owned(fd);  // cannot succeed with fd -1, but never leak if it did
  // 7.x: EBADF (or EPERM without CAP_SYS_ADMIN); 6.x: EINVAL for the unknown flag.
  return err != EINVAL && err != ENOSYS;
}

bool ProbeFsmountNamespace() {
  const int fd = ::fsmount(-1, FSMOUNT_NAMESPACE | FSMOUNT_CLOEXEC, 0);
  const int err = fd < 0 ? errno : 0;
  UniqueFd owned(fd);
  return err != EINVAL && err != ENOSYS;
}

bool ProbeMountSetattr() {
  // usize 0 is below MOUNT_ATTR_SIZE_VER0: EINVAL where the syscall exists.
  return ErrnoOfSyscall(::mount_setattr(-1, "", AT_EMPTY_PATH, nullptr, 0)) != ENOSYS;
}

bool ProbeOpenTreeAttr() {
  const long rc = ::syscall(SYS_open_tree_attr, -1, "", AT_EMPTY_PATH, nullptr, 0);
  const int err = ErrnoOfSyscall(rc);
  UniqueFd owned(rc >= 0 ? static_cast<int>(rc) : -1);
  return err != ENOSYS;
}

bool ProbeFanotifyMountEvents() {
  // Creating a notification group has no effect beyond the fd itself.
  // Without CAP_SYS_ADMIN this answers EPERM and we report false (unknown).
  const int fd = ::fanotify_init(sys::kFanReportMnt | sys::kFanClassNotif | FAN_CLOEXEC, O_RDONLY);
  UniqueFd owned(fd);
  return fd >= 0;
}

bool ProbeNsMntGetNextPrev(int ns_fd) {
  if (ns_fd < 0) return false;
  sys::MntNsInfo info{.size = sys::kMntNsInfoSizeVer0, .nr_mounts = 0, .mnt_ns_id = 0};
  // Success returns an fd for the neighbour namespace; ENOENT means there is none.
  const int fd = ::ioctl(ns_fd, sys::kNsMntGetNext, &info);
  const int err = fd < 0 ? errno : 0;
  UniqueFd owned(fd);
  return err != ENOTTY && err != EINVAL;
}

bool ProbeStatxMntIdUnique() { return sys::UniqueMountIdOf(AT_FDCWD, "/", 0).has_value(); }

}  // namespace

Features ProbeFeatures() {
  Features features;
  struct utsname name {};
  if (::uname(&name) == 0) features.kernel = name.release;

  auto ns_fd = sys::Open(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY);
  const int ns = ns_fd ? ns_fd->Get() : -1;

  features.statmount = ProbeSyscallExists(SYS_statmount);
  features.listmount = ProbeSyscallExists(SYS_listmount);
  features.listmount_by_ns_fd = features.listmount && ProbeListmountByNsFd(ns);
  features.statmount_by_fd = features.statmount && ProbeStatmountByFd();
  features.open_tree_namespace = ProbeOpenTreeNamespace();
  features.fsmount_namespace = ProbeFsmountNamespace();
  features.mount_setattr = ProbeMountSetattr();
  features.open_tree_attr = ProbeOpenTreeAttr();
  features.fanotify_mount_events = ProbeFanotifyMountEvents();
  features.ns_mnt_get_info = ns >= 0 && sys::MountNamespaceInfo(ns).has_value();
  features.ns_mnt_get_next_prev = ProbeNsMntGetNextPrev(ns);
  features.statx_mnt_id_unique = ProbeStatxMntIdUnique();
  return features;
}

const Features& KernelFeatures() {
  static const Features features = ProbeFeatures();
  return features;
}

}  // namespace mntns
