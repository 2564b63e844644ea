#!/usr/bin/env bash
# install.bwrap_layout: cmake --install puts the bwrap entry point in a
# directory of its own: libexec/mntns/bwrap/mntns-bwrap (a relative link to
# bin/mntns) and bwrap beside it, so that the prefix moves as a whole
# (DESTDIR, relocation) and that directory can go first in PATH.
set -euo pipefail
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix="$scratch/prefix"

cmake --install "$BUILD_DIR" --prefix "$prefix" >/dev/null
dir="$prefix/libexec/mntns/bwrap"
test -L "$dir/mntns-bwrap"
test -L "$dir/bwrap"
case "$(readlink "$dir/mntns-bwrap")" in /*) echo "mntns-bwrap links to an absolute path" >&2; exit 1 ;; esac
test "$(readlink -f "$dir/bwrap")" = "$(readlink -f "$prefix/bin/mntns")"
"$dir/bwrap" --version | grep -q '^bubblewrap 0\.13\.1 (mntns '
"$dir/mntns-bwrap" --help | head -1 | grep -q "^usage: $dir/mntns-bwrap \[OPTIONS...\] \[--\] COMMAND \[ARGS...\]$"
# Moved elsewhere (a relocated prefix), the links still resolve.
mv "$prefix" "$scratch/moved"
"$scratch/moved/libexec/mntns/bwrap/bwrap" --version | grep -q '^bubblewrap '
echo "install.bwrap_layout: libexec/mntns/bwrap/{mntns-bwrap,bwrap} -> bin/mntns"
