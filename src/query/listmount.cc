// listmount(2) paging.
#include "query/listmount.h"

#include <algorithm>

namespace mntns::internal {

Result<std::size_t> MountIdLister::Next(std::span<std::uint64_t> ids) {
  std::size_t filled = 0;
  while (filled < ids.size() && !ended_) {
    auto batch = ids.subspan(filled, std::min(kListmountBatch, ids.size() - filled));
    auto count = sys::Listmount(request_, batch, 0);
    if (!count) return std::unexpected(count.error());
    filled += *count;
    ended_ = *count < batch.size();
    if (*count > 0) request_.param = batch[*count - 1];
  }
  return filled;
}

Result<std::vector<std::uint64_t>> ListMountIds(std::uint64_t ns_id) {
  MountIdLister lister(ns_id);
  std::vector<std::uint64_t> ids;
  for (;;) {
    const std::size_t size = ids.size();
    ids.resize(size + kListmountBatch);
    auto count = lister.Next(std::span(ids).subspan(size));
    if (!count) return std::unexpected(count.error());
    ids.resize(size + *count);
    if (*count < kListmountBatch) return ids;
  }
}

}  // namespace mntns::internal
