// Kernel UAPI definitions newer than Debian 12's headers (glibc 2.36, linux-libc-dev 6.1).
// Values come from Linux 7.2's include/uapi/linux/{mount,nsfs,fanotify,stat}.h
// (see ../shared/facts/kernel-uapi.md). Each is guarded so newer system headers win.
// Private to the library: only src/ includes this file.
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>  // glibc: fsopen/fsmount/open_tree/... wrappers and MOUNT_ATTR_*
#include <sys/stat.h>

#include <cstdint>

// ---- syscall numbers (x86_64) ------------------------------------------------
#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#ifndef SYS_listmount
#define SYS_listmount 458
#endif
#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // 6.6: fchmodat with flags (AT_EMPTY_PATH)
#endif

// ---- include/uapi/linux/mount.h ---------------------------------------------
#ifndef OPEN_TREE_NAMESPACE
#define OPEN_TREE_NAMESPACE (1 << 1)  // 7.0: clone the tree into a new mount namespace
#endif
#ifndef FSMOUNT_NAMESPACE
#define FSMOUNT_NAMESPACE 0x00000002  // 7.1: create the mount in a new mount namespace
#endif
// 7.1: a new mount namespace holding only an empty nullfs root. For unshare
// the value CLONE_PARENT_SETTID has for clone (meaningless to unshare); for
// clone3 a bit above the 32 legacy ones. Both imply CLONE_NEWNS.
#ifndef UNSHARE_EMPTY_MNTNS
#define UNSHARE_EMPTY_MNTNS 0x00100000
#endif
#ifndef CLONE_EMPTY_MNTNS
#define CLONE_EMPTY_MNTNS (1ULL << 37)
#endif
#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif
#ifndef MS_UNBINDABLE
#define MS_UNBINDABLE (1 << 17)
#endif

