#!/usr/bin/env bash
# make bench: every benchmark at several sizes, raw JSON under bench/results/,
# then BENCHMARKS.md and the plots under bench/plots/ regenerated from it.
# Every mount is made inside private namespaces the benchmarks create.
# Sizes can be cut for a quick look: BENCH_SIZES="0 1000" make bench
set -euo pipefail
build=${1:-build}
mntns="$build/bin/mntns"
results=bench/results
# 90,000 is about the largest: a namespace holds at most fs.mount-max (100,000) mounts.
sizes=(${BENCH_SIZES:-0 1000 10000 30000 90000})
mkdir -p "$results"
rm -f "$results"/*.json

progress() { echo "[make bench $(date +%T)] $*" >&2; }
started=$(date +%s)

# Namespace creation, per strategy and size (classic is slow at large M: fewer samples).
for m in "${sizes[@]}"; do
  progress "create: auto at M=$m"
  "$mntns" bench create --strategy auto --host-mounts "$m" --count 5000 --json >"$results/create-auto-w1-m$m.json"
  progress "create: auto, 2 workers, at M=$m"
  "$mntns" bench create --strategy auto --host-mounts "$m" --count 10000 --workers 2 --json \
    >"$results/create-auto-w2-m$m.json"
  classic_count=$(( m >= 10000 ? 20 : 300 ))
  progress "create: classic at M=$m ($classic_count namespaces)"
  "$mntns" bench create --strategy classic --host-mounts "$m" --count "$classic_count" --json \
    >"$results/create-classic-w1-m$m.json"
done

# Empty namespaces: the strategy at 0 and at M mounts and classic at M, in one run each.
for m in "${sizes[@]}"; do
  [ "$m" -gt 0 ] || continue
  progress "create --empty at M=$m"
  "$mntns" bench create --empty --strategy auto --host-mounts "$m" --count 2000 --json >"$results/empty-m$m.json"
done

# Reading the mount table. Medians of 15 runs: the multi-threaded contenders
# suffer most when this shared 2-core machine gets less than two cores for a
# while, and 5 runs moved ls --json's median by a fifth between make bench runs.
for m in "${sizes[@]}"; do
  [ "$m" -gt 0 ] || continue
  progress "ls: M=$m, private namespace"
  "$mntns" bench ls --host-mounts "$m" --runs 15 --json >"$results/ls-p0-m$m.json"
done
# In a slave namespace mountinfo walks each master's whole peer group per line.
# 100 groups of 100 binds barely show it; the same groups with a copy in 3 or 7
# more namespaces (containers holding the host's shared mounts: 400 or 800
# peers each) do, and so does one group of 10,000. findmnt's cost for 400 peers
# varied 175-740 ms between runs; 800 peers takes up to ~30 s of this script.
for copies in 3 7; do
  progress "ls: M=10000 in a slave namespace, 100 peer groups, $copies peer namespaces"
  "$mntns" bench ls --host-mounts 10000 --peers 100 --peer-namespaces "$copies" --runs 7 --json \
    >"$results/ls-p100-n$copies-m10000.json"
done
for peers in 100 1; do
  progress "ls: M=10000 in a slave namespace of $peers peer group(s)"
  "$mntns" bench ls --host-mounts 10000 --peers "$peers" --runs 7 --json >"$results/ls-p$peers-m10000.json"
done

# Following mount events: mntns watch against findmnt --poll on 10,000
# mount+umount pairs, then the live table (one statmount per fanotify event)
# against a re-read per event in a 30,000-mount table.
progress "watch: 10,000 mount+umount pairs, then the live table at M=30000"
"$mntns" bench watch --host-mounts 30000 --events 10000 --json >"$results/watch-m30000.json"

# StatmountByFd against statmount by id (Google Benchmark).
progress "statmount by fd"
"$build/bin/mntns_statmount_by_fd_bench" --benchmark_min_time=0.3 \
  --benchmark_out="$results/statmount_by_fd.json" --benchmark_out_format=json >&2

# The polyfill (#17): untrapped calls with and without its filter, a trapped
# open_tree(OPEN_TREE_NAMESPACE) against the library call and unshare + pivot_root.
progress "polyfill at M=10000"
"$mntns" bench polyfill --host-mounts 10000 --json >"$results/polyfill-m10000.json"

# Sandbox creation: mntns run against bwrap.
if [ -x bench/run_vs_bwrap.sh ]; then
  for m in "${sizes[@]}"; do
    progress "run vs bwrap: M=$m"
    bench/run_vs_bwrap.sh --mntns "$mntns" --mounts "$m" --classic --json "$results/run-m$m.json" >&2
  done
fi
# The same unprivileged (uid 65534, --unshare-user --unshare-pid): the per-user keeper.
if [ -x bench/run_vs_bwrap.sh ]; then
  progress "run vs bwrap, unprivileged: M=10000"
  bench/run_vs_bwrap.sh --mntns "$mntns" --mounts 10000 --unprivileged --json "$results/run-unprivileged-m10000.json" >&2
fi

# Many --bind options: bwrap against mntns's bwrap entry point (linear setup).
if [ -x bench/bwrap_binds.sh ]; then
  progress "bwrap entry: 200 and 2,000 --bind"
  bench/bwrap_binds.sh --mntns "$mntns" --json "$results/bwrap-binds.json" >&2
fi

progress "writing BENCHMARKS.md and bench/plots/"
python3 bench/report.py --results "$results" --markdown BENCHMARKS.md --plots bench/plots
progress "done in $(( $(date +%s) - started )) s"
