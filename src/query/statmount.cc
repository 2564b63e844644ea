#include "query/statmount.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

#include "sys/syscalls.h"

namespace mntns::internal {
namespace {

// Big enough for the struct and the strings of almost every mount; mounts with
// long option strings or id maps grow it once.
constexpr std::size_t kInitialBufferBytes = 4096;
constexpr std::size_t kMaximumBufferBytes = 16 << 20;

// Assigning into existing strings and vectors keeps their capacity: a Mount
// reused for a whole table (ReadInto) allocates only for its longest values.
// The strings of a struct statmount are NUL-terminated and sit at offsets into
// the table after the struct, within the `size` the kernel reports. Nothing
// here trusts that: a string that does not start and end inside `table` is
// refused (false), and so is an array with more entries than bytes.
bool AssignString(std::string& to, std::span<const char> table, std::uint32_t offset) {
  if (offset >= table.size()) return false;
  const char* start = table.data() + offset;
  const void* end = std::memchr(start, '\0', table.size() - offset);
  if (end == nullptr) return false;
  to.assign(start, static_cast<const char*>(end));
  return true;
}

bool AssignStrings(std::vector<std::string>& to, std::span<const char> table, std::uint32_t offset,
                   std::uint32_t count) {
  if (offset > table.size() || count > table.size() - offset) return false;
  to.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!AssignString(to[i], table, offset)) return false;
    offset += static_cast<std::uint32_t>(to[i].size() + 1);
  }
  return true;
}

// Copies the superblock's strings and their bits in `mask` from one mount to
// another mount of the same superblock.
void CopySuperblockStrings(const Mount& from, Mount& to) {
  to.fs_type = from.fs_type;
  to.fs_options = from.fs_options;
  to.fs_subtype = from.fs_subtype;
  to.fs_option_array = from.fs_option_array;
  to.security_option_array = from.security_option_array;
  constexpr FieldMask kStrings = MountTableReader::kSuperblockStrings;
  to.mask = (to.mask & ~kStrings) | (from.mask & kStrings);
}

sys::MntIdReq RequestById(std::uint64_t id, std::uint64_t ns_id, FieldMask mask) {
  return {.size = sys::kMntIdReqSizeVer1, .mnt_ns_fd_or_mnt_fd = 0, .mnt_id = id, .param = mask, .mnt_ns_id = ns_id};
}

}  // namespace

StatmountReader::StatmountReader() : storage_(kInitialBufferBytes / sizeof(std::uint64_t)) {}

Result<Mount> StatmountReader::ById(std::uint64_t id, std::uint64_t ns_id, FieldMask mask) {
  return Call(RequestById(id, ns_id, mask), 0);
}

Result<Mount> StatmountReader::Call(const sys::MntIdReq& request, unsigned flags) {
  auto raw = Fill(request, flags);
  if (!raw) return std::unexpected(raw.error());
  return DecodeStatmount(*raw);
}

Result<void> StatmountReader::ByIdInto(std::uint64_t id, std::uint64_t ns_id, FieldMask mask, Mount& mount) {
  auto raw = Fill(RequestById(id, ns_id, mask), 0);
  if (!raw) return std::unexpected(raw.error());
  DecodeStatmountInto(*raw, mount);
  return kOk;
}

Result<std::span<const std::byte>> StatmountReader::Fill(const sys::MntIdReq& request, unsigned flags) {
  for (;;) {
    auto bytes = std::as_writable_bytes(std::span(storage_));
    auto result = sys::Statmount(request, bytes, flags);
    if (result) break;
    if (result.error().code != EOVERFLOW || bytes.size() >= kMaximumBufferBytes) {
      return std::unexpected(result.error());
    }
    storage_.resize(storage_.size() * 2);
  }
  return std::as_bytes(std::span(storage_));
}

