// The /proc/PID/mountinfo backend: for kernels without listmount/statmount
// (before 6.8), and selectable on purpose so it stays tested everywhere.
#pragma once

#include <vector>

#include "mntns/query.h"

namespace mntns::internal {

// Reads and parses the mountinfo of the namespace `ns` names. kPid reads
// /proc/PID/mountinfo; kFile enters the namespace on a short-lived thread of its
// own (setns affects only that thread) and reads its /proc/<tid>/mountinfo;
// kId is not reachable this way (ENOTSUP). Namespace ids are filled in where
// the kernel can tell them (NS_GET_MNTNS_ID, 6.12+).
[[nodiscard]] Result<std::vector<Mount>> ListMountsFromMountinfo(const NamespaceRef& ns);

}  // namespace mntns::internal
