/* mntns.h: the C API of libmntns, for C11 programs and any language with a C
 * FFI (Go, Rust, Python ctypes). Symbol version MNTNS_1.0 (see
 * src/capi/mntns.map); libmntns.so keeps every function and struct layout of
 * this header stable, and tests/capi/mntns-c.abi records them.
 *
 * Conventions, for every function below unless it says otherwise:
 *  - Results: >= 0 on success (an fd, a count, a status or 0), a negative
 *    errno value on failure (-ENOENT), never folded into generic codes.
 *  - `struct mntns_error **error` may be NULL. On failure, when it is not,
 *    *error receives a new error object (NULL if even that allocation
 *    failed) that the caller frees with mntns_error_free(); on success *error
 *    is left as it was. The object carries the failed operation, its argument
 *    and the kernel's fs_context log, as the C++ mntns::Error does.
 *  - fds are plain ints. An fd returned is new, close-on-exec and the
 *    caller's to close; an fd passed in stays the caller's.
 *  - Strings returned as `const char *` are NUL-terminated and owned by the
 *    object they were read from: valid until that object is freed.
 *  - Extensible structs start with `uint32_t size`, as the kernel's
 *    mnt_id_req and clone_args do: the caller sets it to sizeof the struct it
 *    was compiled with. Structs the library reads: a larger size is accepted
 *    when the bytes this library does not know are zero (else -E2BIG), a
 *    smaller one when it holds at least the first version (else -EINVAL), the
 *    missing fields being zero. Structs the library fills: it writes at most
 *    `size` bytes and sets `size` to the number it wrote.
 *  - No call prints, exits, or lets a C++ exception out; out of memory is
 *    -ENOMEM.
 * Ownership, call by call: docs/c-api.md.
 */
#ifndef MNTNS_MNTNS_H
#define MNTNS_MNTNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MNTNS_C_EXPORT __attribute__((visibility("default")))
#else
#define MNTNS_C_EXPORT
#endif

/* ---- errors ------------------------------------------------------------- */

struct mntns_error;

/* The accessors accept NULL (the error that could not be allocated) and
 * then answer 0 or "". */
/* The errno value (positive), e.g. ENOENT. */
MNTNS_C_EXPORT int mntns_error_code(const struct mntns_error *error);
/* The failed operation, e.g. "open_tree"; never NULL. */
MNTNS_C_EXPORT const char *mntns_error_operation(const struct mntns_error *error);
/* Its key argument, e.g. "\"/nope\""; "" when none. */
MNTNS_C_EXPORT const char *mntns_error_argument(const struct mntns_error *error);
/* The kernel's fs_context log lines ("e tmpfs: Bad value for 'mode'"); "" when none. */
MNTNS_C_EXPORT const char *mntns_error_kernel_log(const struct mntns_error *error);
/* The whole message, as the mntns CLI prints it after "mntns: ": contexts,
 * operation, argument, strerror and errno name, kernel log; control
 * characters written \xNN. */
MNTNS_C_EXPORT const char *mntns_error_message(const struct mntns_error *error);
/* Frees `error`; NULL is allowed. */
MNTNS_C_EXPORT void mntns_error_free(struct mntns_error *error);

/* ---- the kernel feature probe ------------------------------------------ */

#define MNTNS_FEATURE_STATMOUNT (1ULL << 0)             /* statmount(2), 6.8 */
#define MNTNS_FEATURE_LISTMOUNT (1ULL << 1)             /* listmount(2), 6.8 */
#define MNTNS_FEATURE_LISTMOUNT_BY_NS_FD (1ULL << 2)    /* mnt_id_req.mnt_ns_fd, 6.18 */
#define MNTNS_FEATURE_STATMOUNT_BY_FD (1ULL << 3)       /* STATMOUNT_BY_FD, 7.0 */
#define MNTNS_FEATURE_OPEN_TREE_NAMESPACE (1ULL << 4)   /* OPEN_TREE_NAMESPACE, 7.0 */
#define MNTNS_FEATURE_FSMOUNT_NAMESPACE (1ULL << 5)     /* FSMOUNT_NAMESPACE, 7.1 */
#define MNTNS_FEATURE_MOUNT_SETATTR (1ULL << 6)         /* mount_setattr(2), 5.12 */
#define MNTNS_FEATURE_OPEN_TREE_ATTR (1ULL << 7)        /* open_tree_attr(2), 6.15 */
#define MNTNS_FEATURE_FANOTIFY_MOUNT_EVENTS (1ULL << 8) /* FAN_REPORT_MNT, 6.15 */
#define MNTNS_FEATURE_NS_MNT_GET_INFO (1ULL << 9)       /* ioctl NS_MNT_GET_INFO, 6.12 */
#define MNTNS_FEATURE_NS_MNT_GET_NEXT_PREV (1ULL << 10) /* ioctl NS_MNT_GET_NEXT/PREV, 6.12 */
#define MNTNS_FEATURE_STATX_MNT_ID_UNIQUE (1ULL << 11)  /* statx(STATX_MNT_ID_UNIQUE), 6.8 */
#define MNTNS_FEATURE_EMPTY_MOUNT_NAMESPACE (1ULL << 12) /* UNSHARE_EMPTY_MNTNS / CLONE_EMPTY_MNTNS, 7.1 */