namespace {
// Superblock magics (linux/magic.h) of the filesystems whose show_options()
// prints from the superblock alone. The kernel hands it the mount's root dentry,
// and some use it: btrfs prints the subvolume that root is in (subvolid=,
// subvol=), so two mounts of one btrfs superblock show different options. For
// any filesystem not listed here the options are asked for per mount.
bool OptionsFollowTheSuperblock(std::uint64_t magic) {
  switch (magic) {
    case 0x01021994:  // tmpfs
    case 0x858458f6:  // ramfs
    case 0x958458f6:  // hugetlbfs
    case 0xef53:      // ext2, ext3, ext4
    case 0x58465342:  // xfs
    case 0xf2f52010:  // f2fs
    case 0x4d44:      // vfat, msdos
    case 0xe0f5e1e2:  // erofs
    case 0x794c7630:  // overlay
    case 0x6969:      // nfs
    case 0x65735546:  // fuse
    case 0x9fa0:      // proc
    case 0x6e736673:  // nsfs (bind-mounted namespace files)
    case 0x1cd1:      // devpts
    case 0x27e0eb:    // cgroup
    case 0x63677270:  // cgroup2
      return true;
    default:
      return false;
  }
}

// Binds share a few superblocks per run; beyond this many in one run the table
// is not one of binds, and full calls serve it (the window below sees to that).
constexpr std::size_t kCachedSuperblocks = 64;
// Splitting pays while fewer than 1 in kMissesPerSplitRead reads miss: a miss
// costs a second call (~2 us on 6.18), a hit saves the superblock's strings
// (~0.1 us for tmpfs, ~1 us for ext4).
constexpr std::size_t kMissesPerSplitRead = 16;
}  // namespace

MountTableReader::MountTableReader(std::uint64_t ns_id, FieldMask mask) : ns_id_(ns_id), mask_(mask) {}

Result<void> MountTableReader::Read(std::uint64_t id, FieldMask mask, Mount& mount) {
  ++calls_;
  if ((mask & kSuperblockStrings) != 0) ++superblock_string_calls_;
  return reader_.ByIdInto(id, ns_id_, mask, mount);
}

Result<void> MountTableReader::ReadInto(std::uint64_t id, Mount& mount) {
  if ((mask_ & kSuperblockStrings) == 0) return Read(id, mask_, mount);
  if (run_reads_ == kRunLength) {
    run_reads_ = 0;
    superblocks_used_ = 0;
  }
  ++run_reads_;
  // The device numbers (kSbBasic) tell which superblock a mount has.
  if (!split_) {
    if (auto read = Read(id, mask_ | field::kSbBasic, mount); !read) return read;
    const bool cached = Find(mount) != nullptr;
    if (!cached) Remember(mount);
    CountRead(cached);
  } else {
    if (auto read = Read(id, (mask_ & ~kSuperblockStrings) | field::kSbBasic, mount); !read) return read;
    const Mount* superblock = Find(mount);
    CountRead(superblock != nullptr);
    if (superblock == nullptr) {
      if (auto read = Read(id, (mask_ & kSuperblockStrings) | field::kSbBasic, scratch_); !read) return read;
      Remember(scratch_);
      superblock = &scratch_;
    }
    CopySuperblockStrings(*superblock, mount);
  }
  if ((mask_ & field::kSbBasic) == 0) {
    mount.mask &= ~field::kSbBasic;
    mount.sb_dev_major = 0;
    mount.sb_dev_minor = 0;
    mount.sb_magic = 0;
    mount.sb_flags = 0;
  }
  return kOk;
}

bool MountTableReader::Cacheable(const Mount& mount) const {
  // fs_type, fs_subtype and the security options come from the superblock
  // itself; the filesystem's own options only for some filesystems.
  constexpr FieldMask kFilesystemOptions = field::kMntOpts | field::kOptArray;
  return mount.Has(field::kSbBasic) &&
         ((mask_ & kFilesystemOptions) == 0 || OptionsFollowTheSuperblock(mount.sb_magic));
}

const Mount* MountTableReader::Find(const Mount& mount) const {
  if (!Cacheable(mount)) return nullptr;
  for (std::size_t i = 0; i < superblocks_used_; ++i) {
    const Mount& known = superblocks_[i];
    if (known.sb_dev_major == mount.sb_dev_major && known.sb_dev_minor == mount.sb_dev_minor &&
        known.sb_magic == mount.sb_magic) {
      return &known;
    }
  }
  return nullptr;
}

void MountTableReader::Remember(const Mount& mount) {
  if (!Cacheable(mount) || superblocks_used_ == kCachedSuperblocks) return;
  if (superblocks_used_ == superblocks_.size()) superblocks_.emplace_back();
  Mount& entry = superblocks_[superblocks_used_++];
  entry.mask = field::kSbBasic;
  entry.sb_dev_major = mount.sb_dev_major;
  entry.sb_dev_minor = mount.sb_dev_minor;
  entry.sb_magic = mount.sb_magic;
  CopySuperblockStrings(mount, entry);
}

