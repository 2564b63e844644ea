#!/usr/bin/env bash
# Finds, downloads and caches the newest Debian sid cloud kernel (Linux 7.x or later) so that
# tests/vm/mntns-vm-run can boot it under QEMU. Prints the path of the kernel to boot.
#
#   fetch-kernel.sh            print the kernel image path (raw vmlinux when extractable)
#   fetch-kernel.sh --info     print key=value lines: kernel, bzimage, modules, release, package
#   fetch-kernel.sh --refresh  ask the archive for a newer kernel even if the cache is fresh
#
# Only a scratch apt configuration under the cache directory is used: /etc/apt, the system's
# package lists and the dpkg database are never written, and no sid package is installed.
# Without network the newest cached kernel is used (with a warning); without both it fails.
#
# Environment:
#   MNTNS_VM_CACHE          cache directory (default ~/.cache/mntns-vm)
#   MNTNS_VM_MAX_AGE_DAYS   ask the archive again after this many days (default 7); after a
#                           failed attempt, not again for an hour
#   MNTNS_VM_MIRROR         Debian mirror URL (default: the host's own Debian mirror)
set -euo pipefail

me=fetch-kernel.sh
die() { echo "$me: error: $*" >&2; exit 1; }
note() { echo "$me: $*" >&2; }

mode=path
refresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --info) mode=info ;;
    --refresh) refresh=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

cache=${MNTNS_VM_CACHE:-${HOME:-/root}/.cache/mntns-vm}
max_age_days=${MNTNS_VM_MAX_AGE_DAYS:-7}
mkdir -p "$cache/kernels" || die "cannot create cache directory $cache"

# Concurrent test processes (ctest -j) share the cache: one fetch at a time.
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

# The kernel directory recorded by the last successful fetch, if it is still complete.
cached_dir() {
  local d
  [ -f "$cache/current" ] || return 1
  d=$(cat "$cache/current")
  [ -n "$d" ] && [ -f "$cache/kernels/$d/.complete" ] || return 1
  echo "$cache/kernels/$d"
}

is_fresh() {
  [ -n "$(find "$cache/current" -mmin -$((max_age_days * 24 * 60)) 2>/dev/null)" ]
}

mirror_url() {
  local url=""
  if [ -n "${MNTNS_VM_MIRROR:-}" ]; then
    echo "${MNTNS_VM_MIRROR%/}"; return
  fi
  # deb822 sources first (Debian 12 default), then the one-line format.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    url=$(awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' \
            /etc/apt/sources.list.d/debian.sources | grep -v -- '-security' | head -n1 || true)
  fi
  if [ -z "$url" ] && [ -f /etc/apt/sources.list ]; then
    url=$(awk '$1=="deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' \
            /etc/apt/sources.list | grep -v -- '-security' | head -n1 || true)
  fi
  # A bookworm mirror URL ends in /debian; sid lives under the same path.
  url=${url:-http://deb.debian.org/debian}
  echo "${url%/}"
}

# Extracts the raw ELF vmlinux from a bzImage, as the kernel's scripts/extract-vmlinux does:
# find each compression magic, decompress from there, keep the first result that is ELF.
extract_vmlinux() {
  local img=$1 out=$2 tmp=$2.tmp pos magic tool
  for spec in "xz -dcq:fd377a585a00" "zstd -dcq:28b52ffd" "gzip -dcq:1f8b0800" \
              "lzma -dcq:5d000000"; do
    tool=${spec%%:*}; magic=${spec##*:}
    command -v "${tool%% *}" >/dev/null || continue
    for pos in $(od -An -v -tx1 "$img" | tr -d ' \n' | grep -ob "$magic" | cut -d: -f1); do
      [ $((pos % 2)) -eq 0 ] || continue        # a hex digit pair, not a split byte
      tail -c +$((pos / 2 + 1)) "$img" | $tool > "$tmp" 2>/dev/null || true
      if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
        mv "$tmp" "$out"; return 0
      fi
    done
  done
  rm -f "$tmp"
  return 1
}

# The bzImage of an unpacked kernel: usr/lib/modules/REL/vmlinuz in Debian's 7.x packages,
# boot/vmlinuz-REL in older ones.
find_bzimage() {
  # shellcheck disable=SC2012  # our own directory; the first match is all we need
  ls "$1"/root/usr/lib/modules/*/vmlinuz "$1"/root/lib/modules/*/vmlinuz \
     "$1"/root/boot/vmlinuz-* 2>/dev/null | head -n1 || true
}

print_result() {
  local dir=$1 bz kernel modules release
  bz=$(find_bzimage "$dir")
  [ -n "$bz" ] || die "no vmlinuz in $dir"
  case "$bz" in
    */boot/vmlinuz-*) release=${bz##*/vmlinuz-} ;;
    *) release=$(basename "$(dirname "$bz")") ;;
  esac
  kernel=$bz
  [ -f "$dir/vmlinux" ] && kernel=$dir/vmlinux
  modules=$dir/root/usr/lib/modules/$release
  [ -d "$modules" ] || modules=$dir/root/lib/modules/$release
  if [ "$mode" = info ]; then
    echo "kernel=$kernel"
    echo "bzimage=$bz"
    echo "modules=$modules"
    echo "release=$release"
    echo "package=$(cat "$dir/.package")"
  else
    echo "$kernel"
  fi
}

