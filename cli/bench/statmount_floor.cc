#include "bench/statmount_floor.h"

#include <algorithm>
#include <cerrno>
#include <thread>

#include "mntns/query.h"
#include "output/mount_output.h"

namespace mntns::cli {

Result<std::vector<std::uint64_t>> ListCallerMountIds() { return ListMountIds(); }

Result<void> StatmountCallsAlone(std::span<const std::uint64_t> ids) {
  // The library asks for a superblock's strings once per superblock, not per mount.
  constexpr FieldMask kSuperblockStrings =
      field::kFsType | field::kFsSubtype | field::kMntOpts | field::kOptArray | field::kOptSecArray;
  constexpr FieldMask kPerMount = (kJsonMask & ~kSuperblockStrings) | field::kSbBasic;
  const std::size_t threads = std::max(1U, std::thread::hardware_concurrency());
  std::vector<Result<void>> results(threads, kOk);
  auto read_part = [&](std::size_t part) {
    std::vector<std::byte> buffer(64 << 10);
    for (std::size_t i = ids.size() * part / threads; i < ids.size() * (part + 1) / threads; ++i) {
      auto read = StatmountUndecoded(ids[i], kPerMount, buffer);
      if (!read && read.error().code != ENOENT) {
        results[part] = std::unexpected(read.error());
        return;
      }
    }
  };
  std::vector<std::jthread> helpers;
  for (std::size_t part = 1; part < threads; ++part) helpers.emplace_back(read_part, part);
  read_part(0);
  helpers.clear();  // joins
  for (const Result<void>& result : results) {
    if (!result) return result;
  }
  return kOk;
}

}  // namespace mntns::cli
