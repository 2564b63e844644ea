// Text renderings of Mount fields, byte-for-byte as fs/proc_namespace.c prints
// them in /proc/PID/mountinfo, so that both backends produce the same table.
#include <sys/mount.h>

#include <array>
#include <utility>

#include <fmt/format.h>

#include "mntns/query.h"
#include "sys/uapi.h"

namespace mntns {

using sys::kSbDirsync;
using sys::kSbLazytime;
using sys::kSbRdonly;
using sys::kSbSynchronous;

namespace {

constexpr std::array<std::pair<FieldMask, std::string_view>, 15> kFieldNames = {{
    {field::kSbBasic, "sb_basic"},
    {field::kMntBasic, "mnt_basic"},
    {field::kPropagateFrom, "propagate_from"},
    {field::kMntRoot, "mnt_root"},
    {field::kMntPoint, "mnt_point"},
    {field::kFsType, "fs_type"},
    {field::kMntNsId, "mnt_ns_id"},
    {field::kMntOpts, "mnt_opts"},
    {field::kFsSubtype, "fs_subtype"},
    {field::kSbSource, "sb_source"},
    {field::kOptArray, "opt_array"},
    {field::kOptSecArray, "opt_sec_array"},
    {field::kSupportedMask, "supported_mask"},
    {field::kMntUidmap, "mnt_uidmap"},
    {field::kMntGidmap, "mnt_gidmap"},
}};

}  // namespace

std::string_view FieldName(FieldMask bit) {
  for (const auto& [known, name] : kFieldNames) {
    if (known == bit) return name;
  }
  return {};
}

std::vector<std::string> FieldNames(FieldMask mask) {
  std::vector<std::string> names;
  for (const auto& [bit, name] : kFieldNames) {
    if ((mask & bit) != 0) names.emplace_back(name);
  }
  return names;
}

std::string VfsOptions(const Mount& mount) {
  // Same order as show_mnt_opts(). MOUNT_ATTR_STRICTATIME prints nothing there.
  const std::uint64_t atime = mount.attr & MOUNT_ATTR__ATIME;
  std::string text = (mount.attr & MOUNT_ATTR_RDONLY) != 0 ? "ro" : "rw";
  if ((mount.attr & MOUNT_ATTR_NOSUID) != 0) text += ",nosuid";
  if ((mount.attr & MOUNT_ATTR_NODEV) != 0) text += ",nodev";
  if ((mount.attr & MOUNT_ATTR_NOEXEC) != 0) text += ",noexec";
  if (atime == MOUNT_ATTR_NOATIME) text += ",noatime";
  if ((mount.attr & MOUNT_ATTR_NODIRATIME) != 0) text += ",nodiratime";
  if (atime == MOUNT_ATTR_RELATIME) text += ",relatime";
  if ((mount.attr & MOUNT_ATTR_NOSYMFOLLOW) != 0) text += ",nosymfollow";
  if ((mount.attr & MOUNT_ATTR_IDMAP) != 0) text += ",idmapped";
  return text;
}

std::string SuperOptions(const Mount& mount) {
  std::string text = (mount.sb_flags & kSbRdonly) != 0 ? "ro" : "rw";
  if ((mount.sb_flags & kSbSynchronous) != 0) text += ",sync";
  if ((mount.sb_flags & kSbDirsync) != 0) text += ",dirsync";
  if ((mount.sb_flags & kSbLazytime) != 0) text += ",lazytime";
  if (!mount.fs_options.empty()) text += "," + mount.fs_options;
  return text;
}

std::string PropagationText(const Mount& mount) {
  std::string text;
  auto add = [&text](const std::string& part) {
    if (!text.empty()) text += ' ';
    text += part;
  };
  if ((mount.propagation & MS_SHARED) != 0) add(fmt::format("shared:{}", mount.peer_group));
  if ((mount.propagation & MS_SLAVE) != 0) {
    add(fmt::format("master:{}", mount.master));
    // mountinfo shows propagate_from only where it differs from the master.
    if (mount.propagate_from != 0 && mount.propagate_from != mount.master) {
      add(fmt::format("propagate_from:{}", mount.propagate_from));
    }
  }
  if ((mount.propagation & MS_UNBINDABLE) != 0) add("unbindable");
  return text.empty() ? "private" : text;
}

std::string FsTypeText(const Mount& mount) {
  if (mount.fs_subtype.empty()) return mount.fs_type;
  return mount.fs_type + "." + mount.fs_subtype;
}

}  // namespace mntns
