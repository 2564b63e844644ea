#!/usr/bin/env python3
"""Checks the dynamic symbol table of libmntns.so: the public API, and nothing
of mntns::internal, mntns::sys or mntns::cli (hidden visibility, MNTNS_EXPORT);
of the C API (mntns.h) only mntns_ functions, each with the version MNTNS_1.0
(src/capi/mntns.map), and no other C symbol at all.

usage: check-exports.py LIBMNTNS_SO
"""
import re
import subprocess
import sys

FORBIDDEN = ("mntns::internal", "mntns::sys", "mntns::cli")
# One call of each public header: if the export macro is lost there, it shows.
REQUIRED = (
    "mntns::Error::Message",
    "mntns::QuotePath",  # [abi:cxx11] follows names that return std::string
    "mntns::UniqueFd::",
    "mntns::ReserveStandardFds()",
    "mntns::KernelFeatures()",
    "mntns::ListMounts(",
    "mntns::ForEachMountBlock(",
    "mntns::StatmountByFd(",
    "mntns::NamespaceRef::Describe",
    "mntns::OpenTreeNamespace(",
    "mntns::FsmountNamespace(",
    "mntns::ShareTemplateNamespace(",
    "mntns::OpenTree(",
    "mntns::FsContext::Open(",
    "mntns::MountNamespaceId(",
    "mntns::PinNamespace(",
    "mntns::OpenPinnedTreeNamespace(",
    "mntns::StartSandbox(",
    "mntns::WaitSandbox(",
    # The C API, one call per part of mntns.h, with its symbol version.
    "mntns_error_free@@MNTNS_1.0",
    "mntns_get_features@@MNTNS_1.0",
    "mntns_list_mounts@@MNTNS_1.0",
    "mntns_for_each_mount_block@@MNTNS_1.0",
    "mntns_statmount_by_fd@@MNTNS_1.0",
    "mntns_open_tree_namespace@@MNTNS_1.0",
    "mntns_fsmount_namespace@@MNTNS_1.0",
    "mntns_sandbox_start@@MNTNS_1.0",
)
C_SYMBOL = re.compile(r"mntns_[a-z0-9_]+@@MNTNS_1\.0")
VERSION_NODE = re.compile(r"MNTNS_[0-9.]+")


def main() -> int:
    library = sys.argv[1]
    listing = subprocess.run(["nm", "-D", "--defined-only", "-C", library], check=True, capture_output=True,
                             text=True).stdout
    names = [line.split(" ", 2)[2] for line in listing.splitlines() if line.count(" ") >= 2]
    leaked = [name for name in names if any(prefix in name for prefix in FORBIDDEN)]
    # C symbols (not mangled): only the C API's, versioned. The raw listing
    # tells mangled names from C ones.
    raw = subprocess.run(["nm", "-D", "--defined-only", library], check=True, capture_output=True,
                         text=True).stdout
    for line in raw.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2].startswith("_Z"):
            continue
        if parts[1] == "A" and VERSION_NODE.fullmatch(parts[2]):
            continue
        if not C_SYMBOL.fullmatch(parts[2]):
            leaked.append(parts[2])
    missing = [want for want in REQUIRED if not any(want in name for name in names)]
    for name in leaked[:40]:
        print(f"exported but not public: {name}")
    for want in missing:
        print(f"public but not exported: {want}")
    print(f"{library}: {len(names)} exported symbols, {len(leaked)} internal ones, {len(missing)} public ones missing")
    return 1 if leaked or missing else 0


if __name__ == "__main__":
    sys.exit(main())
