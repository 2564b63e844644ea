// Reading mount tables: listmount(2) + statmount(2), or /proc/PID/mountinfo.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mntns/error.h"
#include "mntns/export.h"

namespace mntns {

// statmount(2) mask bits: which fields a caller wants and which a Mount holds.
using FieldMask = std::uint64_t;
namespace field {
inline constexpr FieldMask kSbBasic = 0x1;         // sb_dev_major/minor, sb_magic, sb_flags
inline constexpr FieldMask kMntBasic = 0x2;        // ids, attr, propagation, peer group, master
inline constexpr FieldMask kPropagateFrom = 0x4;   // propagate_from
inline constexpr FieldMask kMntRoot = 0x8;         // root
inline constexpr FieldMask kMntPoint = 0x10;       // point
inline constexpr FieldMask kFsType = 0x20;         // fs_type
inline constexpr FieldMask kMntNsId = 0x40;        // ns_id
inline constexpr FieldMask kMntOpts = 0x80;        // fs_options
inline constexpr FieldMask kFsSubtype = 0x100;     // fs_subtype
inline constexpr FieldMask kSbSource = 0x200;      // sb_source
inline constexpr FieldMask kOptArray = 0x400;      // fs_option_array
inline constexpr FieldMask kOptSecArray = 0x800;   // security_option_array
inline constexpr FieldMask kSupportedMask = 0x1000;  // supported_mask
inline constexpr FieldMask kMntUidmap = 0x2000;    // uid_map
inline constexpr FieldMask kMntGidmap = 0x4000;    // gid_map
inline constexpr FieldMask kAll = 0x7fff;
}  // namespace field

// The kernel's names for the bits set in `mask` ("sb_basic", "mnt_point", ...),
// lowest bit first.
[[nodiscard]] MNTNS_EXPORT std::vector<std::string> FieldNames(FieldMask mask);
// The kernel's name of one bit ("mnt_point"); empty for an unknown bit.
[[nodiscard]] MNTNS_EXPORT std::string_view FieldName(FieldMask bit);

// One mount, as statmount(2) describes it. Only the fields whose bit is set in
// `mask` are meaningful; the others keep their zero values.
struct Mount {
  FieldMask mask = 0;

  // field::kSbBasic
  std::uint32_t sb_dev_major = 0;
  std::uint32_t sb_dev_minor = 0;
  std::uint64_t sb_magic = 0;   // 0 from the mountinfo backend: mountinfo does not show it
  std::uint32_t sb_flags = 0;   // SB_RDONLY | SB_SYNCHRONOUS | SB_DIRSYNC | SB_LAZYTIME

  // field::kMntBasic
  std::uint64_t id = 0;         // unique 64-bit id (6.8+); 0 from the mountinfo backend
  std::uint64_t parent_id = 0;  // unique id of the parent; == id for a namespace root
  std::uint32_t old_id = 0;     // the reusable id mountinfo shows
  std::uint32_t old_parent_id = 0;
  std::uint64_t attr = 0;        // MOUNT_ATTR_* bits
  std::uint64_t propagation = 0; // MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE
  std::uint64_t peer_group = 0;  // shared:N, 0 if not shared
  std::uint64_t master = 0;      // master:N, 0 if not a slave

  std::uint64_t propagate_from = 0;  // field::kPropagateFrom
  std::string root;                  // field::kMntRoot: path inside the filesystem
  std::string point;                 // field::kMntPoint: relative to the caller's root
  std::string fs_type;               // field::kFsType, e.g. "fuse"
  std::uint64_t ns_id = 0;           // field::kMntNsId
  std::string fs_options;            // field::kMntOpts: "size=1024k,mode=755" (no ro/rw)
  std::string fs_subtype;            // field::kFsSubtype, e.g. "sshfs"
  std::string sb_source;             // field::kSbSource, e.g. "/dev/vda1" or "none"
  std::vector<std::string> fs_option_array;        // field::kOptArray, unescaped
  std::vector<std::string> security_option_array;  // field::kOptSecArray
  FieldMask supported_mask = 0;                    // field::kSupportedMask
  std::vector<std::string> uid_map;  // field::kMntUidmap: "inside outside count" lines
  std::vector<std::string> gid_map;  // field::kMntGidmap

