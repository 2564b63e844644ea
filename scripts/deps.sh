#!/usr/bin/env bash
# Installs exactly the Debian 12 packages mntns builds, tests and benchmarks with.
# Idempotent and fast when everything is present: apt is only called for what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config   # toolchain
  libcli11-dev nlohmann-json3-dev libfmt-dev       # CLI parsing, JSON, formatting
  libgtest-dev libgmock-dev libbenchmark-dev       # tests and micro-benchmarks
  qemu-system-x86 cpio xz-utils zstd               # the 7.x kernel matrix (tests/vm)
  util-linux bubblewrap gnuplot-nox python3        # baselines (findmnt, unshare, bwrap), report and plots
  clang-16 libclang-rt-16-dev                      # libFuzzer targets (tests/fuzz; clang 16 for <expected>)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
