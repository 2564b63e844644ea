// The filters of `mntns ls`: findmnt's -t, -O, -S, -M, --real, --pseudo,
// --shadowed, -T and -R, with libmount's matching rules.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mntns/query.h"
#include "output/mount_output.h"

namespace mntns::cli {

// The filters that look at one mount at a time, so that they run while the
// table is read, block by block.
struct MountFilter {
  std::string types;       // -t
  std::string options;     // -O
  std::string source;      // -S
  std::string mountpoint;  // -M, already resolved
  bool real = false;       // --real
  bool pseudo = false;     // --pseudo
  bool shadowed = false;   // --shadowed (needs the whole table: CoveredMounts)
  bool nonzero_size = false;  // -D without -A: filesystems of size 0 left out

  // The statmount fields these filters read.
  [[nodiscard]] FieldMask Mask() const;
  // Whether any per-mount filter is set (shadowed is not one).
  [[nodiscard]] bool Active() const;
  // `usage` is needed only for nonzero_size; without it that filter passes.
  [[nodiscard]] bool Matches(const Mount& mount, const Usage* usage) const;
};

// libmount's mnt_match_fstype: `pattern` is a comma-separated list of types,
// matched case-insensitively; an item "noX" rejects X, and a list that starts
// with "no" matches the types it does not name.
[[nodiscard]] bool MatchesTypes(std::string_view type, std::string_view pattern);

// libmount's mnt_match_options: every item of `pattern` must hold for
// `options` (a comma-separated list such as the OPTIONS column): "X" or
// "X=V" must be there (with that value), "noX" must not, "+noX" must be there
// as written.
[[nodiscard]] bool MatchesOptions(std::string_view options, std::string_view pattern);

// libmount's list of pseudo filesystems (util-linux 2.38), by type or type.subtype.
[[nodiscard]] bool IsPseudoFilesystem(std::string_view type);

// `path` with repeated and trailing slashes dropped and "." segments removed
// (no symlinks resolved); "/" stays "/".
[[nodiscard]] std::string NormalPath(std::string_view path);

// The mount that absolute `path` lies on, as findmnt -T finds it in a table:
// the last mount (the top of a stack) whose target is the longest leading
// part of the path. nullopt when none is.
[[nodiscard]] std::optional<std::size_t> MountOfPath(std::span<const Mount> mounts, const std::string& path);

// For each mount: whether another mount sits on top of it, on the same path
// (findmnt --shadowed). Needs kMntBasic and kMntPoint.
[[nodiscard]] std::vector<bool> CoveredMounts(std::span<const Mount> mounts);

// findmnt -R: each kept mount, in the table's order, then every mount below
// it depth-first, siblings in ascending (old) mount id as libmount's
// next-child walk gives them; a mount already listed is not listed again.
// The indices of the mounts to show, in that order.
[[nodiscard]] std::vector<std::size_t> WithSubmounts(std::span<const Mount> mounts, const std::vector<bool>& keep);

}  // namespace mntns::cli