  // Set only by StatmountByFd, when the kernel itself could not describe the mount
  // (Linux 7.x answers ENOENT for a single-mount detached tree and an fsmount() fd not yet
  // attached; the 6.x emulation has no kernel answer for any mount outside the caller's
  // namespace or root) and the fields were derived from fstatfs/statx/fstatvfs on the fd.
  // Then the bits in `mask` promise less than usual (docs/statmount-by-fd.md):
  //   kSbBasic: sb_dev_major/minor and sb_magic exact; of sb_flags only SB_SYNCHRONOUS
  //             (statfs cannot tell a read-only superblock from a read-only mount).
  //   kMntBasic: id, old_id, attr exact (read-only shows here; MOUNT_ATTR_IDMAP never);
  //             parent_id/old_parent_id only for a directory fd (else 0); propagation,
  //             peer_group and master are always 0, meaning unknown, not "private".
  //   kFsType: only where the superblock magic names one filesystem type.
  //   kMntPoint: only "/", for the first submount of a detached tree (as Linux 7.2 says).
  bool derived = false;

  [[nodiscard]] bool Has(FieldMask bits) const { return (mask & bits) == bits; }
};

// Renderings that match /proc/PID/mountinfo, so both backends print alike.
// Per-mount options: "rw,nosuid,nodev,relatime" (needs kMntBasic).
[[nodiscard]] MNTNS_EXPORT std::string VfsOptions(const Mount& mount);
// Superblock options: "rw,size=1024k" (needs kSbBasic and kMntOpts).
[[nodiscard]] MNTNS_EXPORT std::string SuperOptions(const Mount& mount);
// Propagation: "shared:1 master:2 propagate_from:3 unbindable", or "private".
[[nodiscard]] MNTNS_EXPORT std::string PropagationText(const Mount& mount);
// "type" or "type.subtype" (needs kFsType; kFsSubtype when present).
[[nodiscard]] MNTNS_EXPORT std::string FsTypeText(const Mount& mount);

// Which mount namespace to read.
struct MNTNS_EXPORT NamespaceRef {
  enum class Kind { kCaller, kId, kFile, kPid };
  Kind kind = Kind::kCaller;
  std::uint64_t id = 0;  // kId: the namespace id (NS_GET_MNTNS_ID, statmount's mnt_ns_id)
  std::string path;      // kFile: an nsfs file, e.g. /proc/PID/ns/mnt or a bind of one
  pid_t pid = 0;         // kPid: the namespace that process is in

  static NamespaceRef Caller() { return {}; }
  static NamespaceRef ById(std::uint64_t id) { return {Kind::kId, id, {}, 0}; }
  static NamespaceRef ByFile(std::string path) { return {Kind::kFile, 0, std::move(path), 0}; }
  static NamespaceRef ByPid(pid_t pid) { return {Kind::kPid, 0, {}, pid}; }

