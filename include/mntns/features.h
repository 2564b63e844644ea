// What the running kernel offers, probed once.
#pragma once

#include <string>

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
  bool mount_setattr = false;       // mount_setattr(2), 5.12
  bool open_tree_attr = false;      // open_tree_attr(2), 6.15
  bool fanotify_mount_events = false;  // FAN_REPORT_MNT, 6.15 (needs CAP_SYS_ADMIN to probe)
  bool ns_mnt_get_info = false;     // ioctl NS_MNT_GET_INFO, 6.12
  bool ns_mnt_get_next_prev = false;  // ioctl NS_MNT_GET_NEXT / NS_MNT_GET_PREV, 6.12
  bool statx_mnt_id_unique = false; // statx(STATX_MNT_ID_UNIQUE), 6.8
};

// Runs every probe now. Prefer KernelFeatures() unless you need a fresh answer.
[[nodiscard]] MNTNS_EXPORT Features ProbeFeatures();

// The probe, computed on first use and cached for the life of the process
// (thread-safe; the kernel does not change under a running process).
[[nodiscard]] MNTNS_EXPORT const Features& KernelFeatures();

}  // namespace mntns
