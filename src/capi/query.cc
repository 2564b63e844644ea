// The C API's mount queries (mntns.h): mntns::Mount behind opaque pointers,
// tables owned or lent, and the size-versioned query and info structs.
#include <cerrno>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "capi/internal.h"
#include "mntns/query.h"

// A table owns its mounts (mntns_list_mounts) or lends a block's.
struct mntns_mount_table {
  std::vector<mntns::Mount> owned;
  std::span<const mntns::Mount> mounts;
};

namespace mntns::capi {
namespace {

// struct mntns_mount_info and struct mntns_query of MNTNS_1.0 end with
// supported_mask and reserved.
constexpr std::size_t kMountInfoFirstVersionSize = sizeof(mntns_mount_info);
constexpr std::size_t kQueryFirstVersionSize = sizeof(mntns_query);

// The opaque mntns_mount is a mntns::Mount: the C side only ever holds the
// pointer, which goes back and forth unchanged.
const Mount* FromC(const mntns_mount* mount) { return reinterpret_cast<const Mount*>(mount); }
const mntns_mount* ToC(const Mount* mount) { return reinterpret_cast<const mntns_mount*>(mount); }

struct Query {
  NamespaceRef ns;
  QueryOptions options;
};

Result<Query> QueryFromC(const mntns_query* user) {
  Query query;
  if (user == nullptr) return query;
  mntns_query copy;
  if (const int rc = ReadSized(user, kQueryFirstVersionSize, copy); rc < 0) {
    return MakeError(-rc, "mntns_query", fmt::format("size {} (this library knows {})", user->size,
                                                     sizeof(mntns_query)));
  }
  if (copy.reserved != 0) return MakeError(EINVAL, "mntns_query", "reserved is not 0");
  switch (copy.ns_kind) {
    case MNTNS_NS_CALLER:
      break;
    case MNTNS_NS_ID:
      query.ns = NamespaceRef::ById(copy.ns_id);
      break;
    case MNTNS_NS_FD:
      // The query code opens the namespace again by path; /proc/self/fd/N of
      // an nsfs fd opens that same namespace.
      if (copy.ns_fd < 0) return MakeError(EBADF, "mntns_query", fmt::format("ns_fd {}", copy.ns_fd));
      query.ns = NamespaceRef::ByFile(fmt::format("/proc/self/fd/{}", copy.ns_fd));
      break;
    case MNTNS_NS_PID:
      if (copy.pid <= 0) return MakeError(EINVAL, "mntns_query", fmt::format("pid {}", copy.pid));
      query.ns = NamespaceRef::ByPid(copy.pid);
      break;
    case MNTNS_NS_FILE:
      if (copy.ns_path == nullptr) return MakeError(EINVAL, "mntns_query", "ns_path is NULL");
      query.ns = NamespaceRef::ByFile(copy.ns_path);
      break;
    default:
      return MakeError(EINVAL, "mntns_query", fmt::format("ns_kind {} is not an MNTNS_NS_* value", copy.ns_kind));
  }
  if ((copy.mask & ~field::kAll) != 0) {
    return MakeError(EINVAL, "mntns_query", fmt::format("mask {:#x} has unknown bits", copy.mask));
  }
  query.options.mask = copy.mask == 0 ? field::kAll : copy.mask;
  switch (copy.backend) {
    case MNTNS_BACKEND_AUTO:
      query.options.backend = Backend::kAuto;
      break;
    case MNTNS_BACKEND_LISTMOUNT:
      query.options.backend = Backend::kListmount;
      break;
    case MNTNS_BACKEND_MOUNTINFO:
      query.options.backend = Backend::kMountinfo;
      break;
    default:
      return MakeError(EINVAL, "mntns_query", fmt::format("backend {} is not an MNTNS_BACKEND_* value", copy.backend));
  }
  return query;
}

Result<FieldMask> MaskFromC(std::uint64_t mask) {
  if ((mask & ~field::kAll) != 0) return MakeError(EINVAL, "mask", fmt::format("{:#x} has unknown bits", mask));
  return mask == 0 ? field::kAll : mask;
}

int HandOver(Result<Mount> mount, mntns_mount** out, mntns_error** error) {
  if (!mount) return Fail(std::move(mount.error()), error);
  *out = const_cast<mntns_mount*>(ToC(new Mount(std::move(*mount))));
  return 0;
}

const std::vector<std::string>* Array(const Mount* mount, int which) {
  switch (which) {
    case MNTNS_MOUNT_FS_OPTION_ARRAY:
      return &mount->fs_option_array;
    case MNTNS_MOUNT_SECURITY_OPTION_ARRAY:
      return &mount->security_option_array;
    case MNTNS_MOUNT_UID_MAP:
      return &mount->uid_map;
    case MNTNS_MOUNT_GID_MAP:
      return &mount->gid_map;
    default:
      return nullptr;
  }
}

const char* Text(const mntns_mount* mount, std::string Mount::*member) {
  return mount != nullptr ? (FromC(mount)->*member).c_str() : "";
}

}  // namespace
}  // namespace mntns::capi

