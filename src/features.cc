#include "mntns/features.h"

#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/fanotify.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "features_internal.h"
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

// Every Features field, with the release that brought it (for linux-X.Y profiles).
struct FeatureRelease {
  std::string_view name;
  bool Features::*member;
  int major;
  int minor;
};

constexpr FeatureRelease kFeatureReleases[] = {
    {"statmount", &Features::statmount, 6, 8},
    {"listmount", &Features::listmount, 6, 8},
    {"listmount_by_ns_fd", &Features::listmount_by_ns_fd, 6, 18},
    {"statmount_by_fd", &Features::statmount_by_fd, 7, 0},
    {"open_tree_namespace", &Features::open_tree_namespace, 7, 0},
    {"fsmount_namespace", &Features::fsmount_namespace, 7, 1},
    {"empty_mount_namespace", &Features::empty_mount_namespace, 7, 1},
    {"mount_setattr", &Features::mount_setattr, 5, 12},
    {"open_tree_attr", &Features::open_tree_attr, 6, 15},
    {"fanotify_mount_events", &Features::fanotify_mount_events, 6, 15},
    {"ns_mnt_get_info", &Features::ns_mnt_get_info, 6, 12},
    {"ns_mnt_get_next_prev", &Features::ns_mnt_get_next_prev, 6, 12},
    {"statx_mnt_id_unique", &Features::statx_mnt_id_unique, 6, 8},
};

// "linux-MAJOR.MINOR" as {major, minor}; false for anything else.
bool ParseRelease(std::string_view item, int& major, int& minor) {
  constexpr std::string_view kPrefix = "linux-";
  if (!item.starts_with(kPrefix)) return false;
  item.remove_prefix(kPrefix.size());
  const char* end = item.data() + item.size();
  auto [dot, major_error] = std::from_chars(item.data(), end, major);
  if (major_error != std::errc() || dot == end || *dot != '.') return false;
  auto [rest, minor_error] = std::from_chars(dot + 1, end, minor);
  return minor_error == std::errc() && rest == end && dot + 1 != end;
}

}  // namespace

namespace internal {

bool ProbeOpenTreeNamespace() {
  const int err = sys::ProbeOpenTreeOnBadFd(OPEN_TREE_NAMESPACE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
  // 7.x: EBADF (or EPERM without CAP_SYS_ADMIN); 6.x: EINVAL for the unknown flag.
  return err != EINVAL && err != ENOSYS;
}

bool ProbeFsmountNamespace() {
  const int err = sys::ProbeFsmountOnBadFd(FSMOUNT_NAMESPACE | FSMOUNT_CLOEXEC);
  // fsmount checks may_mount() before its flags: without CAP_SYS_ADMIN every
  // kernel answers EPERM. FSMOUNT_NAMESPACE (7.1) came after
  // OPEN_TREE_NAMESPACE (7.0), whose probe checks the flags first.
  if (err == EPERM) return ProbeOpenTreeNamespace();
  return err != EINVAL && err != ENOSYS;
}

bool ProbeEmptyMountNamespace() {
  const int err = sys::ProbeClone3IntoBadCgroup(CLONE_EMPTY_MNTNS);
  return err != EINVAL && err != ENOSYS;
}

Features WithEnvironmentProfile(Features probed, const char* value, bool secure_execution) {
  if (value == nullptr || *value == '\0' || secure_execution) return probed;
  auto profiled = ApplyFeatureProfile(probed, value);
  return profiled ? std::move(*profiled) : probed;
}

}  // namespace internal

Result<Features> ApplyFeatureProfile(Features features, std::string_view profile) {
  if (profile.empty()) return features;
  std::string_view rest = profile;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    int major = 0;
    int minor = 0;
    if (ParseRelease(item, major, minor)) {
      for (const FeatureRelease& release : kFeatureReleases) {
        if (release.major > major || (release.major == major && release.minor > minor)) {
          features.*(release.member) = false;
        }
      }
    } else {
      bool known = false;
      for (const FeatureRelease& release : kFeatureReleases) {
        if (release.name != item) continue;
        features.*(release.member) = false;
        known = true;
      }
      if (!known) {
        return MakeError(EINVAL, "feature profile",
                         fmt::format("{} item \"{}\" (linux-MAJOR.MINOR or a feature name, as `mntns features` "
                                     "prints them)",
                                     QuotePath(profile), item));
      }
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  features.profile = std::string(profile);
  return features;
}

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
  features.open_tree_namespace = internal::ProbeOpenTreeNamespace();
  features.fsmount_namespace = internal::ProbeFsmountNamespace();
  features.empty_mount_namespace = internal::ProbeEmptyMountNamespace();
  features.mount_setattr = ProbeMountSetattr();
  features.open_tree_attr = ProbeOpenTreeAttr();
  features.fanotify_mount_events = ProbeFanotifyMountEvents();
  features.ns_mnt_get_info = ns >= 0 && sys::MountNamespaceInfo(ns).has_value();
  features.ns_mnt_get_next_prev = ProbeNsMntGetNextPrev(ns);
  features.statx_mnt_id_unique = ProbeStatxMntIdUnique();
  return features;
}

const Features& KernelFeatures() {
  // As secure_getenv() would; AT_SECURE is passed in so that tests can
  // check the rule without a set-user-ID binary.
  static const Features features = internal::WithEnvironmentProfile(
      ProbeFeatures(), std::getenv(kFeatureProfileVariable), ::getauxval(AT_SECURE) != 0);
  return features;
}

}  // namespace mntns