struct mntns_features {
  uint32_t size;      /* in: sizeof(struct mntns_features); out: bytes written */
  uint32_t reserved;  /* written 0 */
  uint64_t present;   /* MNTNS_FEATURE_* bits the kernel offers (feature profile applied) */
  uint64_t known;     /* the MNTNS_FEATURE_* bits this library probes */
  char kernel[65];    /* uname -r, NUL-terminated */
};

/* The cached probe (mntns::KernelFeatures(): computed once per process, with
 * the MNTNS_FEATURE_PROFILE test seam applied). -EINVAL for a NULL pointer
 * or a size below the first version's. */
MNTNS_C_EXPORT int mntns_get_features(struct mntns_features *features);
/* The feature profile in effect ("" for none); valid for the life of the process. */
MNTNS_C_EXPORT const char *mntns_feature_profile(void);
/* The name `mntns features` prints for one MNTNS_FEATURE_* bit
 * ("open_tree_namespace"); NULL for anything else. */
MNTNS_C_EXPORT const char *mntns_feature_name(uint64_t feature);

/* ---- mounts: statmount fields ------------------------------------------- */

/* statmount(2) mask bits, the kernel's STATMOUNT_* values. */
#define MNTNS_FIELD_SB_BASIC 0x1ULL
#define MNTNS_FIELD_MNT_BASIC 0x2ULL
#define MNTNS_FIELD_PROPAGATE_FROM 0x4ULL
#define MNTNS_FIELD_MNT_ROOT 0x8ULL
#define MNTNS_FIELD_MNT_POINT 0x10ULL
#define MNTNS_FIELD_FS_TYPE 0x20ULL
#define MNTNS_FIELD_MNT_NS_ID 0x40ULL
#define MNTNS_FIELD_MNT_OPTS 0x80ULL
#define MNTNS_FIELD_FS_SUBTYPE 0x100ULL
#define MNTNS_FIELD_SB_SOURCE 0x200ULL
#define MNTNS_FIELD_OPT_ARRAY 0x400ULL
#define MNTNS_FIELD_OPT_SEC_ARRAY 0x800ULL
#define MNTNS_FIELD_SUPPORTED_MASK 0x1000ULL
#define MNTNS_FIELD_MNT_UIDMAP 0x2000ULL
#define MNTNS_FIELD_MNT_GIDMAP 0x4000ULL
#define MNTNS_FIELD_ALL 0x7fffULL

/* One mount (opaque): what statmount(2) says about it. Owned by whoever
 * returned it: mntns_statmount_* give one the caller frees with
 * mntns_mount_free(); a table lends them. */
struct mntns_mount;

/* Its numeric fields. Only those whose bit is set in `mask` are meaningful;
 * the others are 0. */
