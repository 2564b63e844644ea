#!/bin/sh
# Measures the namespace-creation targets side by side in one run and prints
# the ratios (issue 4). Usage: bench/create.sh [path/to/mntns]
#   1. M=10,000: classic p50 / auto p50           (target >= 100)
#   2. auto p50 at M=30,000 / auto p50 at M=0     (target <= 1.2)
#   3. 2 workers, auto, at M=0/10,000/30,000      (target >= 10,000/s each; also with
#      --reaper: the closes, which wait for the kernel's teardown, on a third thread)
#   4. on 7.x: native p50 / bare open_tree(OPEN_TREE_NAMESPACE) p50 (target <= 1.1)
# Needs root. Every mount is made inside a private namespace of mntns' own.
set -eu
MNTNS=${1:-build/bin/mntns}
COUNT=${COUNT:-5000}
CLASSIC_COUNT=${CLASSIC_COUNT:-30}

run() { "$MNTNS" bench create --json "$@"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }

auto_10k=$(run --strategy auto --host-mounts 10000 --count "$COUNT")
classic_10k=$(run --strategy classic --host-mounts 10000 --count "$CLASSIC_COUNT")
echo "$auto_10k"; echo "$classic_10k"
echo "ratio classic/auto p50 at M=10000: $(ratio "$(field "$classic_10k" p50_us)" "$(field "$auto_10k" p50_us)") (target >= 100)"

auto_0=$(run --strategy auto --host-mounts 0 --count "$COUNT")
auto_30k=$(run --strategy auto --host-mounts 30000 --count "$COUNT")
echo "$auto_0"; echo "$auto_30k"
echo "ratio auto p50 M=30000/M=0: $(ratio "$(field "$auto_30k" p50_us)" "$(field "$auto_0" p50_us)") (target <= 1.2)"

for m in 0 10000 30000; do
  two=$(run --strategy auto --host-mounts "$m" --count $((COUNT * 2)) --workers 2)
  echo "$two"
  echo "auto, 2 workers, M=$m: $(field "$two" per_second) namespaces/s (target >= 10000)"
  reaped=$(run --strategy auto --host-mounts "$m" --count $((COUNT * 2)) --workers 2 --reaper)
  echo "$reaped"
  echo "auto, 2 workers + a reaper thread closing, M=$m: $(field "$reaped" per_second) namespaces/s"
done

if [ "$(field "$auto_0" strategy)" = native ]; then
  # Alternated in one process: separate runs differ by more than 10% under TCG.
  both=$(run --strategy native --against-raw --count "$COUNT")
  echo "$both"
  echo "ratio native/raw p50: $(field "$both" ratio_to_raw) (target <= 1.1)"
fi
