// statmount(2) with a growing, reusable buffer, decoded into Mount.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "mntns/query.h"
#include "sys/uapi.h"

namespace mntns::internal {

// Not thread-safe: one reader per thread. Reusing one reader for a whole
// table avoids an allocation per mount.
class StatmountReader {
 public:
  StatmountReader();

  // statmount of mount `id` in namespace `ns_id` (0: the caller's).
  [[nodiscard]] Result<Mount> ById(std::uint64_t id, std::uint64_t ns_id, FieldMask mask);

  // The raw call with any request and flags (STATMOUNT_BY_FD, ...).
  [[nodiscard]] Result<Mount> Call(const sys::MntIdReq& request, unsigned flags);

  // ById into an existing Mount, whose strings keep their capacity: reading a
  // table into a few reused Mounts allocates nothing per mount.
  [[nodiscard]] Result<void> ByIdInto(std::uint64_t id, std::uint64_t ns_id, FieldMask mask, Mount& mount);

 private:
  [[nodiscard]] Result<const sys::RawStatmount*> Fill(const sys::MntIdReq& request, unsigned flags);

  std::vector<std::uint64_t> storage_;  // uint64_t: struct statmount's alignment
};

// statmount of every id in `ids` (namespace `ns_id`), in order. Large tables
// are split across up to one thread per core: statmount is one syscall per
// mount and scales with cores, while mountinfo is read by one reader. Mounts
// that vanish meanwhile (ENOENT) are left out: the table is a snapshot anyway.
[[nodiscard]] Result<std::vector<Mount>> StatmountMany(std::span<const std::uint64_t> ids,
                                                       std::uint64_t ns_id, FieldMask mask);

// Runs work(0) on the calling thread and work(1..parts-1) on threads of
// their own, joins them, then returns the first error a part stored in
// `errors` (one slot per part).
[[nodiscard]] Result<void> RunParts(std::size_t parts, const std::function<void(std::size_t)>& work,
                                    std::vector<std::optional<Error>>& errors);

// Decodes a filled struct statmount (strings included) into a Mount.
[[nodiscard]] Mount DecodeStatmount(const sys::RawStatmount& raw);
// The same into `mount`, overwriting every field it had.
void DecodeStatmountInto(const sys::RawStatmount& raw, Mount& mount);

}  // namespace mntns::internal
