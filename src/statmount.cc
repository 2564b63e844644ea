#include "statmount.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <span>
#include <thread>

#include "sys/syscalls.h"

namespace mntns::internal {
namespace {

// Big enough for the struct and the strings of almost every mount; mounts with
// long option strings or id maps grow it once.
constexpr std::size_t kInitialBufferBytes = 4096;
constexpr std::size_t kMaximumBufferBytes = 16 << 20;

std::string StringAt(const sys::RawStatmount& raw, std::uint32_t offset) { return raw.str + offset; }

std::vector<std::string> StringsAt(const sys::RawStatmount& raw, std::uint32_t offset,
                                   std::uint32_t count) {
  std::vector<std::string> strings;
  strings.reserve(count);
  const char* cursor = raw.str + offset;
  for (std::uint32_t i = 0; i < count; ++i) {
    strings.emplace_back(cursor);
    cursor += strings.back().size() + 1;
  }
  return strings;
}

}  // namespace

StatmountReader::StatmountReader() : storage_(kInitialBufferBytes / sizeof(std::uint64_t)) {}

Result<Mount> StatmountReader::ById(std::uint64_t id, std::uint64_t ns_id, FieldMask mask) {
  const sys::MntIdReq request{.size = sys::kMntIdReqSizeVer1,
                              .mnt_ns_fd_or_mnt_fd = 0,
                              .mnt_id = id,
                              .param = mask,
                              .mnt_ns_id = ns_id};
  return Call(request, 0);
}

Result<Mount> StatmountReader::Call(const sys::MntIdReq& request, unsigned flags) {
  for (;;) {
    auto bytes = std::as_writable_bytes(std::span(storage_));
    auto result = sys::Statmount(request, bytes, flags);
    if (result) break;
    if (result.error().code != EOVERFLOW || bytes.size() >= kMaximumBufferBytes) {
      return std::unexpected(result.error());
    }
    storage_.resize(storage_.size() * 2);
  }
  return DecodeStatmount(*reinterpret_cast<const sys::RawStatmount*>(storage_.data()));
}

Result<std::vector<Mount>> StatmountMany(std::span<const std::uint64_t> ids, std::uint64_t ns_id,
                                         FieldMask mask) {
  // Below this many mounts per thread, starting threads costs more than it saves.
  constexpr std::size_t kMountsPerThread = 2048;
  const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
  const std::size_t threads = std::clamp<std::size_t>(ids.size() / kMountsPerThread, 1, cores);

  // Decoded in place: a second vector of 30,000 mounts costs page faults.
  std::vector<Mount> mounts(ids.size());
  std::vector<char> vanished(ids.size(), 0);
  std::vector<std::optional<Error>> errors(threads);
  auto work = [&](std::size_t part) {
    StatmountReader reader;
    const std::size_t begin = ids.size() * part / threads;
    const std::size_t end = ids.size() * (part + 1) / threads;
    for (std::size_t i = begin; i < end; ++i) {
      auto mount = reader.ById(ids[i], ns_id, mask);
      if (mount) {
        mounts[i] = std::move(*mount);
      } else if (mount.error().code == ENOENT) {
        vanished[i] = 1;
      } else {
        errors[part] = mount.error();
        return;
      }
    }
  };
  {
    std::vector<std::jthread> helpers;
    for (std::size_t part = 1; part < threads; ++part) helpers.emplace_back(work, part);
    work(0);
  }
  for (auto& error : errors) {
    if (error) return std::unexpected(std::move(*error));
  }
  if (std::find(vanished.begin(), vanished.end(), 1) != vanished.end()) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < mounts.size(); ++i) {
      if (!vanished[i]) mounts[kept++] = std::move(mounts[i]);
    }
    mounts.resize(kept);
  }
  return mounts;
}

Mount DecodeStatmount(const sys::RawStatmount& raw) {
  Mount mount;
  mount.mask = raw.mask;
  if (raw.mask & field::kSbBasic) {
    mount.sb_dev_major = raw.sb_dev_major;
    mount.sb_dev_minor = raw.sb_dev_minor;
    mount.sb_magic = raw.sb_magic;
    mount.sb_flags = raw.sb_flags;
  }
  if (raw.mask & field::kMntBasic) {
    mount.id = raw.mnt_id;
    mount.parent_id = raw.mnt_parent_id;
    mount.old_id = raw.mnt_id_old;
    mount.old_parent_id = raw.mnt_parent_id_old;
    mount.attr = raw.mnt_attr;
    mount.propagation = raw.mnt_propagation;
    mount.peer_group = raw.mnt_peer_group;
    mount.master = raw.mnt_master;
  }
  if (raw.mask & field::kPropagateFrom) mount.propagate_from = raw.propagate_from;
  if (raw.mask & field::kMntRoot) mount.root = StringAt(raw, raw.mnt_root);
  if (raw.mask & field::kMntPoint) mount.point = StringAt(raw, raw.mnt_point);
  if (raw.mask & field::kFsType) mount.fs_type = StringAt(raw, raw.fs_type);
  if (raw.mask & field::kMntNsId) mount.ns_id = raw.mnt_ns_id;
  if (raw.mask & field::kMntOpts) mount.fs_options = StringAt(raw, raw.mnt_opts);
  if (raw.mask & field::kFsSubtype) mount.fs_subtype = StringAt(raw, raw.fs_subtype);
  if (raw.mask & field::kSbSource) mount.sb_source = StringAt(raw, raw.sb_source);
  if (raw.mask & field::kOptArray) {
    mount.fs_option_array = StringsAt(raw, raw.opt_array, raw.opt_num);
  }
  if (raw.mask & field::kOptSecArray) {
    mount.security_option_array = StringsAt(raw, raw.opt_sec_array, raw.opt_sec_num);
  }
  if (raw.mask & field::kSupportedMask) mount.supported_mask = raw.supported_mask;
  if (raw.mask & field::kMntUidmap) mount.uid_map = StringsAt(raw, raw.mnt_uidmap, raw.mnt_uidmap_num);
  if (raw.mask & field::kMntGidmap) mount.gid_map = StringsAt(raw, raw.mnt_gidmap, raw.mnt_gidmap_num);
  return mount;
}

}  // namespace mntns::internal
