#include "bench/statmount_floor.h"

#include <algorithm>
#include <cerrno>
#include <thread>

#include "output/mount_output.h"
#include "query/listmount.h"
#include "query/statmount.h"
#include "sys/syscalls.h"

namespace mntns::cli {

Result<std::vector<std::uint64_t>> ListCallerMountIds() { return internal::ListMountIds(0); }

Result<void> StatmountCallsAlone(std::span<const std::uint64_t> ids) {
  constexpr FieldMask kPerMount = (kJsonMask & ~internal::MountTableReader::kSuperblockStrings) | field::kSbBasic;
  const std::size_t threads = std::max(1U, std::thread::hardware_concurrency());
  std::vector<Result<void>> results(threads, kOk);
  auto read_part = [&](std::size_t part) {
    std::vector<std::byte> buffer(64 << 10);
    for (std::size_t i = ids.size() * part / threads; i < ids.size() * (part + 1) / threads; ++i) {
      const sys::MntIdReq request{
          .size = sys::kMntIdReqSizeVer1, .mnt_ns_fd_or_mnt_fd = 0, .mnt_id = ids[i], .param = kPerMount, .mnt_ns_id = 0};
      auto read = sys::Statmount(request, buffer, 0);
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
