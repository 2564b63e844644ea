// StatmountByFd's two implementations, visible to tests and benchmarks so that both can
// be run side by side on a kernel that has the native call.
#pragma once

#include "mntns/query.h"

namespace mntns::internal {

// statmount(STATMOUNT_BY_FD) (Linux 7.0+); where the kernel answers ENOENT (a detached
// tree of one mount, an fsmount() fd not yet attached) the result is derived from the fd.
[[nodiscard]] Result<Mount> NativeStatmountByFd(int fd, FieldMask mask);

// The 6.8+ emulation: statx(STATX_MNT_ID_UNIQUE) + statmount by id for mounts in the
// caller's namespace, a result derived from the fd for every other mount.
[[nodiscard]] Result<Mount> EmulatedStatmountByFd(int fd, FieldMask mask);

}  // namespace mntns::internal
