#!/usr/bin/env python3
"""Fails if cli/ or bench/ includes a header of the library's internals (src/).

The CLI and the benchmarks are clients of the public API, include/mntns/, like
any program using libmntns: what they need, a program needs too (#14). A quoted
include must name a public header ("mntns/tree.h") or one of the folder's own
(cli/ or bench/, relative to that folder's root or to the including file); an
angle-bracket include must not name a file under src/. The build enforces the
same for cli/ (src/ is not on its include path); this check also covers
bench/ and says which line broke the rule. There are no exceptions:
white-box benchmarks live under tests/ (tests/bench/).

usage: check-public-includes.py [SOURCE_ROOT]
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)
FOLDERS = ("cli", "bench")


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    public = root / "include"
    internal = root / "src"
    problems = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cc", ".h"):
                continue
            name = path.relative_to(root).as_posix()
            text = path.read_text(errors="replace")
            for match in INCLUDE.finditer(text):
                quote, header = match.groups()
                line = text.count("\n", 0, match.start()) + 1
                if quote == '"':
                    if header.startswith("mntns/") and (public / header).is_file():
                        continue
                    if (root / folder / header).is_file() or (path.parent / header).is_file():
                        continue
                elif not (internal / header).is_file():
                    continue  # a system or third-party header
                where = "an internal header (src/)" if (internal / header).is_file() else "not a public header"
                problems.append(f"{name}:{line}: includes {quote}{header}{'>' if quote == '<' else quote}: {where}")
    for problem in problems:
        print(problem)
    print(f"cli/ and bench/ includes outside the public API: {len(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
