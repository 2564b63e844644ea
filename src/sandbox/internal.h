// What the sandbox files share (private to the library).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mntns/error.h"
#include "mntns/fd.h"
#include "mntns/sandbox.h"

namespace mntns::internal {

// The bubblewrap option a step came from, with its arguments, for error text:
// `--ro-bind /usr /usr`.
[[nodiscard]] std::string DescribeSandboxMount(const SandboxMount& mount);

// Adds the step to an Error: `open_tree "/x" (for --ro-bind /x /y): ...`.
// An Error whose operation is the step itself (a check of the step, not a
// failed call: `--remount-ro /x is not a mount point ...`) is returned as it is.
[[nodiscard]] Error ForStep(Error error, const SandboxMount& mount);

// What a step needs from the caller's namespace, made there before entering
// the sandbox's: detached clones of bind sources, fresh filesystems (proc of
// the current pid namespace, tmpfs, devpts, overlay on host paths). All are
// detached (never attached anywhere) and private.
struct PreparedMount {
  UniqueFd tree;             // the mount to attach at DEST; empty: nothing (skipped, or no mount)
  bool source_is_directory = true;
  // kDev: the fresh /dev tmpfs is `tree`; these go inside it.
  UniqueFd devpts;
  UniqueFd shm;
  std::vector<std::pair<std::string, UniqueFd>> devices;  // name -> clone of /dev/NAME
};

// In the caller's namespace. One PreparedMount per spec.mounts entry.
[[nodiscard]] Result<std::vector<PreparedMount>> PrepareMounts(const SandboxSpec& spec);

// Inside the sandbox's namespace, with the sandbox's "/" as root: attaches and
// creates everything in order. Consumes the prepared trees.
[[nodiscard]] Result<void> AttachMounts(const SandboxSpec& spec, std::vector<PreparedMount>& prepared);

}  // namespace mntns::internal
