// What the running kernel offers, probed once.
#pragma once

#include <string>
#include <string_view>

#include "mntns/error.h"
#include "mntns/export.h"

namespace mntns {

// Kernel mount-API features. Each probe is a call with an argument that the
// kernel rejects before doing anything (a bad fd, a NULL buffer), so probing
// has no side effects; what distinguishes "supported" is which errno comes back.
struct Features {
  std::string kernel;               // uname -r
  bool statmount = false;           // statmount(2), 6.8
  bool listmount = false;           // listmount(2), 6.8
  bool listmount_by_ns_fd = false;  // mnt_id_req.mnt_ns_fd, 6.18
  bool statmount_by_fd = false;     // STATMOUNT_BY_FD, 7.0
  bool open_tree_namespace = false; // open_tree(OPEN_TREE_NAMESPACE), 7.0
  bool fsmount_namespace = false;   // fsmount(FSMOUNT_NAMESPACE), 7.1
  bool empty_mount_namespace = false;  // UNSHARE_EMPTY_MNTNS / CLONE_EMPTY_MNTNS, 7.1
  bool mount_setattr = false;       // mount_setattr(2), 5.12
  bool open_tree_attr = false;      // open_tree_attr(2), 6.15
  bool fanotify_mount_events = false;  // FAN_REPORT_MNT, 6.15 (needs CAP_SYS_ADMIN to probe)
  bool ns_mnt_get_info = false;     // ioctl NS_MNT_GET_INFO, 6.12
  bool ns_mnt_get_next_prev = false;  // ioctl NS_MNT_GET_NEXT / NS_MNT_GET_PREV, 6.12
  bool statx_mnt_id_unique = false; // statx(STATX_MNT_ID_UNIQUE), 6.8
  // The feature profile applied to this answer (see below), as given; empty
  // when none was.
  std::string profile;
};

// Runs every probe now, without any feature profile. Prefer KernelFeatures()
// unless you need a fresh answer.
[[nodiscard]] MNTNS_EXPORT Features ProbeFeatures();

// The probe, computed on first use and cached for the life of the process
// (thread-safe; the kernel does not change under a running process), with the
// feature profile of kFeatureProfileVariable applied. The namespace
// strategies, StatmountByFd and the query backend (listmount or mountinfo)
// choose by this; one fallback tries the call instead: a thread's namespace via
// pidfd (6.11) or /proc.
[[nodiscard]] MNTNS_EXPORT const Features& KernelFeatures();

// A test seam: with MNTNS_FEATURE_PROFILE set, KernelFeatures() reports the
// features the profile names absent, and mntns then behaves as on a kernel
// without them (auto strategies pick the emulations; a native call of a hidden
// feature, e.g. NamespaceStrategy::kNative, fails with EINVAL as the older
// kernel would). A profile only removes features; one the kernel lacks stays
// absent. It is a comma-separated list of
//   linux-MAJOR.MINOR  every feature newer than that release, e.g. "linux-7.0"
//                      (no fsmount_namespace, empty_mount_namespace), "linux-6.18" (no 7.x feature),
//                      "linux-6.8" (nothing after 6.8);
//   a Features field   e.g. "statmount_by_fd", "ns_mnt_get_info".
// An invalid profile is ignored (KernelFeatures() is the plain probe, with
// `profile` empty); ApplyFeatureProfile() says why, and `mntns features`
// prints it. The variable is ignored in secure-execution processes
// (getauxval(AT_SECURE): set-user-ID, set-group-ID, file capabilities): there
// the environment belongs to a less privileged caller, who must not steer a
// privileged process onto other code paths.
inline constexpr const char* kFeatureProfileVariable = "MNTNS_FEATURE_PROFILE";

// `features` with the features `profile` names reported absent and `profile`
// recorded in Features::profile; an empty profile changes nothing. EINVAL names
// the first item that is neither a feature nor linux-MAJOR.MINOR.
[[nodiscard]] MNTNS_EXPORT Result<Features> ApplyFeatureProfile(Features features, std::string_view profile);

}  // namespace mntns
