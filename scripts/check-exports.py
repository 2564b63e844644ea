#!/usr/bin/env python3
"""Checks the dynamic symbol table of libmntns.so: the public API, and nothing
of mntns::internal, mntns::sys or mntns::cli (hidden visibility, MNTNS_EXPORT).

usage: check-exports.py LIBMNTNS_SO
"""
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
)


def main() -> int:
    library = sys.argv[1]
    listing = subprocess.run(["nm", "-D", "--defined-only", "-C", library], check=True, capture_output=True,
                             text=True).stdout
    names = [line.split(" ", 2)[2] for line in listing.splitlines() if line.count(" ") >= 2]
    leaked = [name for name in names if any(prefix in name for prefix in FORBIDDEN)]
    missing = [want for want in REQUIRED if not any(want in name for name in names)]
    for name in leaked[:40]:
        print(f"exported but not public: {name}")
    for want in missing:
        print(f"public but not exported: {want}")
    print(f"{library}: {len(names)} exported symbols, {len(leaked)} internal ones, {len(missing)} public ones missing")
    return 1 if leaked or missing else 0


if __name__ == "__main__":
    sys.exit(main())
