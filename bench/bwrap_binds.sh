#!/bin/sh
# Many --bind options, side by side: Debian's bwrap against mntns's bwrap entry
# point (issue 15 targets: at 2,000 binds bwrap/mntns >= 20x, and mntns's time
# for 2,000 binds <= 12x its time for 200, i.e. linear). bwrap re-reads
# /proc/self/mountinfo after each bind, so its setup grows with the square of
# the count; mntns attaches each detached clone with one move_mount.
# Everything runs inside a private mount namespace this script creates.
#
# Usage: bench/bwrap_binds.sh [--mntns PATH] [--small N] [--large N] [--runs N] [--bwrap-runs N] [--json FILE]
# Prints per-run medians (ms) and the two ratios. Needs root, bwrap, python3.
set -eu
MNTNS=build/bin/mntns
SMALL=200
LARGE=2000
RUNS=5
BWRAP_RUNS=1
JSON=
while [ $# -gt 0 ]; do
  case "$1" in
    --mntns) MNTNS=$2; shift 2 ;;
    --small) SMALL=$2; shift 2 ;;
    --large) LARGE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --bwrap-runs) BWRAP_RUNS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "bwrap_binds.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
MNTNS=$(realpath "$MNTNS")
command -v bwrap >/dev/null || { echo "bwrap_binds.sh: bwrap is not installed (apt-get install bubblewrap)" >&2; exit 2; }

exec unshare -m --propagation private python3 - "$MNTNS" "$SMALL" "$LARGE" "$RUNS" "$BWRAP_RUNS" "$JSON" <<'PY'
import json, os, shutil, statistics, subprocess, sys, tempfile, time

mntns, small, large, runs, bwrap_runs, json_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
# The entry point is mntns under the name bwrap: a link in a scratch directory.
scratch = tempfile.mkdtemp(prefix="mntns-bwrap-binds-")
try:
    ours = os.path.join(scratch, "bwrap")
    os.symlink(mntns, ours)
    sources = os.path.join(scratch, "src")
    os.mkdir(sources)
    for i in range(large):
        os.mkdir(os.path.join(sources, str(i)))

    def command(bwrap, n):
        args = [bwrap, "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/bin", "/bin", "--tmpfs", "/d"]
        for i in range(n):
            args += ["--bind", os.path.join(sources, str(i)), f"/d/{i}"]
        return args + ["--", "/bin/true"]

    def median_ms(args, count):
        times = []
        for _ in range(count):
            start = time.perf_counter()
            subprocess.run(args, check=True)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    results = {}
    for n in (small, large):
        results[f"mntns_{n}"] = median_ms(command(ours, n), runs)
        results[f"bwrap_{n}"] = median_ms(command("bwrap", n), bwrap_runs)
finally:
    shutil.rmtree(scratch)

for n in (small, large):
    print(f"{n:5d} binds: bwrap {results[f'bwrap_{n}']:9.1f} ms   mntns {results[f'mntns_{n}']:7.1f} ms   "
          f"bwrap/mntns {results[f'bwrap_{n}'] / results[f'mntns_{n}']:6.1f}x")
print(f"mntns {large}/{small} binds: {results[f'mntns_{large}'] / results[f'mntns_{small}']:.1f}x "
      f"(linear: {large / small:.0f}x; target <= 12x)")
print(f"bwrap/mntns at {large} binds: {results[f'bwrap_{large}'] / results[f'mntns_{large}']:.1f}x (target >= 20x)")
if json_path:
    with open(json_path, "w") as f:
        json.dump({"small": small, "large": large, **results}, f, indent=2)
PY
