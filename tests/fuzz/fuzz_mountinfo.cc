// ParseMountinfo on any text: it must return mounts or an EINVAL naming the
// line, never read out of bounds; what it returns must render.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mntns/query.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto mounts = mntns::ParseMountinfo(text);
  if (!mounts) {
    if (mounts.error().code != EINVAL) std::abort();
    return 0;
  }
  for (const mntns::Mount& mount : *mounts) {
    static_cast<void>(mntns::VfsOptions(mount));
    static_cast<void>(mntns::SuperOptions(mount));
    static_cast<void>(mntns::PropagationText(mount));
    static_cast<void>(mntns::FsTypeText(mount));
  }
  return 0;
}
