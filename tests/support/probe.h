// Test support: the run suites' probe, a test binary re-executed inside a
// sandbox as `/probe --probe WHAT [ARG]`.
#pragma once

#include <string>
#include <vector>

namespace mntns::testing {

// This test binary, for binding it into a sandbox.
std::string SelfPath();

// `mntns run` options that give the probe what it needs inside: the host's
// library directories (bound read-only, or recreated as the same symlinks)
// and this binary at /probe.
std::vector<std::string> ProbeBinds();

}  // namespace mntns::testing
