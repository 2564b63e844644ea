// statmount(2) with a growing, reusable buffer, decoded into Mount.
#pragma once

#include <cstdint>
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
  // The buffer statmount filled (a struct statmount, then its strings).
  [[nodiscard]] Result<std::span<const std::byte>> Fill(const sys::MntIdReq& request, unsigned flags);

  std::vector<std::uint64_t> storage_;  // uint64_t: struct statmount's alignment
};

// Reads the mounts of one table on one thread: each ReadInto gives what
// StatmountReader::ByIdInto(id, ns_id, mask) would, but the strings that belong
// to the superblock (kSuperblockStrings) are asked for once per superblock in a
// run of mounts, not once per mount. Tables are mostly bind mounts of a few
// filesystems, and an ext4 superblock's options alone cost statmount a quarter
// of its time per mount. The filesystem's options (kMntOpts, kOptArray) are
// shared only for filesystems known to print them from the superblock alone
// (not btrfs, whose options name the subvolume of each mount's root). Where
// most mounts cannot share (two calls for one would cost more) it goes back to
// one full call per mount.
// The cache is dropped every kRunLength mounts: a superblock destroyed
// meanwhile may see its device number reused by a new one, whose strings must
// not be the old one's, so a run stays short (a few milliseconds of reading).
class MountTableReader {
 public:
  static constexpr FieldMask kSuperblockStrings =
      field::kFsType | field::kFsSubtype | field::kMntOpts | field::kOptArray | field::kOptSecArray;
  static constexpr std::size_t kRunLength = 1024;
  // The choice between one full call per mount and the split calls is made
  // again after every kWindow reads, from how many found their superblock
  // cached; the first kWindow reads make full calls.
  static constexpr std::size_t kWindow = 64;

  MountTableReader(std::uint64_t ns_id, FieldMask mask);

  [[nodiscard]] Result<void> ReadInto(std::uint64_t id, Mount& mount);

  // statmount calls so far, and how many of them asked for kSuperblockStrings
  // (for tests of the cache).
  [[nodiscard]] std::size_t calls() const { return calls_; }
  [[nodiscard]] std::size_t superblock_string_calls() const { return superblock_string_calls_; }

 private:
  [[nodiscard]] Result<void> Read(std::uint64_t id, FieldMask mask, Mount& mount);
  [[nodiscard]] bool Cacheable(const Mount& mount) const;
  [[nodiscard]] const Mount* Find(const Mount& mount) const;
  void Remember(const Mount& mount);
  void CountRead(bool cached);

  StatmountReader reader_;
  std::uint64_t ns_id_;
  FieldMask mask_;
  // This run's superblocks: the device numbers and kSuperblockStrings of
  // [0, superblocks_used_); entries past it keep their strings' capacity.
  std::vector<Mount> superblocks_;
  std::size_t superblocks_used_ = 0;
  Mount scratch_;
  bool split_ = false;  // per-mount call plus one per new superblock
  std::size_t run_reads_ = 0;
  std::size_t window_reads_ = 0;
  std::size_t window_misses_ = 0;
  std::size_t calls_ = 0;
  std::size_t superblock_string_calls_ = 0;
};

// Decodes the buffer statmount(2) filled (a struct statmount, then its
// strings) into a Mount. Bounded on any input: only the first
// min(buffer.size(), the struct's `size`) bytes are read, and a string field
// whose offset, terminating NUL or entry count does not fit in them is left
// empty with its bit cleared from the mask. A buffer shorter than the struct
// decodes as a Mount with an empty mask.
[[nodiscard]] Mount DecodeStatmount(std::span<const std::byte> buffer);
// The same into `mount`, overwriting every field it had.
void DecodeStatmountInto(std::span<const std::byte> buffer, Mount& mount);

}  // namespace mntns::internal