void MountTableReader::CountRead(bool cached) {
  ++window_reads_;
  if (!cached) ++window_misses_;
  if (window_reads_ < kWindow) return;
  split_ = window_misses_ * kMissesPerSplitRead <= window_reads_;
  window_reads_ = 0;
  window_misses_ = 0;
}

Mount DecodeStatmount(std::span<const std::byte> buffer) {
  Mount mount;
  DecodeStatmountInto(buffer, mount);
  return mount;
}

void DecodeStatmountInto(std::span<const std::byte> buffer, Mount& mount) {
  // Every field is written (a value or its empty default): `mount` may hold
  // the previous mount's.
  sys::RawStatmount raw{};
  std::memcpy(&raw, buffer.data(), std::min(buffer.size(), sizeof raw));
  if (buffer.size() < sizeof raw) raw.mask = 0;
  const std::size_t filled = std::min<std::size_t>(buffer.size(), raw.size);
  const std::span<const char> table(reinterpret_cast<const char*>(buffer.data()) + std::min(filled, sizeof raw),
                                    filled > sizeof raw ? filled - sizeof raw : 0);
  // The lambdas below take the mask, not `raw` (a struct with a flexible array).
  const std::uint64_t raw_mask = raw.mask;
  mount.mask = raw_mask;
  mount.derived = false;
  const bool sb_basic = (raw.mask & field::kSbBasic) != 0;
  mount.sb_dev_major = sb_basic ? raw.sb_dev_major : 0;
  mount.sb_dev_minor = sb_basic ? raw.sb_dev_minor : 0;
  mount.sb_magic = sb_basic ? raw.sb_magic : 0;
  mount.sb_flags = sb_basic ? raw.sb_flags : 0;
  const bool mnt_basic = (raw.mask & field::kMntBasic) != 0;
  mount.id = mnt_basic ? raw.mnt_id : 0;
  mount.parent_id = mnt_basic ? raw.mnt_parent_id : 0;
  mount.old_id = mnt_basic ? raw.mnt_id_old : 0;
  mount.old_parent_id = mnt_basic ? raw.mnt_parent_id_old : 0;
  mount.attr = mnt_basic ? raw.mnt_attr : 0;
  mount.propagation = mnt_basic ? raw.mnt_propagation : 0;
  mount.peer_group = mnt_basic ? raw.mnt_peer_group : 0;
  mount.master = mnt_basic ? raw.mnt_master : 0;
  mount.propagate_from = (raw.mask & field::kPropagateFrom) ? raw.propagate_from : 0;
  mount.ns_id = (raw.mask & field::kMntNsId) ? raw.mnt_ns_id : 0;
  mount.supported_mask = (raw.mask & field::kSupportedMask) ? raw.supported_mask : 0;
  auto string = [&](FieldMask bit, std::string& to, std::uint32_t offset) {
    if ((raw_mask & bit) == 0 || !AssignString(to, table, offset)) {
      to.clear();
      mount.mask &= ~bit;
    }
  };
  string(field::kMntRoot, mount.root, raw.mnt_root);
  string(field::kMntPoint, mount.point, raw.mnt_point);
  string(field::kFsType, mount.fs_type, raw.fs_type);
  string(field::kMntOpts, mount.fs_options, raw.mnt_opts);
  string(field::kFsSubtype, mount.fs_subtype, raw.fs_subtype);
  string(field::kSbSource, mount.sb_source, raw.sb_source);
  auto strings = [&](FieldMask bit, std::vector<std::string>& to, std::uint32_t offset, std::uint32_t count) {
    if ((raw_mask & bit) == 0 || !AssignStrings(to, table, offset, count)) {
      to.clear();
      mount.mask &= ~bit;
    }
  };
  strings(field::kOptArray, mount.fs_option_array, raw.opt_array, raw.opt_num);
  strings(field::kOptSecArray, mount.security_option_array, raw.opt_sec_array, raw.opt_sec_num);
  strings(field::kMntUidmap, mount.uid_map, raw.mnt_uidmap, raw.mnt_uidmap_num);
  strings(field::kMntGidmap, mount.gid_map, raw.mnt_gidmap, raw.mnt_gidmap_num);
}

}  // namespace mntns::internal