# An archive that failed to answer is not asked again for an hour: every test binary would
# otherwise wait for apt's network timeouts before falling back to the cache.
recently_failed() {
  [ -n "$(find "$cache/.last-failed-update" -mmin -60 2>/dev/null)" ]
}

current=$(cached_dir || true)
if [ -n "$current" ] && [ "$refresh" = 0 ] && { is_fresh || recently_failed; }; then
  is_fresh || note "warning: the archive failed within the last hour; using the cached kernel"
  print_result "$current"
  exit 0
fi

# Either nothing is cached, the cache is old, or a refresh was asked for: ask the archive.
offline_fallback() {
  touch "$cache/.last-failed-update"
  if [ -n "$current" ]; then
    note "warning: $1; using the cached kernel $(basename "$current")"
    print_result "$current"
    exit 0
  fi
  die "$1, and no kernel is cached in $cache"
}

for tool in apt-get apt-cache dpkg-deb; do
  command -v $tool >/dev/null || offline_fallback "$tool not found (Debian's apt is required)"
done

apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/download"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || offline_fallback "$keyring not found (install debian-archive-keyring)"
echo "deb [signed-by=$keyring] $(mirror_url) sid main" > "$apt_dir/sources.list"
: > "$apt_dir/status"
apt_opts=(
  -o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
  -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
  -o Dir::State::status="$apt_dir/status"
  -o Acquire::Check-Valid-Until=false -o Acquire::Languages=none
  -o Acquire::Retries=2 -o Acquire::http::Timeout=30
  -o APT::Sandbox::User=root -o Debug::NoLocking=true
)

note "asking $(mirror_url) for the newest sid cloud kernel"
if ! apt-get "${apt_opts[@]}" -qq update > "$apt_dir/update.log" 2>&1 \
   || grep -qE '^(E:|W: Failed to fetch|W: Some index files)' "$apt_dir/update.log"; then
  sed 's/^/  /' "$apt_dir/update.log" >&2
  offline_fallback "apt-get update of Debian sid failed (network or mirror problem, log above)"
fi

# linux-image-7.2.13+deb14-cloud-amd64 etc.; not the -unsigned or -dbg variants.
pkg=$(apt-cache "${apt_opts[@]}" pkgnames linux-image- \
        | grep -E '^linux-image-[7-9][0-9]*\.[0-9.]+[^ ]*-cloud-amd64$' | sort -V | tail -n1 || true)
[ -n "$pkg" ] || offline_fallback "Debian sid has no linux-image-[7-9]*-cloud-amd64 package"
version=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg" \
            | awk '/^Version:/ { print $2; exit }')
[ -n "$version" ] || offline_fallback "apt-cache knows no version of $pkg"
name=${pkg}_${version//:/%3a}
dir=$cache/kernels/$name

if [ ! -f "$dir/.complete" ]; then
  # Since 7.x Debian splits the kernel: linux-image-ABI is a small package that depends on
  # linux-binary-ABI (boot/vmlinuz), linux-modules-ABI and linux-base-ABI. Older kernels ship
  # everything in linux-image-ABI. Fetch the package and all its same-ABI dependencies.
  abi=${pkg#linux-image-}
  debs=("$pkg=$version")
  for dep in $(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg" \
                 | sed -n 's/^Depends: //p' | tr ',|' '\n' | awk '{ print $1 }' \
                 | grep -F -- "-$abi" | grep -vxF "$pkg" | sort -u); do
    debs+=("$dep=$version")
  done
  note "downloading ${debs[*]}"
  rm -rf "$apt_dir/download" && mkdir -p "$apt_dir/download"
  if ! (cd "$apt_dir/download" && apt-get "${apt_opts[@]}" -qq download "${debs[@]}") \
       > "$apt_dir/download.log" 2>&1; then
    sed 's/^/  /' "$apt_dir/download.log" >&2
    offline_fallback "download of ${debs[*]} failed (log above)"
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  for deb in "$apt_dir"/download/*.deb; do
    [ -f "$deb" ] || offline_fallback "apt-get download of ${debs[*]} left no .deb"
    dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb -x $deb failed"
    rm -f "$deb"
  done
  echo "$pkg $version" > "$dir/.package"
  bz=$(find_bzimage "$dir")
  [ -n "$bz" ] || die "${debs[*]} contain no vmlinuz"
  # The raw vmlinux boots about 1 s faster under TCG (no in-guest decompression).
  extract_vmlinux "$bz" "$dir/vmlinux" || note "could not extract vmlinux; booting the bzImage"
  touch "$dir/.complete"
fi
echo "$name" > "$cache/current.tmp" && mv "$cache/current.tmp" "$cache/current"
rm -f "$cache/.last-failed-update"

# Keep the current kernel and the one before it; drop older ones.
# shellcheck disable=SC2010  # kernel directory names are package_version, no odd characters
for old in $(ls -1t "$cache/kernels" | grep -vxF "$name" | tail -n +2 || true); do
  rm -rf "${cache:?}/kernels/$old"
done

print_result "$dir"
