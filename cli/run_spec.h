// mntns run: bubblewrap-style options and the JSON spec, both into a SandboxSpec.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "mntns/error.h"
#include "mntns/sandbox.h"

namespace mntns::cli {

// Parses `args` (everything after `mntns run`) in order, like bwrap: each
// option adds its step at its position; --size/--perms apply to the next
// --tmpfs (--perms also to the next --dir); --overlay-src collects layers for
// the next overlay step; --json-spec FILE inserts that file's setup at its
// position. The command starts after `--` or at the first non-option.
// Errors are usage errors naming the option: EINVAL, or the errno of reading
// a --json-spec FILE (ENOENT, EISDIR, EFBIG, ...).
[[nodiscard]] Result<SandboxSpec> ParseRunArguments(const std::vector<std::string>& args);

// The most a --json-spec FILE may hold; a larger one is refused (EFBIG)
// without reading it all.
inline constexpr std::size_t kJsonSpecMaxBytes = std::size_t{16} << 20;

// Adds a JSON document (the schema is in docs/run.md and `mntns run --help`) to `spec`.
// Strict: an unknown or duplicate key, a value of the wrong type or out of
// range, or a NUL in a string is an error (EINVAL) naming the key by its path
// (`mounts[2].perms`); `origin` names the document in the error text.
[[nodiscard]] Result<void> ApplyJsonSpec(const std::string& text, const std::string& origin, SandboxSpec& spec);

// The JSON schema, for --help.
[[nodiscard]] const char* JsonSpecHelp();

}  // namespace mntns::cli
