// What every `mntns bench` command shares: a private namespace of its own
// with many "host" mounts, so the caller's mount table is never touched.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "mntns/error.h"

namespace mntns::cli {

// Runs `body` in a forked child that has entered a private mount namespace
// (unshare + make-rprivate) with a tmpfs at a fresh /tmp directory, passed to
// `body`. Returns the child's exit status (128+signal if killed). The
// directory is removed afterwards; the mounts die with the child's namespace.
[[nodiscard]] int InPrivateBenchNamespace(const std::function<int(const std::string& base)>& body);

[[nodiscard]] Result<void> MakeDirectory(const std::string& path);
[[nodiscard]] Result<void> MountTmpfs(const std::string& path, const char* source);
// A bind of `source` on `target` (created), via open_tree + move_mount.
[[nodiscard]] Result<void> BindMount(const std::string& source, const std::string& target);

// Adds `count` bind mounts under `dir` (side by side, not stacked: stacked
// mounts make every path walk O(depth)), all of one small tmpfs. With
// `peer_groups` > 0 the binds are of that many shared tmpfs mounts, round
// robin, so each bind joins a peer group of about count/peer_groups members.
// Progress goes to stderr.
[[nodiscard]] Result<void> AddHostMounts(const std::string& dir, std::size_t count,
                                         std::size_t peer_groups = 0);

}  // namespace mntns::cli
