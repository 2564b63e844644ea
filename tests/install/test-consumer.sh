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
g++ -o "$scratch/pc-consumer" "$CONSUMER_DIR/main.cc" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs mntns)
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib64" "$scratch/pc-consumer" | grep -q '^kernel=.* root=/$'
echo "install.consumer: find_package(mntns) and pkg-config consumers built and ran"
