// The legacy mount(2), alone in a file of its own (STYLE.md rule 6): mntns
// uses the new mount API everywhere else. Like syscalls.h, the wrapper names
// the call and its key argument in its Error.
#pragma once

#include "mntns/error.h"

namespace mntns::sys {

// Legacy mount(2). Only the classic namespace strategy calls it, and only
// where the new mount API is missing (kernels before 5.12 lack mount_setattr).
[[nodiscard]] Result<void> MountLegacy(const char* source, const char* target, const char* type,
                                       unsigned long flags);

}  // namespace mntns::sys
