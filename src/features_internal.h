// The feature probe's parts that the library and its tests use beside
// KernelFeatures() (private to the library).
#pragma once

#include "mntns/features.h"

namespace mntns::internal {

// What KernelFeatures() returns: `probed` with the profile `value` (the
// environment variable's value; null when unset) applied, unless
// `secure_execution` (AT_SECURE) or the profile is invalid: then `probed`.
[[nodiscard]] Features WithEnvironmentProfile(Features probed, const char* value, bool secure_execution);

// Fresh probes of the running kernel, no profile: whether it knows
// OPEN_TREE_NAMESPACE / FSMOUNT_NAMESPACE.
[[nodiscard]] bool ProbeOpenTreeNamespace();
[[nodiscard]] bool ProbeFsmountNamespace();
[[nodiscard]] bool ProbeEmptyMountNamespace();

}  // namespace mntns::internal
