#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz (built into BUILD_DIR/bin by
# `make build-fuzz`) over its seed corpus: for a fixed number of inputs each
# (`make test`) or for a time each (`make fuzz`). New inputs go to a scratch
# corpus, never into tests/fuzz/corpus; a crash leaves its input in
# BUILD_DIR/crashes/ (turn it into a unit test, then fix). Prints one line per
# target and a summary line.
#   scripts/fuzz.sh BUILD_DIR --runs N | --seconds S
set -uo pipefail

build=${1:?usage: $0 BUILD_DIR --runs N|--seconds S}
mode=${2:-}
amount=${3:-}
case "$mode" in
  --runs) limit=(-runs="$amount") ;;
  --seconds) limit=(-max_total_time="$amount") ;;
  *) echo "usage: $0 BUILD_DIR --runs N|--seconds S" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
# Symbolized reports (clang 16's symbolizer is not on PATH).
for symbolizer in /usr/lib/llvm-16/bin/llvm-symbolizer; do
  [ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/crashes"
status=0
total=0
targets=0
for binary in "$build"/bin/fuzz_*; do
  target=${binary##*/fuzz_}
  seeds="$root/tests/fuzz/corpus/$target"
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  # -rss_limit_mb: the parsers' memory is bounded; -timeout: no input may hang.
  if "$binary" "${limit[@]}" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$build/crashes/$target-" "$scratch/$target" "$seeds" >"$log" 2>&1; then
    verdict=ok
  else
    verdict=FAILED
    status=1
    tail -n 40 "$log"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  runs=${runs:-0}
  total=$((total + runs))
  targets=$((targets + 1))
  echo "fuzz: $target: $runs inputs, $verdict"
done
if [ "$targets" -eq 0 ]; then
  echo "fuzz: no targets in $build/bin (make build-fuzz)" >&2
  exit 1
fi
echo "==> fuzz iterations: $total inputs over $targets targets, $([ $status -eq 0 ] && echo "no crash" || echo "CRASHES in $build/crashes")"
exit $status
