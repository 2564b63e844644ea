// statmount answers the polyfill writes itself: laid out as the kernel lays
// out struct statmount, and 7.2's answer for the root of an empty mount
// namespace, which the emulation builds from a sysfs directory or a
// read-only tmpfs where 7.2 has nullfs (docs/polyfill.md, "Differences from
// 7.2" in its traced-step section).
#include <sys/mount.h>

#include <algorithm>
#include <cstring>

#include "namespace/internal.h"
#include "polyfill/internal.h"
#include "query/statmount.h"
#include "sys/seccomp.h"
#include "sys/syscalls.h"
#include "sys/uapi.h"

namespace mntns::internal {
namespace {

// What 7.2's statmount sets for a nullfs root (probed in the VM, uid 0 and
// in a user namespace): no options, no subtype, no id maps.
constexpr FieldMask kNullfsRootFields = field::kSbBasic | field::kMntBasic | field::kPropagateFrom |
                                        field::kMntRoot | field::kMntPoint | field::kFsType |
                                        field::kMntNsId | field::kSbSource | field::kSupportedMask;
constexpr std::uint64_t kNullfsMagic = 0x4e554c4c;  // "NULL"
constexpr std::uint64_t kMountAttrStrictatime = 0x20;
// The template root's marker fields, read along with the caller's mask.
constexpr FieldMask kMarkerFields = field::kMntBasic | field::kFsType | field::kSbSource;
constexpr std::size_t kNativeAnswerBuffer = 1 << 16;
// The fields that are strings (or string arrays) in struct statmount.
constexpr FieldMask kStringFields = field::kMntRoot | field::kMntPoint | field::kFsType | field::kMntOpts |
                                    field::kFsSubtype | field::kSbSource | field::kOptArray |
                                    field::kOptSecArray | field::kMntUidmap | field::kMntGidmap;

}  // namespace

Result<sys::MntIdReq> ReadMntIdReq(pid_t tid, std::uint64_t address) {
  constexpr std::uint32_t kPageSize = 4096;
  constexpr const char* kWhat = "struct mnt_id_req";
  // The size first, then the struct of that size.
  std::uint32_t size = 0;
  auto got = sys::ReadProcessMemory(tid, address, std::as_writable_bytes(std::span(&size, 1)));
  if (!got || *got != sizeof size) return MakeError(EFAULT, "read", kWhat);
  if (size > kPageSize) return MakeError(E2BIG, "read", kWhat);
  if (size < sys::kMntIdReqSizeVer0) return MakeError(EINVAL, "read", kWhat);
  std::vector<std::byte> raw(size);
  got = sys::ReadProcessMemory(tid, address, raw);
  if (!got || *got != size) return MakeError(EFAULT, "read", kWhat);
  if (std::any_of(raw.begin() + std::min<std::size_t>(size, sizeof(sys::MntIdReq)), raw.end(),
                  [](std::byte b) { return b != std::byte{0}; })) {
    return MakeError(E2BIG, "read", kWhat);
  }
  sys::MntIdReq request{};
  std::memcpy(&request, raw.data(), std::min<std::size_t>(size, sizeof request));
  return request;
}

std::vector<std::byte> EncodeStatmount(const Mount& mount, FieldMask requested) {
  sys::RawStatmount header{};
  // The kernel's string area starts with a NUL, so that no string's offset
  // is 0: once a string field is asked for, even one left empty (7.2).
  std::string strings;
  if ((requested & kStringFields) != 0) strings.push_back('\0');
  auto add = [&](const std::string& text) {
    if (strings.empty()) strings.push_back('\0');
    const auto offset = static_cast<std::uint32_t>(strings.size());
    strings.append(text);
    strings.push_back('\0');
    return offset;
  };
  auto add_array = [&](const std::vector<std::string>& items, std::uint32_t& count) {
    if (strings.empty()) strings.push_back('\0');
    const auto offset = static_cast<std::uint32_t>(strings.size());
    for (const std::string& item : items) add(item);
    count = static_cast<std::uint32_t>(items.size());
    return offset;
  };
  header.mask = mount.mask;
  if (mount.Has(field::kSbBasic)) {
    header.sb_dev_major = mount.sb_dev_major;
    header.sb_dev_minor = mount.sb_dev_minor;
    header.sb_magic = mount.sb_magic;
    header.sb_flags = mount.sb_flags;
  }
  if (mount.Has(field::kMntBasic)) {
    header.mnt_id = mount.id;
    header.mnt_parent_id = mount.parent_id;
    header.mnt_id_old = mount.old_id;
    header.mnt_parent_id_old = mount.old_parent_id;
    header.mnt_attr = mount.attr;
    header.mnt_propagation = mount.propagation;
    header.mnt_peer_group = mount.peer_group;
    header.mnt_master = mount.master;
  }
  if (mount.Has(field::kPropagateFrom)) header.propagate_from = mount.propagate_from;
  if (mount.Has(field::kMntNsId)) header.mnt_ns_id = mount.ns_id;
  if (mount.Has(field::kSupportedMask)) header.supported_mask = mount.supported_mask;
  if (mount.Has(field::kFsType)) header.fs_type = add(mount.fs_type);
  if (mount.Has(field::kMntRoot)) header.mnt_root = add(mount.root);
  if (mount.Has(field::kMntPoint)) header.mnt_point = add(mount.point);
  if (mount.Has(field::kMntOpts)) header.mnt_opts = add(mount.fs_options);
  if (mount.Has(field::kOptArray)) header.opt_array = add_array(mount.fs_option_array, header.opt_num);
  if (mount.Has(field::kOptSecArray)) {
    header.opt_sec_array = add_array(mount.security_option_array, header.opt_sec_num);
  }
  if (mount.Has(field::kFsSubtype)) header.fs_subtype = add(mount.fs_subtype);
  if (mount.Has(field::kSbSource)) header.sb_source = add(mount.sb_source);
  if (mount.Has(field::kMntUidmap)) header.mnt_uidmap = add_array(mount.uid_map, header.mnt_uidmap_num);
  if (mount.Has(field::kMntGidmap)) header.mnt_gidmap = add_array(mount.gid_map, header.mnt_gidmap_num);
  header.size = static_cast<std::uint32_t>(sizeof header + strings.size());
  std::vector<std::byte> bytes(header.size);
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + sizeof header, strings.data(), strings.size());
  return bytes;
}

