// The statmount buffer decoder on any bytes: a struct statmount with random
// offsets, counts and size, and a random string table. It must stay inside
// the buffer (ASan) and keep a bit in the mask only for a string it decoded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "query/statmount.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto buffer = std::as_bytes(std::span(data, size));
  const mntns::Mount mount = mntns::internal::DecodeStatmount(buffer);
  // Every decoded string lies in the table, so none is longer than the buffer.
  for (const std::string* text : {&mount.root, &mount.point, &mount.fs_type, &mount.fs_options,
                                  &mount.fs_subtype, &mount.sb_source}) {
    if (!text->empty() && text->size() >= size) std::abort();
  }
  for (const auto* list : {&mount.fs_option_array, &mount.security_option_array, &mount.uid_map, &mount.gid_map}) {
    if (list->size() > size) std::abort();
  }
  static_cast<void>(mntns::VfsOptions(mount));
  static_cast<void>(mntns::SuperOptions(mount));
  static_cast<void>(mntns::PropagationText(mount));
  return 0;
}
