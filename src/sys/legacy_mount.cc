#include "sys/legacy_mount.h"

#include <sys/mount.h>

#include <cerrno>

#include <fmt/format.h>

#include "sys/syscalls.h"

namespace mntns::sys {

Result<void> MountLegacy(const char* source, const char* target, const char* type,
                         unsigned long flags) {
  if (::mount(source, target, type, flags, nullptr) != 0) {
    const int err = errno;
    return MakeError(err, "mount", fmt::format("{} flags {:#x}{}", QuotePath(target), flags, MountLimitNote(err)));
  }
  return kOk;
}

}  // namespace mntns::sys
