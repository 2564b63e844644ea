#!/usr/bin/env python3
"""The C API's ABI against its record (tests/capi/mntns-c.abi): the mntns_
symbols libmntns.so exports with their versions, the functions mntns.h
declares, and the layout of every public struct (from tests/capi/abi_layout.c).

Any difference fails: a removed or changed line breaks programs built against
an older libmntns.so; an added one is fine, but goes into the record (and a
new version node of src/capi/mntns.map once MNTNS_1.0 has shipped) on purpose.

usage: check-abi.py RECORD LIBMNTNS_SO MNTNS_H LAYOUT_PROGRAM
       check-abi.py --print LIBMNTNS_SO MNTNS_H LAYOUT_PROGRAM   (the current ABI, for a new record)
"""
import re
import subprocess
import sys


def exported(library):
    listing = subprocess.run(["nm", "-D", "--defined-only", library], check=True, capture_output=True,
                             text=True).stdout
    lines = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[2].startswith("_Z"):
            continue  # C++ symbols: unversioned, not part of the C ABI
        if parts[1] == "A" and re.fullmatch(r"MNTNS_[0-9.]+", parts[2]):
            continue  # a version node's own symbol
        name, _, version = parts[2].partition("@@")
        if not version:
            name, _, version = parts[2].partition("@")
        lines.append(f"symbol {version or '(unversioned)'} {name}")
    return lines


def declared(header):
    text = open(header, encoding="utf-8").read()
    names = re.findall(r"MNTNS_C_EXPORT[^;{]*?\b(mntns_\w+)\s*\(", text)
    return [f"symbol MNTNS_1.0 {name}" for name in names]


def layout(program):
    return subprocess.run([program], check=True, capture_output=True, text=True).stdout.splitlines()


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    record_path, library, header, program = argv[1:]
    actual = sorted(set(exported(library))) + layout(program)
    if record_path == "--print":
        print("\n".join(actual))
        return 0
    record = [line.strip() for line in open(record_path, encoding="utf-8")
              if line.strip() and not line.startswith("#")]
    failures = 0
    for line in record:
        if line not in actual:
            print(f"in the record, not in the build (an ABI break): {line}")
            failures += 1
    for line in actual:
        if line not in record:
            print(f"in the build, not in the record (add it on purpose): {line}")
            failures += 1
    symbols = {line for line in actual if line.startswith("symbol ")}
    for line in sorted(set(declared(header)) ^ symbols):
        side = "declared in mntns.h but not exported" if line not in symbols else "exported but not declared in mntns.h"
        print(f"{side}: {line}")
        failures += 1
    print(f"{library}: {len(symbols)} C symbols, {len(actual) - len(symbols)} layout lines, {failures} differences "
          f"from {record_path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
