// listmount(2) paging: the mount ids of a namespace, batch by batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "mntns/error.h"
#include "sys/syscalls.h"

namespace mntns::internal {

// One listmount call returns at most this many ids; larger tables are paged.
inline constexpr std::size_t kListmountBatch = 8192;

// Pages through listmount: each Next() continues after the last id it gave.
class MountIdLister {
 public:
  explicit MountIdLister(std::uint64_t ns_id)
      : request_{.size = sys::kMntIdReqSizeVer1,
                 .mnt_ns_fd_or_mnt_fd = 0,
                 .mnt_id = sys::kListmountRoot,
                 .param = 0,  // list ids greater than this one
                 .mnt_ns_id = ns_id} {}

  // Fills `ids` with the next ids; fewer than ids.size() means the table ended.
  [[nodiscard]] Result<std::size_t> Next(std::span<std::uint64_t> ids);

 private:
  sys::MntIdReq request_;
  bool ended_ = false;
};

// Every mount id of namespace `ns_id` (0: the caller's), in listmount order,
// paged in large batches.
[[nodiscard]] Result<std::vector<std::uint64_t>> ListMountIds(std::uint64_t ns_id);

}  // namespace mntns::internal