struct mntns_mount_info {
  uint32_t size;            /* in: sizeof(struct mntns_mount_info); out: bytes written */
  uint32_t derived;         /* 1: StatmountByFd derived the fields from the fd
                               (docs/statmount-by-fd.md), the bits promise less */
  uint64_t mask;            /* MNTNS_FIELD_* bits filled */
  uint32_t sb_dev_major;    /* MNTNS_FIELD_SB_BASIC */
  uint32_t sb_dev_minor;
  uint64_t sb_magic;        /* 0 from the mountinfo backend */
  uint32_t sb_flags;        /* SB_RDONLY | SB_SYNCHRONOUS | SB_DIRSYNC | SB_LAZYTIME */
  uint32_t old_id;          /* MNTNS_FIELD_MNT_BASIC: the reusable id mountinfo shows */
  uint64_t id;              /* unique 64-bit id (6.8+); 0 from the mountinfo backend */
  uint64_t parent_id;       /* == id for a namespace root */
  uint32_t old_parent_id;
  uint32_t reserved;        /* written 0 */
  uint64_t attr;            /* MOUNT_ATTR_* */
  uint64_t propagation;     /* MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE */
  uint64_t peer_group;      /* shared:N, 0 if not shared */
  uint64_t master;          /* master:N, 0 if not a slave */
  uint64_t propagate_from;  /* MNTNS_FIELD_PROPAGATE_FROM */
  uint64_t ns_id;           /* MNTNS_FIELD_MNT_NS_ID */
  uint64_t supported_mask;  /* MNTNS_FIELD_SUPPORTED_MASK */
};

/* Copies the numeric fields into *info (at most info->size bytes). -EINVAL
 * for NULL pointers or a size below the first version's. */
MNTNS_C_EXPORT int mntns_mount_get_info(const struct mntns_mount *mount, struct mntns_mount_info *info);

/* The string fields, "" when not filled: */
MNTNS_C_EXPORT const char *mntns_mount_root(const struct mntns_mount *mount);       /* MNT_ROOT: path inside the fs */
MNTNS_C_EXPORT const char *mntns_mount_point(const struct mntns_mount *mount);      /* MNT_POINT */
MNTNS_C_EXPORT const char *mntns_mount_fs_type(const struct mntns_mount *mount);    /* FS_TYPE */
MNTNS_C_EXPORT const char *mntns_mount_fs_options(const struct mntns_mount *mount); /* MNT_OPTS (no ro/rw) */
MNTNS_C_EXPORT const char *mntns_mount_fs_subtype(const struct mntns_mount *mount); /* FS_SUBTYPE */
MNTNS_C_EXPORT const char *mntns_mount_sb_source(const struct mntns_mount *mount);  /* SB_SOURCE */

/* The string arrays. */
#define MNTNS_MOUNT_FS_OPTION_ARRAY 0       /* MNTNS_FIELD_OPT_ARRAY, unescaped */
#define MNTNS_MOUNT_SECURITY_OPTION_ARRAY 1 /* MNTNS_FIELD_OPT_SEC_ARRAY */
#define MNTNS_MOUNT_UID_MAP 2               /* MNTNS_FIELD_MNT_UIDMAP: "inside outside count" */
#define MNTNS_MOUNT_GID_MAP 3               /* MNTNS_FIELD_MNT_GIDMAP */
/* How many strings array `which` holds (0 when not filled); -EINVAL for an
 * unknown `which`. */
MNTNS_C_EXPORT ssize_t mntns_mount_array_count(const struct mntns_mount *mount, int which);
/* Item `index` of it; NULL past the end or for an unknown `which`. */
MNTNS_C_EXPORT const char *mntns_mount_array_item(const struct mntns_mount *mount, int which, size_t index);

/* Frees a mount returned by mntns_statmount_*; NULL is allowed. Never for a
 * mount a table lent. */
MNTNS_C_EXPORT void mntns_mount_free(struct mntns_mount *mount);

/* ---- mount tables: listmount + statmount, or mountinfo ---------------- */

#define MNTNS_NS_CALLER 0 /* the calling thread's namespace */
#define MNTNS_NS_ID 1     /* ns_id: the 64-bit namespace id (NS_GET_MNTNS_ID, statmount's mnt_ns_id) */
#define MNTNS_NS_FD 2     /* ns_fd: an nsfs fd (read through /proc/self/fd) */
#define MNTNS_NS_PID 3    /* pid: the namespace that process is in */
#define MNTNS_NS_FILE 4   /* ns_path: an nsfs file, /proc/PID/ns/mnt or a bind of one */

#define MNTNS_BACKEND_AUTO 0      /* listmount+statmount where the kernel has them (6.8+), else mountinfo */
#define MNTNS_BACKEND_LISTMOUNT 1 /* listmount(2) + statmount(2) only */
#define MNTNS_BACKEND_MOUNTINFO 2 /* /proc/PID/mountinfo only (no unique ids, no MNTNS_NS_ID) */

/* Which namespace, which fields, which backend. A NULL query means the
 * caller's namespace, every field, the auto backend. */
