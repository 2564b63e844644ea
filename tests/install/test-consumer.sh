#!/usr/bin/env bash
# install.consumer: cmake --install into a scratch prefix, then a consumer
# project must build and run against it, via CMake and via pkg-config.
set -euo pipefail
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix="$scratch/prefix"

cmake --install "$BUILD_DIR" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/mntns"
test -f "$prefix/include/mntns/query.h"
ls "$prefix"/lib*/libmntns.a "$prefix"/lib*/libmntns.so >/dev/null

cmake -S "$CONSUMER_DIR" -B "$scratch/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$scratch/build" >/dev/null
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64" "$scratch/build/consumer" | grep -q '^kernel=.* root=/$'
"$scratch/build/consumer_static" | grep -q '^kernel=.* root=/$'

pcdir=$(dirname "$(ls "$prefix"/lib*/pkgconfig/mntns.pc)")
# shellcheck disable=SC2046
g++ -std=c++23 -o "$scratch/pc-consumer" "$CONSUMER_DIR/main.cc" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs mntns)
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64" "$scratch/pc-consumer" | grep -q '^kernel=.* root=/$'

# C users (#18): the C API header, the example runtime built with plain cc and
# with a C-only CMake project, both run: pre-opened binds, a device node and
# proc attached in the namespace made from the rootfs, the command's status
# passed on. It mounts only in that new namespace; unshare keeps even the
# detached clones out of the test's own.
test -f "$prefix/include/mntns/mntns.h"
example="$EXAMPLES_DIR/crun_start.c"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -pedantic -o "$scratch/crun-pc" "$example" \
  $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs mntns)
cmake -S "$CONSUMER_DIR/../consumer-c" -B "$scratch/build-c" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DMNTNS_EXAMPLE="$example" >/dev/null
cmake --build "$scratch/build-c" >/dev/null
rootfs="$scratch/rootfs"
mkdir "$rootfs"
for dir in bin lib lib64 sbin; do
  if [ -L "/$dir" ]; then ln -s "$(readlink "/$dir")" "$rootfs/$dir"; fi
done
for runtime in "$scratch/crun-pc" "$scratch/build-c/crun_start"; do
  status=0
  LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64" unshare --mount --propagation private \
    "$runtime" -r /usr:/usr -d null -p "$rootfs" -- /bin/sh -c \
    'test -c /dev/null && test -d /proc/self && test ! -e /work && exit 7' 2>"$scratch/err" || status=$?
  if [ "$status" -ne 7 ]; then
    echo "install.consumer: $runtime exited $status, not 7:" >&2
    cat "$scratch/err" >&2
    exit 1
  fi
done
echo "install.consumer: find_package(mntns) and pkg-config consumers (C++ and C) built and ran"