using mntns::capi::FromC;
using mntns::capi::ToC;

extern "C" {

int mntns_mount_get_info(const mntns_mount* mount, mntns_mount_info* info) {
  if (mount == nullptr) return -EINVAL;
  const mntns::Mount& m = *FromC(mount);
  mntns_mount_info out{};
  out.derived = m.derived ? 1 : 0;
  out.mask = m.mask;
  out.sb_dev_major = m.sb_dev_major;
  out.sb_dev_minor = m.sb_dev_minor;
  out.sb_magic = m.sb_magic;
  out.sb_flags = m.sb_flags;
  out.old_id = m.old_id;
  out.id = m.id;
  out.parent_id = m.parent_id;
  out.old_parent_id = m.old_parent_id;
  out.attr = m.attr;
  out.propagation = m.propagation;
  out.peer_group = m.peer_group;
  out.master = m.master;
  out.propagate_from = m.propagate_from;
  out.ns_id = m.ns_id;
  out.supported_mask = m.supported_mask;
  return mntns::capi::WriteSized(info, mntns::capi::kMountInfoFirstVersionSize, out);
}

const char* mntns_mount_root(const mntns_mount* mount) { return mntns::capi::Text(mount, &mntns::Mount::root); }
const char* mntns_mount_point(const mntns_mount* mount) { return mntns::capi::Text(mount, &mntns::Mount::point); }
const char* mntns_mount_fs_type(const mntns_mount* mount) {
  return mntns::capi::Text(mount, &mntns::Mount::fs_type);
}
const char* mntns_mount_fs_options(const mntns_mount* mount) {
  return mntns::capi::Text(mount, &mntns::Mount::fs_options);
}
const char* mntns_mount_fs_subtype(const mntns_mount* mount) {
  return mntns::capi::Text(mount, &mntns::Mount::fs_subtype);
}
const char* mntns_mount_sb_source(const mntns_mount* mount) {
  return mntns::capi::Text(mount, &mntns::Mount::sb_source);
}

ssize_t mntns_mount_array_count(const mntns_mount* mount, int which) {
  if (mount == nullptr) return -EINVAL;
  const auto* array = mntns::capi::Array(FromC(mount), which);
  return array != nullptr ? static_cast<ssize_t>(array->size()) : -EINVAL;
}

const char* mntns_mount_array_item(const mntns_mount* mount, int which, size_t index) {
  if (mount == nullptr) return nullptr;
  const auto* array = mntns::capi::Array(FromC(mount), which);
  if (array == nullptr || index >= array->size()) return nullptr;
  return (*array)[index].c_str();
}

void mntns_mount_free(mntns_mount* mount) { delete FromC(mount); }

size_t mntns_mount_table_count(const mntns_mount_table* table) { return table != nullptr ? table->mounts.size() : 0; }

const mntns_mount* mntns_mount_table_get(const mntns_mount_table* table, size_t index) {
  if (table == nullptr || index >= table->mounts.size()) return nullptr;
  return ToC(&table->mounts[index]);
}

void mntns_mount_table_free(mntns_mount_table* table) { delete table; }

int mntns_list_mounts(const mntns_query* query, mntns_mount_table** table, mntns_error** error) {
  return mntns::capi::Guard("mntns_list_mounts", error, [&]() -> int {
    if (table == nullptr) return mntns::capi::Fail(EINVAL, "mntns_list_mounts", "table is NULL", error);
    auto parsed = mntns::capi::QueryFromC(query);
    if (!parsed) return mntns::capi::Fail(std::move(parsed.error()), error);
    auto mounts = mntns::ListMounts(parsed->ns, parsed->options);
    if (!mounts) return mntns::capi::Fail(std::move(mounts.error()), error);
    auto* out = new mntns_mount_table{std::move(*mounts), {}};
    out->mounts = out->owned;
    *table = out;
    return 0;
  });
}

ssize_t mntns_for_each_mount_block(const mntns_query* query, size_t block_size, mntns_mount_block_visitor visit,
                                   void* user_data, mntns_error** error) {
  return mntns::capi::Guard("mntns_for_each_mount_block", error, [&]() -> ssize_t {
    if (block_size == 0 || visit == nullptr) {
      return mntns::capi::Fail(EINVAL, "mntns_for_each_mount_block",
                               block_size == 0 ? "block_size 0" : "visit is NULL", error);
    }
    auto parsed = mntns::capi::QueryFromC(query);
    if (!parsed) return mntns::capi::Fail(std::move(parsed.error()), error);
    // C visitors are rarely written for concurrent calls: the reading stays
    // parallel, the handing over is one block at a time.
    std::mutex one_at_a_time;
    auto blocks = mntns::ForEachMountBlock(
        parsed->ns, parsed->options, block_size,
        [&](std::size_t index, std::span<const mntns::Mount> mounts) -> mntns::Result<void> {
          const mntns_mount_table block{{}, mounts};
          int rc;
          {
            std::lock_guard lock(one_at_a_time);
            rc = visit(user_data, index, &block);
          }
          if (rc < 0) return mntns::MakeError(-rc, "visitor", fmt::format("block {}", index));
          return mntns::kOk;
        });
    if (!blocks) return mntns::capi::Fail(std::move(blocks.error()), error);
    return static_cast<ssize_t>(*blocks);
  });
}

int mntns_statmount_by_id(uint64_t id, const mntns_query* query, mntns_mount** mount, mntns_error** error) {
  return mntns::capi::Guard("mntns_statmount_by_id", error, [&]() -> int {
    if (mount == nullptr) return mntns::capi::Fail(EINVAL, "mntns_statmount_by_id", "mount is NULL", error);
    auto parsed = mntns::capi::QueryFromC(query);
    if (!parsed) return mntns::capi::Fail(std::move(parsed.error()), error);
    return mntns::capi::HandOver(mntns::StatmountById(id, parsed->ns, parsed->options), mount, error);
  });
}

int mntns_statmount_by_path(const char* path, uint64_t mask, mntns_mount** mount, mntns_error** error) {
  return mntns::capi::Guard("mntns_statmount_by_path", error, [&]() -> int {
    if (path == nullptr || mount == nullptr) {
      return mntns::capi::Fail(EINVAL, "mntns_statmount_by_path", path == nullptr ? "path is NULL" : "mount is NULL",
                               error);
    }
    auto fields = mntns::capi::MaskFromC(mask);
    if (!fields) return mntns::capi::Fail(std::move(fields.error()), error);
    return mntns::capi::HandOver(mntns::StatmountByPath(path, {.mask = *fields}), mount, error);
  });
}

int mntns_statmount_by_fd(int fd, uint64_t mask, mntns_mount** mount, mntns_error** error) {
  return mntns::capi::Guard("mntns_statmount_by_fd", error, [&]() -> int {
    if (mount == nullptr) return mntns::capi::Fail(EINVAL, "mntns_statmount_by_fd", "mount is NULL", error);
    auto fields = mntns::capi::MaskFromC(mask);
    if (!fields) return mntns::capi::Fail(std::move(fields.error()), error);
    return mntns::capi::HandOver(mntns::StatmountByFd(fd, *fields), mount, error);
  });
}

}  // extern "C"
