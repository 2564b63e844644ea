// What the sandbox files share (private to the library).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
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

// What StartSandbox hands its setup process (a fresh exec of this program,
// see launch.cc) through a memfd: the spec and everything the caller's
// process knew that the setup needs. The fds are open in the setup process
// under the same numbers (not close-on-exec across that one exec).
struct SandboxHandoff {
  SandboxSpec spec;
  std::string cwd;               // the caller's, empty if unknown
  std::vector<std::string> env;  // CMD's environment, spec.env applied (PWD comes later)
  std::string name;              // the caller's comm, which the setup processes keep
  sigset_t signal_mask{};        // the caller's thread's, restored by the setup
  int ns_fd = -1;                // the sandbox's namespace; -1: made by the setup (unprivileged)
  int error_fd = -1;             // the setup channel's write end
  int parent_pidfd = -1;         // with die_with_parent: a pidfd of the caller's process
  // The rootless fast path (unprivileged; all three or none): the per-user
  // keeper's user namespace, host view and template (RootlessNamespaces).
  int rootless_user_ns_fd = -1;
  int rootless_host_view_fd = -1;
  int rootless_template_fd = -1;
};

// A self-contained byte string (native byte order: both ends are this program).
[[nodiscard]] std::string EncodeHandoff(const SandboxHandoff& handoff);
// nullopt when `data` is not exactly one encoded handoff.
[[nodiscard]] std::optional<SandboxHandoff> DecodeHandoff(std::string_view data);

}  // namespace mntns::internal
