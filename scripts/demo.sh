#!/bin/sh
# make demo: the main job, on a default that needs no input.
#   1. mntns run: a sandbox with the host's /usr read-only (and the usual
#      /bin, /lib, /lib64, /sbin symlinks), /proc, /dev and a tmpfs /tmp; the
#      command inside is mntns itself, printing the sandbox's own mount table.
#   2. Sandbox creation side by side at 10,000 host mounts: mntns run, its
#      classic strategy (unshare + pivot_root) and bwrap. The mounts live in a
#      private namespace that bench/run_vs_bwrap.sh creates, never in yours.
#   Between them: mntns under the name bwrap running a desktop-sandbox command line.
# Usage: scripts/demo.sh [BUILD_DIR]   (needs root; about 15-30 s)
set -eu
BUILD=${1:-build}
MNTNS=$(realpath "$BUILD/bin/mntns")
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "demo: run as root (mntns run builds mount namespaces; the rest of mntns works without)" >&2
  exit 1
fi

echo "== mntns run: a minimal sandbox, built with fsopen/fsmount, open_tree and move_mount only"
echo "\$ mntns run --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \\"
echo "    --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --proc /proc --dev /dev --tmpfs /tmp \\"
echo "    --ro-bind $MNTNS /opt/mntns --unshare-pid -- /opt/mntns ls --tree -o TARGET,SOURCE,FSTYPE,OPTIONS"
"$MNTNS" run --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
  --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --proc /proc --dev /dev --tmpfs /tmp \
  --ro-bind "$MNTNS" /opt/mntns --unshare-pid -- /opt/mntns ls --tree -o TARGET,SOURCE,FSTYPE,OPTIONS
echo
echo "== the same sandbox as nobody, in a user namespace (uid 1000 inside, no capabilities)"
setpriv --reuid=65534 --regid=65534 --clear-groups -- "$MNTNS" run --unshare-user --uid 1000 --gid 1000 \
  --unshare-pid --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
  --symlink usr/lib64 /lib64 --proc /proc --dev /dev --chdir / -- /bin/sh -c \
  'echo "  inside: $(id), pid $$"; grep CapEff /proc/self/status | sed "s/^/  /"'
echo
echo "== mntns as bwrap: a desktop-sandbox command line (build/bin/bwrap/bwrap -> mntns)"
BWRAP=$(dirname "$MNTNS")/bwrap/bwrap
echo "\$ bwrap --unshare-all --share-net --die-with-parent --new-session --ro-bind /usr /usr \\"
echo "    --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev \\"
echo "    --tmpfs /tmp --perms 0700 --dir /run/user/1000 --uid 1000 --gid 1000 --setenv HOME /tmp \\"
echo "    --file 3 /etc/passwd --info-fd 4 -- /bin/sh -c ...   3<(passwd line) 4>(info)"
info=$(mktemp)
printf 'user:x:1000:1000::/tmp:/bin/sh\n' | "$BWRAP" --unshare-all --share-net --die-with-parent --new-session \
  --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
  --proc /proc --dev /dev --tmpfs /tmp --perms 0700 --dir /run/user/1000 --uid 1000 --gid 1000 \
  --setenv HOME /tmp --file 3 /etc/passwd --info-fd 4 -- /bin/sh -c \
  'echo "  inside: $(id), pid $$, HOME=$HOME"; ls -ld /run/user/1000 | sed "s/^/  /"' 3<&0 4>"$info"
sed 's/^/  info-fd: /' "$info"
rm -f "$info"
echo

echo "== sandbox creation + /bin/true, side by side (10,000 host mounts in a private namespace)"
if command -v bwrap >/dev/null; then
  bench/run_vs_bwrap.sh --mntns "$MNTNS" --mounts 10000 --runs 20 --bwrap-runs 3 --classic
else
  echo "(bwrap is not installed: apt-get install bubblewrap)"
fi
echo
echo "== mntns polyfill: an unmodified C program that calls open_tree(OPEN_TREE_NAMESPACE) (Linux 7.0+)"
EXAMPLE=$(realpath "$BUILD/bin/mntns_example_open_tree_namespace")
# A tmpfs with a file and a submount, in a private namespace of the demo's own.
unshare --mount --propagation private sh -c '
  mount -t tmpfs demo-tree /mnt && touch /mnt/hello && mkdir /mnt/sub && mount -t tmpfs demo-sub /mnt/sub
  echo "\$ open_tree_namespace /mnt                    # the bare kernel ($(uname -r))"
  "$1" /mnt
  echo "\$ mntns polyfill -- open_tree_namespace /mnt"
  "$2" polyfill -- "$1" /mnt' demo "$EXAMPLE" "$MNTNS" || true
echo "(docs/polyfill.md: what is trapped, how it is answered, where it differs from 7.2)"
echo
echo "More: $MNTNS run --help, docs/run.md, docs/polyfill.md, README.md"