struct mntns_query {
  uint32_t size;        /* sizeof(struct mntns_query) */
  uint32_t ns_kind;     /* MNTNS_NS_* */
  uint64_t ns_id;       /* MNTNS_NS_ID */
  int32_t ns_fd;        /* MNTNS_NS_FD */
  int32_t pid;          /* MNTNS_NS_PID */
  const char *ns_path;  /* MNTNS_NS_FILE */
  uint64_t mask;        /* MNTNS_FIELD_* wanted (every bit costs time); 0: all */
  uint32_t backend;     /* MNTNS_BACKEND_* */
  uint32_t reserved;    /* must be 0 */
};

/* A list of mounts (opaque): owned when from mntns_list_mounts (free it with
 * mntns_mount_table_free), lent to a block visitor otherwise. */
struct mntns_mount_table;

/* The number of mounts in `table`. */
MNTNS_C_EXPORT size_t mntns_mount_table_count(const struct mntns_mount_table *table);
/* Mount `index`, lent by the table (valid while it lives; do not free it);
 * NULL past the end. */
MNTNS_C_EXPORT const struct mntns_mount *mntns_mount_table_get(const struct mntns_mount_table *table, size_t index);
/* Frees a table from mntns_list_mounts; NULL is allowed. */
MNTNS_C_EXPORT void mntns_mount_table_free(struct mntns_mount_table *table);

/* Every mount of the namespace, in the kernel's order (ascending unique id),
 * namespace roots first (mntns::ListMounts). *table receives a new table.
 * Errors: -ENOENT for a namespace id that does not exist; -EPERM/-EACCES
 * when the caller may not look into it; -ENOTSUP for the mountinfo backend
 * with MNTNS_NS_ID; -EINVAL for a bad query. */
MNTNS_C_EXPORT int mntns_list_mounts(const struct mntns_query *query, struct mntns_mount_table **table,
                                     struct mntns_error **error);

/* Called once per block of up to block_size consecutive mounts; `index`
 * 0, 1, 2, ... is the table order. Returns 0 to go on, a negative errno to
 * stop (mntns_for_each_mount_block then returns it). `block` and its mounts
 * are lent for the call only. */
typedef int (*mntns_mount_block_visitor)(void *user_data, size_t index, const struct mntns_mount_table *block);

/* The table of mntns_list_mounts handed over in blocks, without the whole
 * table in memory (mntns::ForEachMountBlock): in the caller's namespace with
 * the listmount backend the blocks are read on up to one thread per core and
 * `visit` runs on those threads, one call at a time (never concurrently)
 * but in no order of `index`; otherwise on the calling thread, in order.
 * Returns the number of blocks, or the first error (a failed read, or the
 * visitor's: then *error names operation "visitor"). -EINVAL for
 * block_size 0 or a NULL visitor. */
MNTNS_C_EXPORT ssize_t mntns_for_each_mount_block(const struct mntns_query *query, size_t block_size,
                                                  mntns_mount_block_visitor visit, void *user_data,
                                                  struct mntns_error **error);

/* One mount by its unique id in the query's namespace (mountinfo backend:
 * by old id). *mount receives a new mount. -ENOENT when there is none. */
MNTNS_C_EXPORT int mntns_statmount_by_id(uint64_t id, const struct mntns_query *query, struct mntns_mount **mount,
                                         struct mntns_error **error);
/* The mount `path` lives on, in the caller's namespace (symlinks followed,
 * like stat(2)); `mask` 0: every field. */
MNTNS_C_EXPORT int mntns_statmount_by_path(const char *path, uint64_t mask, struct mntns_mount **mount,
                                           struct mntns_error **error);
/* The mount the open file `fd` lives on: any fd, an O_PATH one, an
 * open_tree() or fsmount() fd, a mount no longer attached (mntns::
 * StatmountByFd: statmount(STATMOUNT_BY_FD) on 7.0+, emulated on 6.8+).
 * `mask` 0: every field. -EBADF for a closed fd; -EINVAL for an fd on a
 * kernel-internal mount (pipe, socket, nsfs, ...); -ENOSYS before 6.8. */
MNTNS_C_EXPORT int mntns_statmount_by_fd(int fd, uint64_t mask, struct mntns_mount **mount,
                                         struct mntns_error **error);

/* ---- namespaces in one call --------------------------------------------- */

