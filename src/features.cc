#include "mntns/features.h"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>

#include "sys/probe.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns {
namespace {

// Every probe below is a call the kernel must reject; which errno it picks
// tells whether it knows the feature. Unknown syscalls answer ENOSYS; unknown
// flags are checked before fds are looked up and answer EINVAL.

bool ProbeSyscallExists(long number) { return sys::ProbeSyscallWithNullArgs(number) != ENOSYS; }

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
  const int err = sys::ProbeOpenTreeOnBadFd(OPEN_TREE_NAMESPACE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
  // 7.x: EBADF (or EPERM without CAP_SYS_ADMIN); 6.x: EINVAL for the unknown flag.
  return err != EINVAL && err != ENOSYS;
}

bool ProbeFsmountNamespace() {
  const int err = sys::ProbeFsmountOnBadFd(FSMOUNT_NAMESPACE | FSMOUNT_CLOEXEC);
  return err != EINVAL && err != ENOSYS;
}

bool ProbeMountSetattr() { return sys::ProbeMountSetattrWithZeroSize() != ENOSYS; }

bool ProbeOpenTreeAttr() { return sys::ProbeOpenTreeAttrOnBadFd() != ENOSYS; }

bool ProbeFanotifyMountEvents() {
  // Creating a notification group has no effect beyond the fd itself.
  // Without CAP_SYS_ADMIN this answers EPERM and we report false (unknown).
  return sys::ProbeFanotifyInit(sys::kFanReportMnt | sys::kFanClassNotif | FAN_CLOEXEC) == 0;
}

bool ProbeNsMntGetNextPrev(int ns_fd) {
  if (ns_fd < 0) return false;
  sys::MntNsInfo info{.size = sys::kMntNsInfoSizeVer0, .nr_mounts = 0, .mnt_ns_id = 0};
  // Success returns an fd for the neighbour namespace; ENOENT means there is none.
  const int err = sys::ProbeIoctl(ns_fd, sys::kNsMntGetNext, &info);
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