namespace mntns::sys {

// struct mnt_id_req: the request for statmount() and listmount(). The second
// word was `spare` until 6.18 gave it to mnt_ns_fd (listmount/statmount of a
// namespace given by fd) and 7.0 to mnt_fd (statmount with STATMOUNT_BY_FD).
struct MntIdReq {
  std::uint32_t size;
  std::uint32_t mnt_ns_fd_or_mnt_fd;
  std::uint64_t mnt_id;
  std::uint64_t param;
  std::uint64_t mnt_ns_id;
};
inline constexpr std::uint32_t kMntIdReqSizeVer0 = 24;
inline constexpr std::uint32_t kMntIdReqSizeVer1 = 32;
static_assert(sizeof(MntIdReq) == kMntIdReqSizeVer1);

inline constexpr std::uint32_t kStatmountByFd = 0x00000001U;  // statmount() flag, 7.0
inline constexpr std::uint64_t kListmountRoot = 0xffffffffffffffffULL;  // LSMT_ROOT
inline constexpr unsigned kListmountReverse = 1U << 0;

// struct statmount as of 7.2 (unchanged since 6.15 up to mnt_gidmap). String
// fields are offsets into `str`, valid only when their mask bit is set.
struct RawStatmount {
  std::uint32_t size;
  std::uint32_t mnt_opts;
  std::uint64_t mask;
  std::uint32_t sb_dev_major;
  std::uint32_t sb_dev_minor;
  std::uint64_t sb_magic;
  std::uint32_t sb_flags;
  std::uint32_t fs_type;
  std::uint64_t mnt_id;
  std::uint64_t mnt_parent_id;
  std::uint32_t mnt_id_old;
  std::uint32_t mnt_parent_id_old;
  std::uint64_t mnt_attr;
  std::uint64_t mnt_propagation;
  std::uint64_t mnt_peer_group;
  std::uint64_t mnt_master;
  std::uint64_t propagate_from;
  std::uint32_t mnt_root;
  std::uint32_t mnt_point;
  std::uint64_t mnt_ns_id;
  std::uint32_t fs_subtype;
  std::uint32_t sb_source;
  std::uint32_t opt_num;
  std::uint32_t opt_array;
  std::uint32_t opt_sec_num;
  std::uint32_t opt_sec_array;
  std::uint64_t supported_mask;
  std::uint32_t mnt_uidmap_num;
  std::uint32_t mnt_uidmap;
  std::uint32_t mnt_gidmap_num;
  std::uint32_t mnt_gidmap;
  std::uint64_t spare2[43];
  char str[];
};
static_assert(sizeof(RawStatmount) == 512);

// STATMOUNT_* request/result mask bits.
inline constexpr std::uint64_t kStatmountSbBasic = 0x1;
inline constexpr std::uint64_t kStatmountMntBasic = 0x2;
inline constexpr std::uint64_t kStatmountPropagateFrom = 0x4;
inline constexpr std::uint64_t kStatmountMntRoot = 0x8;
inline constexpr std::uint64_t kStatmountMntPoint = 0x10;
inline constexpr std::uint64_t kStatmountFsType = 0x20;
inline constexpr std::uint64_t kStatmountMntNsId = 0x40;
inline constexpr std::uint64_t kStatmountMntOpts = 0x80;
inline constexpr std::uint64_t kStatmountFsSubtype = 0x100;
inline constexpr std::uint64_t kStatmountSbSource = 0x200;
inline constexpr std::uint64_t kStatmountOptArray = 0x400;
inline constexpr std::uint64_t kStatmountOptSecArray = 0x800;
inline constexpr std::uint64_t kStatmountSupportedMask = 0x1000;
inline constexpr std::uint64_t kStatmountMntUidmap = 0x2000;
inline constexpr std::uint64_t kStatmountMntGidmap = 0x4000;

// Superblock flags as statmount's sb_flags reports them (include/linux/fs.h SB_*;
// not UAPI headers, but their values are ABI through statmount).
inline constexpr std::uint32_t kSbRdonly = 1U << 0;
inline constexpr std::uint32_t kSbSynchronous = 1U << 4;
inline constexpr std::uint32_t kSbDirsync = 1U << 7;
inline constexpr std::uint32_t kSbLazytime = 1U << 25;

// ---- include/uapi/linux/stat.h -----------------------------------------------
inline constexpr unsigned kStatxMntIdUnique = 0x00004000U;  // 6.8

// ---- include/uapi/linux/nsfs.h -----------------------------------------------
inline constexpr unsigned kNsIoctlMagic = 0xb7;
struct MntNsInfo {
  std::uint32_t size;
  std::uint32_t nr_mounts;
  std::uint64_t mnt_ns_id;
};
inline constexpr std::uint32_t kMntNsInfoSizeVer0 = 16;
inline constexpr unsigned long kNsGetUserns = _IO(kNsIoctlMagic, 0x1);
inline constexpr unsigned long kNsGetParent = _IO(kNsIoctlMagic, 0x2);
inline constexpr unsigned long kNsGetNsType = _IO(kNsIoctlMagic, 0x3);
inline constexpr unsigned long kNsGetOwnerUid = _IO(kNsIoctlMagic, 0x4);
inline constexpr unsigned long kNsGetMntnsId = _IOR(kNsIoctlMagic, 0x5, std::uint64_t);
inline constexpr unsigned long kNsMntGetInfo = _IOR(kNsIoctlMagic, 10, MntNsInfo);
inline constexpr unsigned long kNsMntGetNext = _IOR(kNsIoctlMagic, 11, MntNsInfo);
inline constexpr unsigned long kNsMntGetPrev = _IOR(kNsIoctlMagic, 12, MntNsInfo);
inline constexpr std::uint64_t kMntNsInitId = 8;

// ---- include/uapi/linux/fanotify.h -------------------------------------------
inline constexpr unsigned kFanReportMnt = 0x00004000U;  // 6.15
inline constexpr unsigned kFanClassNotif = 0x00000000U;
// Mount events of one mount namespace (6.15): FAN_REPORT_MNT groups, a mark of
// type FAN_MARK_MNTNS on an nsfs fd, and an info record with the mount's unique id.
inline constexpr std::uint64_t kFanMntAttach = 0x01000000ULL;
inline constexpr std::uint64_t kFanMntDetach = 0x02000000ULL;
inline constexpr std::uint64_t kFanQOverflow = 0x00004000ULL;
inline constexpr unsigned kFanMarkMntns = 0x00000110U;
inline constexpr std::uint8_t kFanEventInfoTypeMnt = 7;
// Not packed: mnt_id sits at offset 8, after the 4-byte header and 4 bytes of
// padding (hdr.len is 16).
struct FanotifyEventInfoMnt {
  std::uint8_t info_type;  // struct fanotify_event_info_header
  std::uint8_t pad;
  std::uint16_t len;
  std::uint64_t mnt_id;
};
static_assert(sizeof(FanotifyEventInfoMnt) == 16);

// ---- include/uapi/linux/pidfd.h ----------------------------------------------
inline constexpr unsigned kPidfdThread = O_EXCL;
inline constexpr unsigned long kPidfsIoctlMagic = 0xFF;
inline constexpr unsigned long kPidfdGetMntNamespace = _IO(kPidfsIoctlMagic, 3);
inline constexpr unsigned long kPidfdGetUserNamespace = _IO(kPidfsIoctlMagic, 9);

}  // namespace mntns::sys