/* Strategies (mntns::NamespaceStrategy; namespace.h states how each differs). */
#define MNTNS_STRATEGY_AUTO 0     /* native where the kernel has the call, else template, else classic */
#define MNTNS_STRATEGY_NATIVE 1   /* the 7.x syscalls; -EINVAL on older kernels */
#define MNTNS_STRATEGY_TEMPLATE 2 /* 6.8+: copies of a tiny template namespace, no fork */
#define MNTNS_STRATEGY_CLASSIC 3  /* unshare + pivot_root + detach; cost grows with the caller's table */

/* The calls a strategy serves. */
#define MNTNS_OPERATION_OPEN_TREE_NAMESPACE 0 /* open_tree(OPEN_TREE_NAMESPACE), 7.0 */
#define MNTNS_OPERATION_FSMOUNT_NAMESPACE 1   /* fsmount(FSMOUNT_NAMESPACE), 7.1 */

/* "auto", "native", "template", "classic"; NULL for anything else. */
MNTNS_C_EXPORT const char *mntns_strategy_name(int strategy);
/* The MNTNS_STRATEGY_* value of a name; -EINVAL for anything else (NULL too). */
MNTNS_C_EXPORT int mntns_parse_strategy(const char *name);
/* What `strategy` means for `operation` on the running kernel (auto
 * resolved; others returned as they are). -EINVAL for unknown values. */
MNTNS_C_EXPORT int mntns_resolve_strategy(int operation, int strategy);

/* A new mount namespace holding only a copy of the mount at dirfd/path (with
 * every submount when flags has AT_RECURSIVE), like Linux 7.0's
 * open_tree(dirfd, path, flags | OPEN_TREE_NAMESPACE) on every kernel
 * (mntns::OpenTreeNamespace, whose contract holds). Returns its nsfs fd
 * (the caller's; close-on-exec); nothing is entered. `flags`: AT_EMPTY_PATH,
 * AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT, AT_RECURSIVE, OPEN_TREE_CLOEXEC,
 * OPEN_TREE_NAMESPACE. -EINVAL for OPEN_TREE_CLONE or another flag, -EPERM
 * without CAP_SYS_ADMIN, -ENOTDIR for a source that is not a directory. */
MNTNS_C_EXPORT int mntns_open_tree_namespace(int dirfd, const char *path, unsigned int flags, int strategy,
                                             struct mntns_error **error);
/* The same with a fresh filesystem as root, like Linux 7.1's
 * fsmount(fs_fd, flags | FSMOUNT_NAMESPACE, attr_flags): `fs_fd` is an
 * fsopen() fd after FSCONFIG_CMD_CREATE (stays the caller's), `flags`
 * FSMOUNT_CLOEXEC / FSMOUNT_NAMESPACE, `attr_flags` MOUNT_ATTR_* bits.
 * Errors carry the fs_context log. */
MNTNS_C_EXPORT int mntns_fsmount_namespace(int fs_fd, unsigned int flags, unsigned int attr_flags, int strategy,
                                           struct mntns_error **error);

/* ---- the mount API one call at a time (what attaching needs) ----------- */

/* open_tree(2) (OPEN_TREE_CLOEXEC always added): with OPEN_TREE_CLONE a
 * detached copy of the mount (AT_RECURSIVE: and its submounts), the way a
 * runtime pre-opens bind sources before entering a namespace. Returns the
 * new fd. */
MNTNS_C_EXPORT int mntns_open_tree(int dirfd, const char *path, unsigned int flags, struct mntns_error **error);
/* move_mount(2): attaches the detached tree from_dirfd/from_path (with
 * MOVE_MOUNT_F_EMPTY_PATH and "") on to_dirfd/to_path. -ENOSPC: the target
 * namespace would pass fs.mount-max. */
MNTNS_C_EXPORT int mntns_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                                    unsigned int flags, struct mntns_error **error);
/* setns(ns_fd, CLONE_NEWNS): the calling thread enters the namespace, root
 * and cwd set to its root. -EINVAL in a thread that shares its fs_struct
 * (another thread of the process that did not unshare CLONE_FS): call it in
 * a forked child or a single-threaded process. */
