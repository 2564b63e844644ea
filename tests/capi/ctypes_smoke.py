#!/usr/bin/env python3
"""capi.python_ctypes_smoke: a few calls of libmntns.so's C API through
ctypes, as a binding in another language makes them: the probe (a
size-versioned struct), one mount and its strings, an error object, a
mount table. Nothing is mounted.

usage: ctypes_smoke.py LIBMNTNS_SO
"""
import ctypes
import errno
import os
import sys


class Features(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("reserved", ctypes.c_uint32), ("present", ctypes.c_uint64),
                ("known", ctypes.c_uint64), ("kernel", ctypes.c_char * 65)]


class MountInfo(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("derived", ctypes.c_uint32), ("mask", ctypes.c_uint64),
                ("sb_dev_major", ctypes.c_uint32), ("sb_dev_minor", ctypes.c_uint32), ("sb_magic", ctypes.c_uint64),
                ("sb_flags", ctypes.c_uint32), ("old_id", ctypes.c_uint32), ("id", ctypes.c_uint64),
                ("parent_id", ctypes.c_uint64), ("old_parent_id", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                ("attr", ctypes.c_uint64), ("propagation", ctypes.c_uint64), ("peer_group", ctypes.c_uint64),
                ("master", ctypes.c_uint64), ("propagate_from", ctypes.c_uint64), ("ns_id", ctypes.c_uint64),
                ("supported_mask", ctypes.c_uint64)]


def check(condition, what):
    if not condition:
        print(f"ctypes smoke: FAILED: {what}")
        sys.exit(1)


def main():
    lib = ctypes.CDLL(sys.argv[1], use_errno=True)
    voidp, charp = ctypes.c_void_p, ctypes.c_char_p
    lib.mntns_get_features.argtypes = [ctypes.POINTER(Features)]
    lib.mntns_feature_name.restype = charp
    lib.mntns_feature_name.argtypes = [ctypes.c_uint64]
    lib.mntns_statmount_by_path.argtypes = [charp, ctypes.c_uint64, ctypes.POINTER(voidp), ctypes.POINTER(voidp)]
    lib.mntns_mount_get_info.argtypes = [voidp, ctypes.POINTER(MountInfo)]
    for name in ("mntns_mount_point", "mntns_mount_fs_type", "mntns_error_operation", "mntns_error_argument",
                 "mntns_error_message", "mntns_strategy_name"):
        getattr(lib, name).restype = charp
    for name in ("mntns_mount_point", "mntns_mount_fs_type", "mntns_mount_free", "mntns_error_operation",
                 "mntns_error_argument", "mntns_error_message", "mntns_error_code", "mntns_error_free",
                 "mntns_mount_table_free", "mntns_mount_table_count"):
        getattr(lib, name).argtypes = [voidp]
    lib.mntns_mount_table_count.restype = ctypes.c_size_t
    lib.mntns_mount_table_get.restype = voidp
    lib.mntns_mount_table_get.argtypes = [voidp, ctypes.c_size_t]
    lib.mntns_list_mounts.argtypes = [voidp, ctypes.POINTER(voidp), ctypes.POINTER(voidp)]

    features = Features(size=ctypes.sizeof(Features))
    check(lib.mntns_get_features(ctypes.byref(features)) == 0, "mntns_get_features")
    check(features.size == ctypes.sizeof(Features), f"features.size {features.size}")
    check(features.kernel.decode() == os.uname().release, f"kernel {features.kernel!r}")
    check(lib.mntns_feature_name(1) == b"statmount", "feature name of bit 0")
    short = Features(size=8)
    check(lib.mntns_get_features(ctypes.byref(short)) == -errno.EINVAL, "a size below the first version")

    mount, error = voidp(), voidp()
    check(lib.mntns_statmount_by_path(b"/", 0, ctypes.byref(mount), ctypes.byref(error)) == 0, "statmount /")
    info = MountInfo(size=ctypes.sizeof(MountInfo))
    check(lib.mntns_mount_get_info(mount, ctypes.byref(info)) == 0, "mntns_mount_get_info")
    check(info.id != 0 and info.mask != 0, "a unique mount id")
    check(lib.mntns_mount_point(mount) == b"/", f"mount point {lib.mntns_mount_point(mount)!r}")
    check(lib.mntns_mount_fs_type(mount) not in (None, b""), "a filesystem type")
    lib.mntns_mount_free(mount)

    rc = lib.mntns_statmount_by_path(b"/nonexistent-mntns-ctypes", 0, ctypes.byref(mount), ctypes.byref(error))
    check(rc == -errno.ENOENT, f"statmount of a missing path: {rc}")
    check(lib.mntns_error_code(error) == errno.ENOENT, "the error's errno")
    check(b"/nonexistent-mntns-ctypes" in lib.mntns_error_argument(error), "the error's argument")
    message = lib.mntns_error_message(error).decode()
    check(message.endswith("No such file or directory (ENOENT)"), f"the message: {message}")
    lib.mntns_error_free(error)

    table = voidp()
    check(lib.mntns_list_mounts(None, ctypes.byref(table), None) == 0, "mntns_list_mounts")
    count = lib.mntns_mount_table_count(table)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mountinfo:
        lines = len(mountinfo.readlines())
    check(count == lines, f"{count} mounts listed, mountinfo has {lines}")
    points = [lib.mntns_mount_point(lib.mntns_mount_table_get(table, i)) for i in range(count)]
    check(b"/" in points, "the root among the mounts")
    check(lib.mntns_mount_table_get(table, count) is None, "NULL past the end")
    lib.mntns_mount_table_free(table)

    check(lib.mntns_strategy_name(2) == b"template", "strategy name")
    print(f"ctypes smoke: {sys.argv[1]}: features, statmount, error, table: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
