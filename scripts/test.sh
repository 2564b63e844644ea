#!/usr/bin/env bash
# Runs the test parts named on the command line (host, asan, vm) and fails if
# the mount table of the namespace it was started in changed meanwhile: every
# test must do its mount work in namespaces it creates (STYLE.md rule 10).
set -uo pipefail

build=build
asan_build=build-asan
fuzz_build=build-fuzz
fuzz_runs=20000
tsan_build=build-tsan
tsan_seconds=30
parts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --asan-build) asan_build=$2; shift 2 ;;
    --fuzz-build) fuzz_build=$2; shift 2 ;;
    --fuzz-runs) fuzz_runs=$2; shift 2 ;;
    --tsan-build) tsan_build=$2; shift 2 ;;
    host|asan|fuzz|tsan|vm) parts+=("$1"); shift ;;
    *) echo "usage: $0 [--build DIR] [--asan-build DIR] [--fuzz-build DIR] [--fuzz-runs N] [--tsan-build DIR] host|asan|fuzz|tsan|vm..." >&2; exit 2 ;;
  esac
done

jobs=$(nproc)
# The mount table as seen from here, without the mount ids' volatile parts: a
# snapshot is compared line by line, so any added, removed or changed mount shows.
snapshot() { cat /proc/self/mountinfo; }
before=$(mktemp)
after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot >"$before"

status=0
run_part() {
  local name=$1; shift
  echo "==> $name: $*"
  if ! "$@"; then
    echo "==> $name: FAILED"
    status=1
  fi
}

for part in "${parts[@]}"; do
  case "$part" in
    host)
      # The hardening suites write their figures there (tests/fault).
      rm -rf "$build/hardening"
      run_part "host tests ($build)" ctest --test-dir "$build" -L host -j "$jobs" --output-on-failure ;;
    # halt_on_error: the first race fails the run, with its report.
    tsan) run_part "ThreadSanitizer stress, $tsan_seconds s ($tsan_build)" \
            env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$tsan_build/bin/mntns_namespace_stress" "$tsan_seconds" ;;
    fuzz) run_part "fuzz targets, $fuzz_runs inputs each ($fuzz_build)" scripts/fuzz.sh "$fuzz_build" --runs "$fuzz_runs" ;;
    # The feature-profile reruns (profile.*) are left to the plain build: they
    # run the same code as the per-case host tests, minus a few branches.
    asan) run_part "host tests under ASan+UBSan ($asan_build)" \
            env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            ctest --test-dir "$asan_build" -L host -E '^(install|profile)\.' -j "$jobs" --output-on-failure ;;
    vm)
      if [ "${MNTNS_SKIP_VM:-0}" = 1 ]; then
        echo "******************************************************************************"
        echo "*** VM tests SKIPPED because MNTNS_SKIP_VM=1: the 7.x native paths were NOT tested ***"
        echo "******************************************************************************"
      fi
      run_part "the same suites in a Linux 7.x VM, plain and as 7.0 and 6.18 (feature profiles)" ctest --test-dir "$build" -L vm -j "$jobs" --output-on-failure ;;
  esac
done

# Process races name their kill targets (mntns, sandboxes, keepers) in the line.
if [ -e "$build/hardening/process-races.summary" ]; then
  sed 's/^/==> /' "$build/hardening/process-races.summary"
fi
# Hostile input (tests/hostile): one line per kind, and their cases summed.
if [ -e "$build/hardening/hostile.summary" ]; then
  sed 's/^/==> /' "$build/hardening/hostile.summary"
  awk -F': ' '{ split($2, n, " "); cases += n[1]; kinds++ } /FAILED/ { failed++ }
    END { printf "==> hostile input: %d cases over %d kinds, %s\n", cases, kinds,
          failed ? failed " kinds FAILED" : "each contained or a clear error" }' "$build/hardening/hostile.summary"
fi
# The fault-injection walk's figures (tests/fault), summed into one line for
# CI logs (fuzz and TSan print theirs above); per operation in the file.
if [ -e "$build/hardening/fault-injection.summary" ]; then
  awk -F': ' '{ split($3, n, " "); points += n[1]; returned += n[4]; absorbed += n[10]; ops++ }
    END { printf "==> fault injection: %d injection points over %d operations (%d returned as the injected Error, %d absorbed by design; %s)\n",
          points, ops, returned, absorbed, FILENAME }' "$build/hardening/fault-injection.summary"
fi

snapshot >"$after"
if ! diff -u "$before" "$after" >/dev/null; then
  echo "==> FAILED: the mount table of the namespace the tests were started in changed:"
  diff -u "$before" "$after" | sed -n '3,60p'
  status=1
else
  echo "==> mount table of the calling namespace unchanged ($(wc -l <"$before") mounts)"
fi
exit $status