MNTNS_C_EXPORT int mntns_enter_namespace(int ns_fd, struct mntns_error **error);
/* ioctl(NS_GET_MNTNS_ID) into *id: the namespace's id (MNTNS_NS_ID). 6.12. */
MNTNS_C_EXPORT int mntns_namespace_id(int ns_fd, uint64_t *id, struct mntns_error **error);
/* ioctl(NS_MNT_GET_INFO): how many mounts the namespace holds, every one
 * counted (also those a listing hides). Returns the count. 6.12. */
MNTNS_C_EXPORT int64_t mntns_count_mounts(int ns_fd, struct mntns_error **error);

/* ---- the sandbox (mntns run) --------------------------------------------- */

/* A sandbox spec (opaque), built by calls (mntns::SandboxSpec): steps run in
 * the order added, like bubblewrap's options. Setters copy their strings and
 * return 0, -EINVAL for NULL arguments, -ENOMEM; the spec's content is
 * checked by mntns_sandbox_spec_validate and mntns_sandbox_start. */
struct mntns_sandbox_spec;

MNTNS_C_EXPORT struct mntns_sandbox_spec *mntns_sandbox_spec_new(void); /* NULL: no memory */
MNTNS_C_EXPORT void mntns_sandbox_spec_free(struct mntns_sandbox_spec *spec); /* NULL is allowed */

/* "/" of the sandbox: a recursive copy of host directory `dir` (NULL or "":
 * a fresh tmpfs, the default). */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_root(struct mntns_sandbox_spec *spec, const char *dir);

#define MNTNS_BIND_READ_ONLY 0x1     /* --ro-bind */
#define MNTNS_BIND_ALLOW_DEVICES 0x2 /* --dev-bind (else MOUNT_ATTR_NODEV) */
#define MNTNS_BIND_OPTIONAL 0x4      /* --bind-try: skip a missing source */
/* Binds host path `source` (recursively) on `dest` inside. -EINVAL for
 * unknown flags. */
MNTNS_C_EXPORT int mntns_sandbox_spec_add_bind(struct mntns_sandbox_spec *spec, const char *source, const char *dest,
                                               unsigned int flags);
/* A fresh tmpfs on `dest`: `size` bytes (0: the kernel default), root mode
 * `mode` (-1: 0755). */
MNTNS_C_EXPORT int mntns_sandbox_spec_add_tmpfs(struct mntns_sandbox_spec *spec, const char *dest, uint64_t size,
                                                int mode);
MNTNS_C_EXPORT int mntns_sandbox_spec_add_proc(struct mntns_sandbox_spec *spec, const char *dest);
/* A minimal /dev (null, zero, full, random, urandom, tty, devpts, shm). */
MNTNS_C_EXPORT int mntns_sandbox_spec_add_dev(struct mntns_sandbox_spec *spec, const char *dest);
/* mkdir -p `dest`, mode `mode` (-1: the default). */
MNTNS_C_EXPORT int mntns_sandbox_spec_add_dir(struct mntns_sandbox_spec *spec, const char *dest, int mode);
/* A symlink `dest` -> `target`. */
MNTNS_C_EXPORT int mntns_sandbox_spec_add_symlink(struct mntns_sandbox_spec *spec, const char *target,
                                                  const char *dest);
/* The mount at `dest` (a mount point) and below made read-only. */
MNTNS_C_EXPORT int mntns_sandbox_spec_add_remount_ro(struct mntns_sandbox_spec *spec, const char *dest);

#define MNTNS_OVERLAY_READ_ONLY 0 /* --ro-overlay: no upper layer (needs two lower layers or more) */
#define MNTNS_OVERLAY_TMPFS 1     /* --tmp-overlay: upper and work dirs on a fresh tmpfs, changes lost */
#define MNTNS_OVERLAY_DIRECTORY 2 /* --overlay: upper dir `upper`, work dir `workdir` (host paths) */
/* An overlayfs on `dest` from the `count` host directories `lower`, lowest
 * first; `upper` and `workdir` only with MNTNS_OVERLAY_DIRECTORY (else
 * NULL). -EINVAL for an unknown `upper_kind` or a missing path. */
MNTNS_C_EXPORT int mntns_sandbox_spec_add_overlay(struct mntns_sandbox_spec *spec, const char *dest,
                                                  const char *const *lower, size_t count, int upper_kind,
                                                  const char *upper, const char *workdir);