  // For error text: "caller's namespace", "namespace id 123", "\"/run/ns\"", "pid 42".
  [[nodiscard]] std::string Describe() const;
};

enum class Backend {
  kAuto,       // listmount+statmount where the kernel has them (6.8+), else mountinfo
  kListmount,  // listmount(2) + statmount(2) only
  kMountinfo,  // /proc/PID/mountinfo only (the fallback for kernels before 6.8)
};

struct QueryOptions {
  FieldMask mask = field::kAll;  // request only what you need: every bit costs time
  Backend backend = Backend::kAuto;
};

// Every mount of a namespace, in the kernel's order (ascending unique id, which
// is also mountinfo's order). Namespace roots first.
// Errors: ENOENT for a namespace id that does not exist; EPERM/EACCES when the
// caller may not look into it; ENOTSUP for the mountinfo backend with kId (it
// can reach a namespace only through a file or a process).
[[nodiscard]] MNTNS_EXPORT Result<std::vector<Mount>> ListMounts(const NamespaceRef& ns = {},
                                                    const QueryOptions& options = {});

// The table ListMounts returns, handed over in blocks of up to `block_size`
// consecutive mounts instead of one vector: for renderers of big tables, which
// then need neither the whole table in memory nor a Mount allocated per mount
// (each reading thread reuses its block's Mounts), and whose work overlaps the
// reading. With the listmount backend in the caller's namespace the blocks are
// read on up to one thread per core (the first while the calling thread still
// lists the ids of later ones) and `visit(index, mounts)` runs on those
// threads, concurrently for different blocks and in no order across threads:
// index 0, 1, 2, ... is the table order (a block may come short or empty when
// mounts vanish meanwhile). Otherwise the table is read whole and visited block
// by block on the calling thread. `mounts` is valid only during the call. The
// first error (a failed read, or one that `visit` returns) stops the reading
// and is returned; else the number of blocks.
using MountBlockVisitor = std::function<Result<void>(std::size_t index, std::span<const Mount> mounts)>;
[[nodiscard]] MNTNS_EXPORT Result<std::size_t> ForEachMountBlock(const NamespaceRef& ns, const QueryOptions& options,
                                                    std::size_t block_size, const MountBlockVisitor& visit);

// One mount by its unique id (listmount backend) or, with the mountinfo
// backend, by its old id.
[[nodiscard]] MNTNS_EXPORT Result<Mount> StatmountById(std::uint64_t id, const NamespaceRef& ns = {},
                                          const QueryOptions& options = {});

// The mount that `path` lives on (in the caller's namespace). The path is
// resolved like stat(2), following symlinks.
[[nodiscard]] MNTNS_EXPORT Result<Mount> StatmountByPath(const std::string& path, const QueryOptions& options = {});

// The mount that the open file `fd` lives on: an O_PATH fd, any file or directory,
// an open_tree() or fsmount() fd, also on a mount that is no longer attached
// (umount2(MNT_DETACH), detached trees). Needs no capability. The returned mask says which
// of the requested fields are filled; MNT_POINT and MNT_NS_ID are left out for detached
// mounts, MNT_POINT also for a mount outside the caller's root (chroot).
// Linux 7.0+: statmount(STATMOUNT_BY_FD). 6.8-6.x: emulated with statx(STATX_MNT_ID_UNIQUE)
// + statmount by id, and where no kernel call can describe the mount, a result derived
// from the fd itself (Mount::derived). docs/statmount-by-fd.md lists every difference.
// Errors: EBADF for a negative or closed fd; EINVAL for an fd on a kernel-internal mount
// (pipe, socket, nsfs, anon inode, pidfd; on 7.x also memfd); ENOSYS before Linux 6.8.
[[nodiscard]] MNTNS_EXPORT Result<Mount> StatmountByFd(int fd, FieldMask mask = field::kAll);

// ---- the kernel's replies, undecoded -----------------------------------------
// For programs that decode or measure the kernel's replies themselves (the
// floor of `mntns bench ls` is one): nothing is decoded, no Mount is made.
// The unique ids of a namespace's mounts, by listmount(2) alone, in its order.
// Errors as for ListMounts with the listmount backend.
[[nodiscard]] MNTNS_EXPORT Result<std::vector<std::uint64_t>> ListMountIds(const NamespaceRef& ns = {});
// One statmount(2) of mount `id` in the caller's namespace asking for `mask`:
// the kernel's struct statmount (<linux/mount.h>) and its strings are written
// at the start of `buffer`. EOVERFLOW when `buffer` is too small (retry with a
// bigger one); ENOENT when no such mount exists.
[[nodiscard]] MNTNS_EXPORT Result<void> StatmountUndecoded(std::uint64_t id, FieldMask mask,
                                                           std::span<std::byte> buffer);

// ---- the mountinfo format (proc(5)) ------------------------------------------
// One line of /proc/PID/mountinfo, octal escapes (\040 \011 \012 \134) decoded.
// The result has the fields mountinfo carries: kSbBasic (no sb_magic),
// kMntBasic (old ids only), kPropagateFrom, kMntRoot, kMntPoint, kFsType,
// kFsSubtype, kMntOpts, kOptArray, kSbSource. Malformed lines give EINVAL.
[[nodiscard]] MNTNS_EXPORT Result<Mount> ParseMountinfoLine(std::string_view line);
// A whole file; the Error names the offending line number.
[[nodiscard]] MNTNS_EXPORT Result<std::vector<Mount>> ParseMountinfo(std::string_view text);

}  // namespace mntns
