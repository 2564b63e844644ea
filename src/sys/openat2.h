// openat2(2) (5.6): path lookups confined to a root directory.
#pragma once

#include <cstdint>

#include "mntns/error.h"
#include "mntns/fd.h"

namespace mntns::sys {

// openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve}); `resolve` holds
// RESOLVE_* bits from <linux/openat2.h>. Tries again (up to 64 times) when the
// kernel answers EAGAIN because a ".." step raced with a mount or rename.
[[nodiscard]] Result<UniqueFd> Openat2(int dirfd, const char* path, int flags, std::uint64_t resolve,
                                       unsigned mode = 0);

}  // namespace mntns::sys