Result<std::vector<std::byte>> FitStatmount(std::vector<std::byte> bytes, std::uint64_t bufsize) {
  // As 6.18 and 7.2 both do: the strings must fit whole (else EOVERFLOW,
  // nothing written); without strings the header is cut at bufsize, and
  // `size` says what was written.
  constexpr std::size_t kHeader = sizeof(sys::RawStatmount);
  const std::size_t strings = bytes.size() > kHeader ? bytes.size() - kHeader : 0;
  if (strings != 0 && bufsize < kHeader + strings) return MakeError(EOVERFLOW, "statmount", "buffer");
  if (strings == 0 && bufsize < bytes.size()) {
    bytes.resize(static_cast<std::size_t>(bufsize));
    const auto size = static_cast<std::uint32_t>(bytes.size());
    std::memcpy(bytes.data(), &size, std::min(sizeof size, bytes.size()));
  }
  return bytes;
}

std::optional<Result<std::vector<std::byte>>> EmptyRootStatmount(std::uint64_t mount_id, std::uint64_t ns_id,
                                                                 std::uint64_t mask, std::uint64_t bufsize,
                                                                 bool point_visible) {
  sys::MntIdReq request{};
  request.size = sys::kMntIdReqSizeVer1;  // VER0 has no mnt_ns_id
  request.mnt_id = mount_id;
  request.mnt_ns_id = ns_id;
  request.param = mask | kMarkerFields;
  std::vector<std::uint64_t> storage(kNativeAnswerBuffer / 8);
  auto buffer = std::as_writable_bytes(std::span(storage));
  // Any failure: the kernel answers the caller itself, as it would anyway.
  if (!sys::Statmount(request, buffer, 0)) return std::nullopt;
  const Mount native = DecodeStatmount(buffer);
  if (!native.Has(kMarkerFields) || !IsTemplateRoot(native.fs_type, native.sb_source)) {
    return std::nullopt;
  }
  Mount root;
  root.mask = mask & kNullfsRootFields & native.mask & (point_visible ? field::kAll : ~field::kMntPoint);
  root.sb_dev_major = native.sb_dev_major;  // stat's st_dev, which cannot be changed
  root.sb_dev_minor = native.sb_dev_minor;
  root.sb_magic = kNullfsMagic;
  root.sb_flags = 0;
  root.id = native.id;
  root.parent_id = native.id;  // the namespace root is its own parent
  root.old_id = native.old_id;
  root.old_parent_id = native.old_id;
  root.attr = kMountAttrStrictatime;
  root.propagation = MS_PRIVATE;
  root.root = "/";
  root.point = native.point;
  root.fs_type = "nullfs";
  root.ns_id = native.ns_id;
  root.sb_source = "nullfs";
  root.supported_mask = native.supported_mask;
  return FitStatmount(EncodeStatmount(root, mask), bufsize);
}

}  // namespace mntns::internal