/* Environment changes, applied in order to the caller's environment. */
MNTNS_C_EXPORT int mntns_sandbox_spec_setenv(struct mntns_sandbox_spec *spec, const char *name, const char *value);
MNTNS_C_EXPORT int mntns_sandbox_spec_unsetenv(struct mntns_sandbox_spec *spec, const char *name);
MNTNS_C_EXPORT int mntns_sandbox_spec_clearenv(struct mntns_sandbox_spec *spec);
/* The working directory inside (NULL or "": the caller's if it exists there, else "/"). */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_chdir(struct mntns_sandbox_spec *spec, const char *dir);

#define MNTNS_SANDBOX_UNSHARE_USER 0x1
#define MNTNS_SANDBOX_UNSHARE_PID 0x2
#define MNTNS_SANDBOX_UNSHARE_NET 0x4
#define MNTNS_SANDBOX_UNSHARE_UTS 0x8
#define MNTNS_SANDBOX_UNSHARE_IPC 0x10
/* The namespaces besides the mount namespace (replaces earlier ones);
 * -EINVAL for unknown bits. */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_unshare(struct mntns_sandbox_spec *spec, unsigned int flags);
/* With MNTNS_SANDBOX_UNSHARE_USER: the uid/gid inside. */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_uid(struct mntns_sandbox_spec *spec, uid_t uid);
MNTNS_C_EXPORT int mntns_sandbox_spec_set_gid(struct mntns_sandbox_spec *spec, gid_t gid);
/* With MNTNS_SANDBOX_UNSHARE_UTS. */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_hostname(struct mntns_sandbox_spec *spec, const char *hostname);
/* PR_SET_PDEATHSIG(SIGKILL) for every process of the sandbox (0 or 1). */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_die_with_parent(struct mntns_sandbox_spec *spec, int enabled);
/* MNTNS_STRATEGY_*; -EINVAL for anything else. */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_strategy(struct mntns_sandbox_spec *spec, int strategy);
/* The command: `argv` NULL-terminated, argv[0] looked up in PATH. */
MNTNS_C_EXPORT int mntns_sandbox_spec_set_argv(struct mntns_sandbox_spec *spec, const char *const *argv);

/* -EINVAL with the reason in *error when the spec cannot work (no argv, a
 * relative dest, hostname without UTS, uid without user namespace, ...). */
MNTNS_C_EXPORT int mntns_sandbox_spec_validate(const struct mntns_sandbox_spec *spec, struct mntns_error **error);

/* A started sandbox (opaque; mntns::SandboxProcess). */
struct mntns_sandbox;

/* Builds the sandbox and starts the command in it (mntns::StartSandbox,
 * whose contract holds: the setup runs in a fresh exec of /proc/self/exe,
 * taken over by a constructor of libmntns before main()). Returns once the
 * command was exec'd; *sandbox receives the new handle. The spec stays the
 * caller's and may be freed at once. */
MNTNS_C_EXPORT int mntns_sandbox_start(const struct mntns_sandbox_spec *spec, struct mntns_sandbox **sandbox,
                                       struct mntns_error **error);
/* The process mntns waits for (the command, or with UNSHARE_PID the relay);
 * -1 once reaped. */
MNTNS_C_EXPORT pid_t mntns_sandbox_pid(const struct mntns_sandbox *sandbox);
/* Its pidfd, still owned by the handle (do not close it); -1 once reaped. */
MNTNS_C_EXPORT int mntns_sandbox_pidfd(const struct mntns_sandbox *sandbox);
/* The strategy that made its namespace (resolved, never AUTO). */
MNTNS_C_EXPORT int mntns_sandbox_strategy(const struct mntns_sandbox *sandbox);
/* Waits for the sandbox; returns the command's exit status (128+N if killed
 * by signal N). Each of the `count` signals in `forward_signals` (may be
 * NULL when count is 0) that reaches the caller is sent on to the sandbox:
 * block them with sigprocmask before mntns_sandbox_start so that none is
 * lost. -ECHILD when it was reaped already. */
MNTNS_C_EXPORT int mntns_sandbox_wait(struct mntns_sandbox *sandbox, const int *forward_signals, size_t count,
                                      struct mntns_error **error);
/* Frees the handle; a sandbox not yet waited for is killed (SIGKILL through
 * its pidfd) and reaped first. NULL is allowed. */
MNTNS_C_EXPORT void mntns_sandbox_free(struct mntns_sandbox *sandbox);

#ifdef __cplusplus
}
#endif

#endif /* MNTNS_MNTNS_H */
