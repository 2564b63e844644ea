#!/usr/bin/env python3
"""Fails if a raw system call for mounts or namespaces appears outside src/sys.

STYLE.md: src/sys is the only code that issues raw syscalls, so that errno is
captured and named in one place (and one seam can inject failures there).
Scans src/, cli/ and bench/ (tests may call the kernel directly), with
comments and string literals blanked out first.
"""
import pathlib
import re
import sys

CALL = re.compile(r"(?<![\w.>])(?:::)?\s*(syscall|mount|umount2?|setns|unshare|ioctl)\s*\(")
LITERAL_OR_COMMENT = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def blank(match: re.Match) -> str:
    # Keep newlines so that line numbers stay right.
    return "".join("\n" if c == "\n" else " " for c in match.group(0))


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    hits = []
    for folder in ("src", "cli", "bench"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".cc", ".h") or (root / "src" / "sys") in path.parents:
                continue
            code = LITERAL_OR_COMMENT.sub(blank, path.read_text(errors="replace"))
            for number, line in enumerate(code.splitlines(), 1):
                for call in CALL.finditer(line):
                    hits.append(f"{path.relative_to(root)}:{number}: raw {call.group(1)}() outside src/sys")
    for hit in hits:
        print(hit)
    print(f"raw mount/namespace syscalls outside src/sys: {len(hits)}")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
